#include "yurt/certs/pem.hpp"

#include <gtest/gtest.h>

#include "yurt/certs/x509.hpp"

#include "test/unit/certs/test_util.hpp"

namespace yurt::certs {
namespace {

using testing::fails_with;

TEST(Pem, EncodeParseRoundTrip) {
  std::string der(200, '\0');
  for (std::size_t i = 0; i < der.size(); ++i) {
    der[i] = static_cast<char>(i * 7);
  }
  const std::string text = pem_encode("CERTIFICATE", der) + "\n" + pem_encode("PRIVATE KEY", "k");
  auto blocks = parse_pem(text);
  ASSERT_TRUE(blocks) << blocks.error().what();
  ASSERT_EQ(blocks->size(), 2U);
  EXPECT_EQ((*blocks)[0].type, "CERTIFICATE");
  EXPECT_EQ((*blocks)[0].der, der);
  EXPECT_EQ((*blocks)[0].line, 1);
  EXPECT_EQ((*blocks)[1].type, "PRIVATE KEY");
  EXPECT_EQ((*blocks)[1].der, "k");
  EXPECT_FALSE((*blocks)[1].has_headers);
}

TEST(Pem, LinesAreAtMost64Characters) {
  const std::string text = pem_encode("X", std::string(100, 'a'));
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    const auto line = text.substr(start, end - start);
    if (!line.starts_with("-----")) {
      EXPECT_LE(line.size(), 64U);
    }
    start = end + 1;
  }
}

TEST(Pem, AcceptsCrlfAndSurroundingWhitespace) {
  std::string text = "\r\n  " + pem_encode("CERTIFICATE", "abc") + "\n\n";
  std::string crlf;
  for (char c : text) {
    if (c == '\n') {
      crlf += '\r';
    }
    crlf += c;
  }
  auto blocks = parse_pem(crlf);
  ASSERT_TRUE(blocks) << blocks.error().what();
  ASSERT_EQ(blocks->size(), 1U);
  EXPECT_EQ(blocks->front().der, "abc");
}

TEST(Pem, EmptyTextHasNoBlocks) {
  auto blocks = parse_pem(" \n\n");
  ASSERT_TRUE(blocks);
  EXPECT_TRUE(blocks->empty());
}

TEST(Pem, RejectsGarbage) {
  EXPECT_TRUE(fails_with(parse_pem("hello world"), Errc::Malformed, "line 1: text outside"));
  EXPECT_TRUE(fails_with(parse_pem(std::string("\0\1\2", 3)), Errc::Malformed, "line 1"));
}

TEST(Pem, RejectsJunkAppendedOrPrepended) {
  const std::string block = pem_encode("CERTIFICATE", "abc");
  EXPECT_TRUE(fails_with(parse_pem(block + "ABC\n"), Errc::Malformed, "line 4: text outside"));
  EXPECT_TRUE(fails_with(parse_pem("subject=CN = x\n" + block), Errc::Malformed, "line 1"));
}

TEST(Pem, RejectsTruncatedBlock) {
  const std::string block = pem_encode("CERTIFICATE", std::string(300, 'x'));
  const std::string truncated = block.substr(0, block.size() / 2);
  EXPECT_TRUE(fails_with(parse_pem(truncated), Errc::Malformed, "has no END line (truncated?)"));
  // Cut inside the END marker.
  EXPECT_TRUE(fails_with(parse_pem(block.substr(0, block.size() - 8)), Errc::Malformed));
  // A second BEGIN before the first END.
  EXPECT_TRUE(fails_with(parse_pem(truncated + "\n" + block), Errc::Malformed,
                         "has no END line before the BEGIN"));
}

TEST(Pem, RejectsMismatchedEnd) {
  EXPECT_TRUE(fails_with(parse_pem("-----BEGIN A-----\nYWJj\n-----END B-----\n"), Errc::Malformed,
                         "ends with END \"B\""));
}

TEST(Pem, RejectsBadBodies) {
  EXPECT_TRUE(
      fails_with(parse_pem("-----BEGIN A-----\n-----END A-----\n"), Errc::Malformed, "is empty"));
  EXPECT_TRUE(fails_with(parse_pem("-----BEGIN A-----\nYW*j\n-----END A-----\n"), Errc::Malformed,
                         "illegal character"));
  EXPECT_TRUE(fails_with(parse_pem("-----BEGIN A-----\nYWJ\n-----END A-----\n"), Errc::Malformed));
  EXPECT_TRUE(fails_with(parse_pem("-----BEGIN -----\nYWJj\n-----END -----\n"), Errc::Malformed,
                         "malformed BEGIN"));
}

TEST(Pem, RecordsHeaders) {
  auto blocks = parse_pem(
      "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"
      "YWJj\n-----END RSA PRIVATE KEY-----\n");
  ASSERT_TRUE(blocks) << blocks.error().what();
  EXPECT_TRUE(blocks->front().has_headers);
  EXPECT_EQ(blocks->front().der, "abc");
}

TEST(Usage, NamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(Usage::NetscapeSgc); ++i) {
    const auto u = static_cast<Usage>(i);
    auto parsed = parse_usage(to_string(u));
    ASSERT_TRUE(parsed) << to_string(u);
    EXPECT_EQ(*parsed, u);
  }
  EXPECT_EQ(to_string(Usage::ClientAuth), "client auth");
  EXPECT_EQ(to_string(Usage::CertSign), "cert sign");
  EXPECT_TRUE(is_key_usage(Usage::KeyEncipherment));
  EXPECT_FALSE(is_key_usage(Usage::ServerAuth));
  EXPECT_EQ(*parse_usage("signing"), Usage::DigitalSignature);
  EXPECT_EQ(*parse_usage("s/mime"), Usage::EmailProtection);
  EXPECT_TRUE(fails_with(parse_usage("Client Auth"), Errc::Malformed, "\"Client Auth\""));
}

TEST(DistinguishedName, StrEscapesSpecialCharacters) {
  DistinguishedName dn;
  dn.attributes = {{"O", "a,b"}, {"CN", " #x+y "}};
  EXPECT_EQ(dn.str(), "O=a\\,b, CN=\\ #x\\+y\\ ");
  dn.attributes = {{"CN", "#lead"}};
  EXPECT_EQ(dn.str(), "CN=\\#lead");
  dn.attributes = {{"CN", std::string("a\0b\n", 4)}};
  EXPECT_EQ(dn.str(), "CN=a\\00b\\0A");
}

}  // namespace
}  // namespace yurt::certs
