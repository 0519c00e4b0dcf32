#include "yurt/certs/csr.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "yurt/certs/pem.hpp"

#include "test/unit/certs/test_util.hpp"

namespace yurt::certs {
namespace {

using testing::fails_with;
using testing::Forge;
using testing::forge_csr;
using testing::forge_csr_der;
using testing::must;
using testing::test_key;

CsrOptions node_client() {
  return {{"system:node:edge-1", {"openyurt:yurthub", "system:nodes"}},
          {"edge-1.example", "edge-1"},
          {"10.0.0.7", "fd00:0::1"}};
}

TEST(Csr, RoundTripsSubjectSansAndKey) {
  const std::string pem = must(create_csr(test_key(), node_client()));
  EXPECT_TRUE(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
  const CertificateRequest req = must(parse_csr(pem));
  EXPECT_EQ(req.subject.common_name, "system:node:edge-1");
  EXPECT_EQ(req.subject.organizations,
            (std::vector<std::string>{"openyurt:yurthub", "system:nodes"}));
  // Go's order, which client-go sends: O before CN.
  ASSERT_EQ(req.subject.attributes.size(), 3U);
  EXPECT_EQ(req.subject.attributes[0], (NameAttribute{"O", "openyurt:yurthub"}));
  EXPECT_EQ(req.subject.attributes[2], (NameAttribute{"CN", "system:node:edge-1"}));
  EXPECT_EQ(req.subject.str(), "O=openyurt:yurthub, O=system:nodes, CN=system:node:edge-1");
  EXPECT_EQ(req.extensions.sans.dns_names, (std::vector<std::string>{"edge-1.example", "edge-1"}));
  EXPECT_EQ(req.extensions.sans.ip_addresses, (std::vector<std::string>{"10.0.0.7", "fd00::1"}));
  EXPECT_TRUE(req.extensions.sans.emails.empty());
  EXPECT_EQ(req.public_key.type, KeyType::Ecdsa);
  EXPECT_EQ(req.public_key.curve, "P-256");
  EXPECT_EQ(req.public_key.spki_der, test_key().public_key_der());
  EXPECT_EQ(req.signature_algorithm, "ecdsa-with-SHA256");
  ASSERT_EQ(req.extensions.all.size(), 1U);
  EXPECT_EQ(req.extensions.all[0].name, "subjectAltName");
  EXPECT_EQ(req.extensions.all[0].oid, "2.5.29.17");
  EXPECT_FALSE(req.extensions.all[0].critical);
  EXPECT_FALSE(req.extensions.is_ca());
  EXPECT_FALSE(req.extensions.basic_constraints);
  EXPECT_FALSE(req.extensions.key_usage);
  EXPECT_FALSE(req.extensions.ext_key_usage);
  EXPECT_TRUE(req.other_attributes.empty());
  EXPECT_EQ(parse_pem(pem)->front().der, req.der);
}

TEST(Csr, HashFollowsTheKey) {
  EXPECT_EQ(must(parse_csr(must(create_csr(test_key(KeyAlgorithm::EcdsaP384), node_client()))))
                .signature_algorithm,
            "ecdsa-with-SHA384");
  const auto rsa =
      must(parse_csr(must(create_csr(test_key(KeyAlgorithm::Rsa2048), node_client()))));
  EXPECT_EQ(rsa.signature_algorithm, "sha256WithRSAEncryption");
  EXPECT_EQ(rsa.public_key.describe(), "RSA 2048");
}

TEST(Csr, WithoutSubjectTheSansAreCritical) {
  const auto req = must(parse_csr(must(create_csr(test_key(), {{}, {"a.example"}, {}}))));
  EXPECT_TRUE(req.subject.attributes.empty());
  ASSERT_EQ(req.extensions.all.size(), 1U);
  EXPECT_TRUE(req.extensions.all[0].critical);
}

TEST(Csr, WithoutSansThereIsNoExtensionRequest) {
  const auto req = must(parse_csr(
      must(create_csr(test_key(), {{"tunnel-agent-client", {"openyurt:yurttunnel"}}, {}, {}}))));
  EXPECT_TRUE(req.extensions.all.empty());
  EXPECT_TRUE(req.extensions.sans.empty());
}

TEST(Csr, RejectsUnusableOptions) {
  EXPECT_TRUE(fails_with(create_csr(test_key(), {}), Errc::InvalidArgument, "common name"));
  EXPECT_TRUE(fails_with(create_csr(test_key(), {{"a", {}}, {}, {"10.0.0.256"}}),
                         Errc::InvalidArgument, "\"10.0.0.256\""));
  EXPECT_TRUE(fails_with(create_csr(test_key(), {{"a", {}}, {"bad name"}, {}}),
                         Errc::InvalidArgument, "DNS name"));
  EXPECT_TRUE(fails_with(create_csr(test_key(), {{"a\nb", {}}, {}, {}}), Errc::InvalidArgument,
                         "control characters"));
  EXPECT_TRUE(fails_with(create_csr(test_key(), {{"a", {""}}, {}, {}}), Errc::InvalidArgument,
                         "organization"));
}

TEST(Csr, DetectsCaRequestsAndUsages) {
  Forge f;
  f.subject = {{"CN", "tunnel-proxy-client"}, {"O", "openyurt:yurttunnel"}};
  f.extensions = {
      {NID_basic_constraints, "critical,CA:TRUE,pathlen:1"},
      {NID_key_usage, "critical,keyCertSign,digitalSignature"},
      {NID_ext_key_usage, "serverAuth,clientAuth,1.2.3.4"},
      {NID_subject_alt_name, "DNS:a.example,IP:127.0.0.1,email:x@y.example,URI:spiffe://t/a"}};
  const auto req = must(parse_csr(forge_csr(test_key(), f)));
  EXPECT_TRUE(req.extensions.is_ca());
  ASSERT_TRUE(req.extensions.basic_constraints);
  EXPECT_TRUE(req.extensions.basic_constraints->critical);
  EXPECT_EQ(req.extensions.basic_constraints->path_len, 1);
  ASSERT_TRUE(req.extensions.key_usage);
  EXPECT_EQ(*req.extensions.key_usage,
            (std::vector<Usage>{Usage::DigitalSignature, Usage::CertSign}));
  ASSERT_TRUE(req.extensions.ext_key_usage);
  EXPECT_EQ(*req.extensions.ext_key_usage,
            (std::vector<Usage>{Usage::ServerAuth, Usage::ClientAuth}));
  EXPECT_EQ(req.extensions.other_ext_key_usages, (std::vector<std::string>{"1.2.3.4"}));
  EXPECT_EQ(req.extensions.sans.emails, (std::vector<std::string>{"x@y.example"}));
  EXPECT_EQ(req.extensions.sans.uris, (std::vector<std::string>{"spiffe://t/a"}));
  EXPECT_TRUE(req.extensions.has("basicConstraints"));
  EXPECT_TRUE(req.extensions.has("2.5.29.15"));
  EXPECT_FALSE(req.extensions.has("nameConstraints"));
  EXPECT_EQ(req.extensions.all.size(), 4U);
}

TEST(Csr, CaFalseIsNotCa) {
  Forge f;
  f.subject = {{"CN", "x"}};
  f.extensions = {{NID_basic_constraints, "CA:FALSE"}};
  const auto req = must(parse_csr(forge_csr(test_key(), f)));
  ASSERT_TRUE(req.extensions.basic_constraints);
  EXPECT_FALSE(req.extensions.is_ca());
}

TEST(Csr, ReportsOtherNameFormsAndAttributes) {
  Forge f;
  f.subject = {{"CN", "x"}, {"OU", "ops"}};
  f.extensions = {{NID_subject_alt_name, "otherName:1.2.3.4;UTF8:hello,DNS:x.example"}};
  f.challenge_password = true;
  const auto req = must(parse_csr(forge_csr(test_key(), f)));
  EXPECT_EQ(req.extensions.sans.others, (std::vector<std::string>{"otherName"}));
  EXPECT_EQ(req.extensions.sans.dns_names, (std::vector<std::string>{"x.example"}));
  EXPECT_EQ(req.other_attributes, (std::vector<std::string>{"challengePassword"}));
  EXPECT_EQ(req.subject.attributes[1], (NameAttribute{"OU", "ops"}));
}

TEST(Csr, RejectsDuplicateExtensions) {
  Forge f;
  f.subject = {{"CN", "x"}};
  f.extensions = {{NID_subject_alt_name, "DNS:a.example"}, {NID_subject_alt_name, "DNS:b.example"}};
  EXPECT_TRUE(fails_with(parse_csr(forge_csr(test_key(), f)), Errc::Malformed,
                         "extension subjectAltName appears more than once"));
}

TEST(Csr, RejectsBadNames) {
  Forge two_cns;
  two_cns.subject = {{"CN", "a"}, {"CN", "b"}};
  EXPECT_TRUE(
      fails_with(parse_csr(forge_csr(test_key(), two_cns)), Errc::Malformed, "more than one CN"));
  Forge control;
  control.subject = {{"CN", std::string("sys\0tem", 7)}};
  EXPECT_TRUE(
      fails_with(parse_csr(forge_csr(test_key(), control)), Errc::Malformed, "control character"));
  Forge san;
  san.subject = {{"CN", "x"}};
  san.extensions = {{NID_subject_alt_name, "DNS:caf\xc3\xa9.example"}};
  EXPECT_TRUE(fails_with(parse_csr(forge_csr(test_key(), san)), Errc::Malformed, "visible ASCII"));
}

TEST(Csr, RejectsWeakSignatureHash) {
  Forge f;
  f.subject = {{"CN", "x"}};
  f.digest = EVP_sha1();
  EXPECT_TRUE(fails_with(parse_csr(forge_csr(test_key(), f)), Errc::Unsupported, "broken hash"));
}

TEST(Csr, RejectsABadSignature) {
  std::string der = parse_pem(must(create_csr(test_key(), node_client())))->front().der;
  // The signature BIT STRING is the last field: flip a byte inside the ECDSA integer.
  der[der.size() - 5] = static_cast<char>(der[der.size() - 5] ^ 0x01);
  EXPECT_TRUE(fails_with(parse_csr(pem_encode("CERTIFICATE REQUEST", der)), Errc::BadSignature));
}

TEST(Csr, RejectsAnUnknownVersion) {
  std::string der = parse_pem(must(create_csr(test_key(), node_client())))->front().der;
  // CertificationRequestInfo starts after two SEQUENCE headers: "02 01 00" is its version.
  const auto pos = der.find(std::string("\x02\x01\x00", 3));
  ASSERT_NE(pos, std::string::npos);
  der[pos + 2] = 0x01;
  EXPECT_TRUE(
      fails_with(parse_csr(pem_encode("CERTIFICATE REQUEST", der)), Errc::Malformed, "version"));
}

TEST(Csr, RejectsGarbageAndTruncation) {
  const std::string pem = must(create_csr(test_key(), node_client()));
  const std::string der = parse_pem(pem)->front().der;
  EXPECT_TRUE(fails_with(parse_csr(""), Errc::Malformed, "exactly one PEM block, found 0"));
  EXPECT_TRUE(fails_with(parse_csr("garbage"), Errc::Malformed, "text outside"));
  EXPECT_TRUE(fails_with(parse_csr(pem.substr(0, pem.size() / 2)), Errc::Malformed, "truncated"));
  EXPECT_TRUE(fails_with(parse_csr(pem + pem), Errc::Malformed, "found 2"));
  EXPECT_TRUE(fails_with(parse_csr(pem + "junk\n"), Errc::Malformed, "text outside"));
  EXPECT_TRUE(fails_with(parse_csr(pem_encode("CERTIFICATE", der)), Errc::Malformed,
                         "expected \"CERTIFICATE REQUEST\""));
  EXPECT_TRUE(fails_with(parse_csr(pem_encode("CERTIFICATE REQUEST", der + std::string(1, '\0'))),
                         Errc::Malformed, "trailing bytes"));
  EXPECT_TRUE(
      fails_with(parse_csr(pem_encode("CERTIFICATE REQUEST", der.substr(0, der.size() - 10))),
                 Errc::Malformed, "invalid DER"));
  EXPECT_TRUE(fails_with(parse_csr_der(""), Errc::Malformed));
  EXPECT_TRUE(fails_with(parse_csr_der("\x30\x03\x02\x01\x00"), Errc::Malformed));
}

TEST(Csr, ParsesDer) {
  const std::string der = forge_csr_der(test_key(), Forge{{{"CN", "x"}}, {}, EVP_sha256(), false});
  EXPECT_EQ(must(parse_csr_der(der)).subject.common_name, "x");
}

}  // namespace
}  // namespace yurt::certs
