#include "yurt/base/result.hpp"

#include <gtest/gtest.h>

namespace yurt {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) {
    return Error(std::make_error_code(std::errc::invalid_argument), "must be positive");
  }
  return v;
}

TEST(Result, CarriesValueOrPreciseError) {
  EXPECT_EQ(parse_positive(3).value(), 3);
  auto r = parse_positive(-1);
  ASSERT_TRUE(r.has_error());
  EXPECT_EQ(r.error(), std::make_error_code(std::errc::invalid_argument));
  EXPECT_EQ(r.error().what(), "must be positive: Invalid argument");
  EXPECT_THROW((void)r.value(), ErrorException);
}

}  // namespace
}  // namespace yurt
