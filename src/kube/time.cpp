#include "yurt/kube/time.hpp"

#include <cstdio>

#include "src/kube/text.hpp"

namespace yurt::kube {
namespace {

using std::chrono::microseconds;

Error bad_time(std::string_view s, std::string_view why) {
  return fail(Errc::Malformed,
              "time " + text::quote(text::excerpt(s, 64)) + ": " + std::string(why));
}

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) noexcept {
  if (pos + n > s.size()) {
    return false;
  }
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

std::string format(Timestamp t, bool micro) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{day};
  const auto since_midnight = t - day;
  const auto h = std::chrono::duration_cast<std::chrono::hours>(since_midnight);
  const auto m = std::chrono::duration_cast<std::chrono::minutes>(since_midnight - h);
  const auto sec = std::chrono::duration_cast<std::chrono::seconds>(since_midnight - h - m);
  const auto us = since_midnight - h - m - sec;
  char buf[40];
  if (micro) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(h.count()), int(m.count()),
                  int(sec.count()), static_cast<long long>(us.count()));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(h.count()), int(m.count()),
                  int(sec.count()));
  }
  return buf;
}

}  // namespace

std::string format_rfc3339(Timestamp t) {
  return format(t, false);
}

std::string format_rfc3339_micro(Timestamp t) {
  return format(t, true);
}

Result<Timestamp> parse_rfc3339(std::string_view s) {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  // 2006-01-02T15:04:05
  if (!digits(s, 0, 4, year) || s.size() < 5 || s[4] != '-') {
    return bad_time(s, "expected a four-digit year and '-'");
  }
  if (!digits(s, 5, 2, month) || s.size() < 8 || s[7] != '-') {
    return bad_time(s, "expected a two-digit month and '-'");
  }
  if (!digits(s, 8, 2, day) || s.size() < 11 || s[10] != 'T') {
    return bad_time(s, "expected a two-digit day and 'T'");
  }
  if (!digits(s, 11, 2, hour) || s.size() < 14 || s[13] != ':') {
    return bad_time(s, "expected a two-digit hour and ':'");
  }
  if (!digits(s, 14, 2, minute) || s.size() < 17 || s[16] != ':') {
    return bad_time(s, "expected a two-digit minute and ':'");
  }
  if (!digits(s, 17, 2, second)) {
    return bad_time(s, "expected two-digit seconds");
  }
  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (month < 1 || month > 12) {
    return bad_time(s, "month out of range");
  }
  if (!ymd.ok()) {
    return bad_time(s, "day out of range");
  }
  if (hour > 23) {
    return bad_time(s, "hour out of range");
  }
  if (minute > 59) {
    return bad_time(s, "minute out of range");
  }
  if (second > 59) {  // Go rejects leap seconds too
    return bad_time(s, "second out of range");
  }
  std::size_t pos = 19;
  long long fraction_us = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) {
        fraction_us = fraction_us * 10 + (s[pos] - '0');
      }
      ++n;
      ++pos;
    }
    if (n == 0 || n > 9) {
      return bad_time(s, "expected 1 to 9 fractional digits after '.'");
    }
    for (std::size_t i = n; i < 6; ++i) {
      fraction_us *= 10;
    }
  }
  int offset_minutes = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos] == '-' ? -1 : 1;
    int oh = 0;
    int om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om)) {
      return bad_time(s, "expected a time zone offset as ±HH:MM");
    }
    if (oh > 23 || om > 59) {
      return bad_time(s, "time zone offset out of range");
    }
    offset_minutes = sign * (oh * 60 + om);
    pos += 6;
  } else {
    return bad_time(s, "expected 'Z' or a time zone offset");
  }
  if (pos != s.size()) {
    return bad_time(s, "unexpected bytes after the time");
  }
  const auto days = std::chrono::sys_days{ymd};
  return Timestamp{days} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
         std::chrono::seconds{second} + microseconds{fraction_us} -
         std::chrono::minutes{offset_minutes};
}

}  // namespace yurt::kube
