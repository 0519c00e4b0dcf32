#include "yurt/base/strings.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <system_error>
#include <utility>

namespace yurt {
namespace {

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

Error invalid(std::string message) {
  return Error(std::make_error_code(std::errc::invalid_argument), std::move(message));
}

struct Unit {
  std::string_view name;
  std::uint64_t nanos;
};

// "µs" is U+00B5 (micro sign), "μs" U+03BC (Greek mu); Go accepts both.
constexpr std::array<Unit, 8> kUnits{{
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},
    {"\xCE\xBCs", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

// 2^63: the magnitude of the most negative int64, the largest magnitude we accept.
constexpr std::uint64_t kMaxMagnitude = std::uint64_t{1} << 63U;

__extension__ using Uint128 = unsigned __int128;  // for exact fraction·unit products

}  // namespace

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) {
      return out;
    }
    s.remove_prefix(pos + 1);
  }
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) {
      return false;
    }
  }
  return true;
}

std::string quote(std::string_view s, std::size_t max_chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  const bool cut = s.size() > max_chars;
  for (const char c : s.substr(0, max_chars)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4U];
      out += kHex[u & 0xfU];
    } else {
      out += c;  // UTF-8 passes through
    }
  }
  out += cut ? "\"…" : "\"";
  return out;
}

Result<std::chrono::nanoseconds> parse_duration(std::string_view s) {
  const std::string_view orig = s;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    return std::chrono::nanoseconds::zero();
  }
  if (s.empty()) {
    return invalid("invalid duration " + quote(orig));
  }
  auto out_of_range = [&] {
    return Error(std::make_error_code(std::errc::result_out_of_range),
                 "duration " + quote(orig) + " is out of range (at most 2562047h47m16.854775807s)");
  };

  std::uint64_t total = 0;
  while (!s.empty()) {
    if (s.front() != '.' && !is_digit(s.front())) {
      return invalid("invalid duration " + quote(orig));
    }
    // Integer part.
    std::uint64_t whole = 0;
    bool has_whole = false;
    while (!s.empty() && is_digit(s.front())) {
      const auto digit = static_cast<std::uint64_t>(s.front() - '0');
      if (whole > (kMaxMagnitude - digit) / 10) {
        return out_of_range();
      }
      whole = whole * 10 + digit;
      has_whole = true;
      s.remove_prefix(1);
    }
    // Fraction: keep 19 digits (10^19 < 2^64); later digits weigh less than 1e-19 of a unit,
    // under a nanosecond even for hours.
    std::uint64_t frac = 0;
    std::uint64_t scale = 1;
    bool has_frac = false;
    if (!s.empty() && s.front() == '.') {
      s.remove_prefix(1);
      int kept = 0;
      while (!s.empty() && is_digit(s.front())) {
        if (kept < 19) {
          frac = frac * 10 + static_cast<std::uint64_t>(s.front() - '0');
          scale *= 10;
          ++kept;
        }
        has_frac = true;
        s.remove_prefix(1);
      }
    }
    if (!has_whole && !has_frac) {
      return invalid("invalid duration " + quote(orig));  // "." or ".s"
    }
    // Unit: everything up to the next number.
    std::size_t n = 0;
    while (n < s.size() && s[n] != '.' && !is_digit(s[n])) {
      ++n;
    }
    if (n == 0) {
      return invalid("missing unit in duration " + quote(orig));
    }
    const auto name = s.substr(0, n);
    s.remove_prefix(n);
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (u.name == name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) {
      return invalid("unknown unit " + quote(name) + " in duration " + quote(orig));
    }
    if (whole > kMaxMagnitude / unit->nanos) {
      return out_of_range();
    }
    std::uint64_t value = whole * unit->nanos;
    value += static_cast<std::uint64_t>(Uint128{frac} * unit->nanos / scale);
    if (value > kMaxMagnitude || total > kMaxMagnitude - value) {
      return out_of_range();
    }
    total += value;
  }
  if (negative) {
    // -2^63 is representable; compute in unsigned to avoid overflowing on the way.
    return std::chrono::nanoseconds(static_cast<std::int64_t>(0 - total));
  }
  if (total > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return out_of_range();
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(std::chrono::nanoseconds d) {
  const std::int64_t count = d.count();
  if (count == 0) {
    return "0s";
  }
  // Magnitude in unsigned: negating INT64_MIN as a signed value would overflow.
  std::uint64_t v =
      count < 0 ? 0 - static_cast<std::uint64_t>(count) : static_cast<std::uint64_t>(count);
  // Splits off `digits` fractional digits of v and returns ".ddd" without trailing zeros.
  auto take_fraction = [&v](int digits) {
    std::string frac;
    bool significant = false;
    for (int i = 0; i < digits; ++i) {
      const auto digit = static_cast<char>('0' + v % 10);
      significant = significant || digit != '0';
      if (significant) {
        frac.insert(frac.begin(), digit);
      }
      v /= 10;
    }
    return frac.empty() ? frac : "." + frac;
  };

  std::string out;
  if (v < 1'000'000'000) {
    // Below a second: the largest unit that keeps an integer part, as Go does.
    if (v < 1'000) {
      out = std::to_string(v) + "ns";
    } else if (v < 1'000'000) {
      auto frac = take_fraction(3);
      out = std::to_string(v) + frac + "\xC2\xB5s";
    } else {
      auto frac = take_fraction(6);
      out = std::to_string(v) + frac + "ms";
    }
  } else {
    auto frac = take_fraction(9);
    out = std::to_string(v % 60) + frac + "s";
    v /= 60;
    if (v > 0) {
      out = std::to_string(v % 60) + "m" + out;
      v /= 60;
      if (v > 0) {
        out = std::to_string(v) + "h" + out;
      }
    }
  }
  return count < 0 ? "-" + out : out;
}

}  // namespace yurt
