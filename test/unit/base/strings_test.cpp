#include "yurt/base/strings.hpp"

#include <chrono>
#include <limits>
#include <ostream>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

namespace yurt {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

TEST(Split, KeepsEmptyFields) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(split("a,b,c", ','), (V{"a", "b", "c"}));
  EXPECT_EQ(split("a,,b,", ','), (V{"a", "", "b", ""}));
  EXPECT_EQ(split("", ','), (V{""}));
  EXPECT_EQ(split("abc", ','), (V{"abc"}));
}

TEST(Trim, AsciiWhitespaceOnly) {
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim("x"), "x");
}

TEST(Iequals, AsciiCaseInsensitive) {
  EXPECT_TRUE(iequals("Content-Type", "content-type"));
  EXPECT_TRUE(iequals("TRUE", "true"));
  EXPECT_FALSE(iequals("true", "tru"));
  EXPECT_FALSE(iequals("a", "b"));
  EXPECT_TRUE(iequals("", ""));
}

TEST(Quote, EscapesAndTruncates) {
  EXPECT_EQ(quote("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(quote(std::string("x\n\0y", 4)), R"("x\n\x00y")");
  EXPECT_EQ(quote("abcdef", 3), "\"abc\"…");
}

struct Good {
  const char* in;
  nanoseconds want;
};

// Readable parameter names in test output and ctest.
void PrintTo(const Good& g, std::ostream* os) {
  *os << quote(g.in);
}

class ParseDurationGood : public ::testing::TestWithParam<Good> {};

TEST_P(ParseDurationGood, Parses) {
  auto r = parse_duration(GetParam().in);
  ASSERT_TRUE(r) << GetParam().in << ": " << r.error().what();
  EXPECT_EQ(r->count(), GetParam().want.count()) << GetParam().in;
}

constexpr auto kMax = nanoseconds(std::numeric_limits<std::int64_t>::max());
constexpr auto kMin = nanoseconds(std::numeric_limits<std::int64_t>::min());

INSTANTIATE_TEST_SUITE_P(
    GoSyntax,
    ParseDurationGood,
    ::testing::Values(Good{"0", 0ns},
                      Good{"-0", 0ns},
                      Good{"+0", 0ns},
                      Good{"30s", 30s},
                      Good{"1h30m10s", 1h + 30min + 10s},
                      Good{"-90s", -90s},
                      Good{"+2m", 2min},
                      Good{"0s", 0ns},
                      Good{"1.5h", 90min},
                      Good{"2.s", 2s},
                      Good{".25s", 250ms},
                      Good{"1.000000001s", 1s + 1ns},
                      Good{"7ns", 7ns},
                      Good{"8us", 8us},
                      Good{"9\xC2\xB5s", 9us},  // micro sign
                      Good{"9\xCE\xBCs", 9us},  // Greek mu
                      Good{"10ms", 10ms},
                      Good{"3m1.5s", 3min + 1500ms},
                      Good{"1.5s2m", 2min + 1500ms},  // order is free, as in Go
                      Good{"2h2h", 4h},
                      Good{"1h1m1s1ms1us1ns", 1h + 1min + 1s + 1ms + 1us + 1ns},
                      Good{"0.3333333333333333333h", 20min - 1ns},  // truncated, not rounded
                      Good{"0.1000000000000000000000001h", 6min},   // digits past 19 ignored
                      Good{"720h", 720h},
                      Good{"9223372036854775807ns", kMax},
                      Good{"2562047h47m16.854775807s", kMax},
                      Good{"-9223372036854775808ns", kMin},
                      Good{"-2562047h47m16.854775808s", kMin}));

struct Bad {
  const char* in;
  std::errc code;
  const char* message;
};

void PrintTo(const Bad& b, std::ostream* os) {
  *os << quote(b.in);
}

class ParseDurationBad : public ::testing::TestWithParam<Bad> {};

TEST_P(ParseDurationBad, FailsWithPreciseMessage) {
  auto r = parse_duration(GetParam().in);
  ASSERT_FALSE(r) << GetParam().in << " parsed as " << r->count() << "ns";
  EXPECT_EQ(r.error().code(), GetParam().code) << GetParam().in;
  EXPECT_EQ(r.error().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    GoSyntax,
    ParseDurationBad,
    ::testing::Values(
        Bad{"", std::errc::invalid_argument, R"(invalid duration "")"},
        Bad{"-", std::errc::invalid_argument, R"(invalid duration "-")"},
        Bad{"s", std::errc::invalid_argument, R"(invalid duration "s")"},
        Bad{".", std::errc::invalid_argument, R"(invalid duration ".")"},
        Bad{"-.s", std::errc::invalid_argument, R"(invalid duration "-.s")"},
        Bad{"--1s", std::errc::invalid_argument, R"(invalid duration "--1s")"},
        Bad{"1h-1m", std::errc::invalid_argument, R"(unknown unit "h-" in duration "1h-1m")"},
        Bad{"00", std::errc::invalid_argument, R"(missing unit in duration "00")"},
        Bad{"30", std::errc::invalid_argument, R"(missing unit in duration "30")"},
        Bad{"1.5", std::errc::invalid_argument, R"(missing unit in duration "1.5")"},
        Bad{"1.1.1s", std::errc::invalid_argument, R"(missing unit in duration "1.1.1s")"},
        Bad{"3d", std::errc::invalid_argument, R"(unknown unit "d" in duration "3d")"},
        Bad{"1H", std::errc::invalid_argument, R"(unknown unit "H" in duration "1H")"},
        Bad{"1h 30m", std::errc::invalid_argument, R"(unknown unit "h " in duration "1h 30m")"},
        Bad{" 1h", std::errc::invalid_argument, R"(invalid duration " 1h")"},
        Bad{"9223372036854775808ns", std::errc::result_out_of_range,
            R"(duration "9223372036854775808ns" is out of range (at most 2562047h47m16.854775807s))"},
        Bad{"2562048h", std::errc::result_out_of_range,
            R"(duration "2562048h" is out of range (at most 2562047h47m16.854775807s))"},
        Bad{"2562047h48m", std::errc::result_out_of_range,
            R"(duration "2562047h48m" is out of range (at most 2562047h47m16.854775807s))"},
        Bad{"99999999999999999999999s", std::errc::result_out_of_range,
            R"(duration "99999999999999999999999s" is out of range (at most 2562047h47m16.854775807s))"}));

TEST(ParseDuration, HostileInputIsQuotedAndCut) {
  const std::string junk = std::string(1000, 'x') + "\n";
  auto r = parse_duration(junk);
  ASSERT_FALSE(r);
  EXPECT_LT(r.error().message().size(), 200U);
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
}

TEST(FormatDuration, MatchesGo) {
  EXPECT_EQ(format_duration(0ns), "0s");
  EXPECT_EQ(format_duration(1ns), "1ns");
  EXPECT_EQ(format_duration(1100ns), "1.1\xC2\xB5s");
  EXPECT_EQ(format_duration(2200us), "2.2ms");
  EXPECT_EQ(format_duration(3300ms), "3.3s");
  EXPECT_EQ(format_duration(4min + 5s), "4m5s");
  EXPECT_EQ(format_duration(4min + 5001ms), "4m5.001s");
  EXPECT_EQ(format_duration(5h + 6min + 7001ms), "5h6m7.001s");
  EXPECT_EQ(format_duration(8min + 1ns), "8m0.000000001s");
  EXPECT_EQ(format_duration(1h), "1h0m0s");
  EXPECT_EQ(format_duration(-90s), "-1m30s");
  EXPECT_EQ(format_duration(kMax), "2562047h47m16.854775807s");
  EXPECT_EQ(format_duration(kMin), "-2562047h47m16.854775808s");
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (const nanoseconds d : std::initializer_list<nanoseconds>{
           0ns, 1ns, 999ns, 1us, 1500us, 1s, 61s, 3601s + 1ns, -7h, kMax, kMin}) {
    auto back = parse_duration(format_duration(d));
    ASSERT_TRUE(back) << format_duration(d);
    EXPECT_EQ(*back, d) << format_duration(d);
  }
}

}  // namespace
}  // namespace yurt
