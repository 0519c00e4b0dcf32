#include "yurt/base/log.hpp"

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace yurt {
namespace {

class JsonLog : public ::testing::Test {
 protected:
  void TearDown() override { log::setup(log::Format::Text, 0); }
};

TEST_F(JsonLog, MessageIsEscapedIntoValidJson) {
  log::setup(log::Format::Json, 0);
  const std::string hostile = "quote\" backslash\\ newline\n tab\t ctl\x01 caf\xC3\xA9 bad\xFF end";
  ::testing::internal::CaptureStderr();
  log::get("logtest").info("{}", hostile);
  log::get("logtest").flush();
  const std::string out = ::testing::internal::GetCapturedStderr();

  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line per record: " << out;
  const auto line = nlohmann::json::parse(out);  // throws (fails the test) on invalid JSON
  EXPECT_EQ(line.at("logger"), "logtest");
  EXPECT_EQ(line.at("level"), "info");
  EXPECT_EQ(line.at("msg").get<std::string>(),
            "quote\" backslash\\ newline\n tab\t ctl\x01 caf\xC3\xA9 bad\xEF\xBF\xBD end");
}

TEST_F(JsonLog, VerbosityGate) {
  log::setup(log::Format::Json, 4);
  EXPECT_TRUE(log::enabled(4));
  EXPECT_FALSE(log::enabled(5));
  log::setup(log::Format::Text, 0);
  EXPECT_FALSE(log::enabled(1));
}

}  // namespace
}  // namespace yurt
