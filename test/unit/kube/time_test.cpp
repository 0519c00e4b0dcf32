#include "yurt/kube/time.hpp"

#include <gtest/gtest.h>

namespace yurt::kube {
namespace {

using namespace std::chrono;

Timestamp at(int y, unsigned mo, unsigned d, int h, int mi, int s, long long us = 0) {
  return Timestamp{sys_days{year{y} / month{mo} / day{d}}} + hours{h} + minutes{mi} + seconds{s} +
         microseconds{us};
}

TEST(Time, FormatsTimeAndMicroTime) {
  const auto t = at(2026, 11, 27, 5, 4, 49, 123456);
  EXPECT_EQ(format_rfc3339(t), "2026-11-27T05:04:49Z");
  EXPECT_EQ(format_rfc3339_micro(t), "2026-11-27T05:04:49.123456Z");
  EXPECT_EQ(format_rfc3339_micro(at(2026, 1, 2, 3, 4, 5)), "2026-01-02T03:04:05.000000Z");
  EXPECT_EQ(format_rfc3339(Timestamp{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_micro(at(1969, 12, 31, 23, 59, 59, 999999)),
            "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_rfc3339(at(1, 1, 1, 0, 0, 0)), "0001-01-01T00:00:00Z");
}

TEST(Time, ParsesRfc3339) {
  struct {
    const char* in;
    Timestamp want;
  } cases[] = {
      {"2026-11-27T05:04:49Z", at(2026, 11, 27, 5, 4, 49)},
      {"2026-11-27T05:04:49.123456Z", at(2026, 11, 27, 5, 4, 49, 123456)},
      {"2026-11-27T05:04:49.1Z", at(2026, 11, 27, 5, 4, 49, 100000)},
      {"2026-11-27T05:04:49.123456789Z", at(2026, 11, 27, 5, 4, 49, 123456)},
      {"2026-11-27T07:04:49+02:00", at(2026, 11, 27, 5, 4, 49)},
      {"2026-11-27T00:04:49.5-05:00", at(2026, 11, 27, 5, 4, 49, 500000)},
      {"2024-02-29T00:00:00Z", at(2024, 2, 29, 0, 0, 0)},
      {"0001-01-01T00:00:00Z", at(1, 1, 1, 0, 0, 0)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto t = parse_rfc3339(c.in);
    ASSERT_TRUE(t) << t.error().what();
    EXPECT_EQ(*t, c.want);
  }
  const auto t = at(2026, 7, 24, 10, 3, 12, 418221);
  EXPECT_EQ(parse_rfc3339(format_rfc3339_micro(t)).value(), t);
}

TEST(Time, RejectsBadTimes) {
  struct {
    const char* in;
    const char* message_part;
  } cases[] = {
      {"", "four-digit year"},
      {"2026", "four-digit year"},
      {"26-11-27T05:04:49Z", "four-digit year"},
      {"2026-1-27T05:04:49Z", "two-digit month"},
      {"2026-13-27T05:04:49Z", "month out of range"},
      {"2026-00-27T05:04:49Z", "month out of range"},
      {"2026-02-29T05:04:49Z", "day out of range"},
      {"2026-04-31T05:04:49Z", "day out of range"},
      {"2026-11-27 05:04:49Z", "'T'"},
      {"2026-11-27T24:04:49Z", "hour out of range"},
      {"2026-11-27T05:60:49Z", "minute out of range"},
      {"2026-11-27T05:04:60Z", "second out of range"},
      {"2026-11-27T05:04:49", "expected 'Z' or a time zone offset"},
      {"2026-11-27T05:04:49.Z", "fractional digits"},
      {"2026-11-27T05:04:49.1234567890Z", "fractional digits"},
      {"2026-11-27T05:04:49+0200", "±HH:MM"},
      {"2026-11-27T05:04:49+24:00", "offset out of range"},
      {"2026-11-27T05:04:49Zjunk", "unexpected bytes"},
      {"2026-11-27T05:04:4", "two-digit seconds"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto t = parse_rfc3339(c.in);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error(), make_error_code(Errc::Malformed));
    EXPECT_NE(t.error().message().find(c.message_part), std::string::npos) << t.error().message();
  }
}

}  // namespace
}  // namespace yurt::kube
