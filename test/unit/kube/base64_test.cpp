#include "yurt/kube/base64.hpp"

#include <gtest/gtest.h>

namespace yurt::kube {
namespace {

TEST(Base64, Rfc4648Vectors) {
  struct {
    const char* plain;
    const char* encoded;
  } cases[] = {{"", ""},
               {"f", "Zg=="},
               {"fo", "Zm8="},
               {"foo", "Zm9v"},
               {"foob", "Zm9vYg=="},
               {"fooba", "Zm9vYmE="},
               {"foobar", "Zm9vYmFy"}};
  for (const auto& c : cases) {
    EXPECT_EQ(base64_encode(c.plain), c.encoded);
    EXPECT_EQ(base64_decode(c.encoded).value(), c.plain);
  }
  const std::string binary("\x00\xff\x10\x80\x7f", 5);
  EXPECT_EQ(base64_decode(base64_encode(binary)).value(), binary);
}

TEST(Base64, NewlinesAreSkippedLikeGo) {
  EXPECT_EQ(base64_decode("Zm9v\nYmFy\r\n").value(), "foobar");
  EXPECT_EQ(base64_decode("Zm\n9v").value(), "foo");
}

TEST(Base64, BadInput) {
  struct {
    const char* in;
    const char* message_part;
  } cases[] = {
      {"Zm9", "missing padding"},
      {"Zg=", "incomplete padding"},
      {"Zg", "missing padding"},
      {"Z===", "misplaced padding"},
      {"=", "misplaced padding"},
      {"Zg==Zg==", "data after padding"},
      {"Zg===", "too much padding"},
      {"Zm9v!", "illegal character at offset 4"},
      {"Zm 9v", "illegal character at offset 2"},
      {"Zm9v-_", "illegal character"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto r = base64_decode(c.in);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(Errc::Malformed));
    EXPECT_NE(r.error().message().find(c.message_part), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace yurt::kube
