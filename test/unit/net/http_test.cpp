#include "yurt/net/http.hpp"

#include <gtest/gtest.h>

#include "yurt/net/errc.hpp"

#include "src/net/wire.hpp"

namespace yurt::net {
namespace {

TEST(Headers, LookupIgnoresCaseAndKeepsRepeats) {
  Headers h;
  h.add("Content-Type", "application/json");
  h.add("Impersonate-Group", "a");
  h.add("impersonate-group", "b");
  EXPECT_EQ(h.get("content-type"), "application/json");
  EXPECT_TRUE(h.contains("IMPERSONATE-GROUP"));
  EXPECT_EQ(h.get_all("Impersonate-Group"), (std::vector<std::string_view>{"a", "b"}));
  EXPECT_EQ(h.get("Missing"), "");
  EXPECT_FALSE(h.contains("Missing"));
}

TEST(Headers, SetReplacesEveryRepeatAndEraseCounts) {
  Headers h;
  h.add("Accept", "a");
  h.add("ACCEPT", "b");
  h.add("Host", "x");
  h.set("accept", "c");
  EXPECT_EQ(h.get_all("Accept"), (std::vector<std::string_view>{"c"}));
  EXPECT_EQ(h.erase("HOST"), 1U);
  EXPECT_EQ(h.erase("Host"), 0U);
  EXPECT_EQ(h.size(), 1U);
}

TEST(Headers, HasTokenFindsListMembers) {
  EXPECT_TRUE(has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(has_token("close", "Close"));
  EXPECT_FALSE(has_token("keep-alive,upgraded", "upgrade"));
  EXPECT_FALSE(has_token("", "close"));
}

TEST(Wire, RequestHeadSerializesFieldsVerbatim) {
  Headers h;
  h.add("Host", "10.0.0.1:6443");
  h.add("X-Weird-Case", "v a l");
  auto head = wire::request_head("GET", "/api/v1/pods?watch=1", 11, h);
  ASSERT_TRUE(head) << head.error().what();
  EXPECT_EQ(
      *head,
      "GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: 10.0.0.1:6443\r\nX-Weird-Case: v a l\r\n\r\n");
}

TEST(Wire, RejectsHeaderInjection) {
  Headers h;
  h.add("X-Evil", "a\r\nInjected: yes");
  auto head = wire::request_head("GET", "/", 11, h);
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error().code(), make_error_code(Errc::InvalidArgument));

  Headers bad_name;
  bad_name.add("Bad Name", "v");
  EXPECT_FALSE(wire::response_head(200, "", 11, bad_name));
  EXPECT_FALSE(wire::request_head("GET", "/with space", 11, Headers{}));
  EXPECT_FALSE(wire::request_head("G(T", "/", 11, Headers{}));
  EXPECT_FALSE(wire::response_head(200, "OK\r\n", 11, Headers{}));
  EXPECT_FALSE(wire::response_head(42, "", 11, Headers{}));
}

TEST(Wire, ResponseHeadUsesStandardReasonUnlessGiven) {
  auto head = wire::response_head(404, "", 11, Headers{});
  ASSERT_TRUE(head);
  EXPECT_EQ(*head, "HTTP/1.1 404 Not Found\r\n\r\n");
  auto connect = wire::response_head(200, "Connection established", 11, Headers{});
  ASSERT_TRUE(connect);
  EXPECT_EQ(*connect, "HTTP/1.1 200 Connection established\r\n\r\n");
}

TEST(Wire, ChunkHeaderIsLowercaseHex) {
  EXPECT_EQ(wire::chunk_header(0), "0\r\n");
  EXPECT_EQ(wire::chunk_header(255), "ff\r\n");
  EXPECT_EQ(wire::chunk_header(65536), "10000\r\n");
}

TEST(Wire, ContentLengthParsing) {
  std::uint64_t v = 0;
  EXPECT_TRUE(wire::parse_content_length(" 42 ", v));
  EXPECT_EQ(v, 42U);
  EXPECT_FALSE(wire::parse_content_length("-1", v));
  EXPECT_FALSE(wire::parse_content_length("1,2", v));
  EXPECT_FALSE(wire::parse_content_length("99999999999999999999", v));
  EXPECT_FALSE(wire::parse_content_length("", v));
}

TEST(Wire, BodylessResponses) {
  EXPECT_FALSE(wire::response_has_body(204, "GET"));
  EXPECT_FALSE(wire::response_has_body(304, "GET"));
  EXPECT_FALSE(wire::response_has_body(101, "GET"));
  EXPECT_FALSE(wire::response_has_body(200, "HEAD"));
  EXPECT_TRUE(wire::response_has_body(200, "GET"));
}

TEST(Errc, MessagesAreReadable) {
  EXPECT_EQ(make_error_code(Errc::Truncated).message(),
            "connection closed before the message was complete");
  EXPECT_STREQ(make_error_code(Errc::Timeout).category().name(), "yurt.net");
}

}  // namespace
}  // namespace yurt::net
