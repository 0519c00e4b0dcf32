#include "yurt/certs/authority.hpp"

#include <gtest/gtest.h>

#include "yurt/certs/certificate.hpp"
#include "yurt/certs/csr.hpp"

#include "test/fakes/fake_clock.hpp"
#include "test/unit/certs/test_util.hpp"

namespace yurt::certs {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::at;
using testing::fails_with;
using testing::Forge;
using testing::forge_csr;
using testing::must;
using testing::shared_ca;
using testing::test_key;

TEST(CertificateAuthority, IssueUsesTheClockAndBackdates) {
  FakeClock clock;
  auto ca = must(CertificateAuthority::create_root({"ca", {}}, hours(24 * 365), clock));
  clock.advance(hours(2));
  IssueOptions o;
  o.subject = {"leaf", {}};
  o.validity = hours(10);
  const auto cert = must(parse_certificate(must(ca.issue(o)).certificate_pem));
  EXPECT_EQ(cert.not_before, at(hours(2) - minutes(5)));
  EXPECT_EQ(cert.not_after, at(hours(12))) << "lifetime counts from now, not from the backdate";
  EXPECT_FALSE(cert.extensions.key_usage) << "no usages asked, no keyUsage extension";
  EXPECT_FALSE(cert.extensions.ext_key_usage);
}

TEST(CertificateAuthority, IssuesEveryKeyAlgorithm) {
  IssueOptions o;
  o.subject = {"leaf", {}};
  o.key_algorithm = KeyAlgorithm::EcdsaP384;
  const auto issued = must(shared_ca().issue(o));
  EXPECT_EQ(issued.key.algorithm(), KeyAlgorithm::EcdsaP384);
  EXPECT_EQ(must(parse_certificate(issued.certificate_pem)).public_key.curve, "P-384");
  EXPECT_TRUE(key_matches_certificate(issued.key, issued.certificate_pem));
  EXPECT_EQ(issued.chain_pem, issued.certificate_pem) << "a root CA adds no intermediates";
}

TEST(CertificateAuthority, RsaCaSignsWithRsa) {
  FakeClock clock;
  auto ca = must(
      CertificateAuthority::create_root({"rsa-ca", {}}, hours(24), clock, KeyAlgorithm::Rsa2048));
  IssueOptions o;
  o.subject = {"leaf", {}};
  const auto cert = must(parse_certificate(must(ca.issue(o)).certificate_pem));
  EXPECT_EQ(cert.signature_algorithm, "sha256WithRSAEncryption");
}

TEST(CertificateAuthority, SansOnlyCertificateHasCriticalSans) {
  IssueOptions o;
  o.dns_names = {"only.example"};
  const auto cert = must(parse_certificate(must(shared_ca().issue(o)).certificate_pem));
  EXPECT_TRUE(cert.subject.attributes.empty());
  bool critical = false;
  for (const auto& e : cert.extensions.all) {
    if (e.name == "subjectAltName") {
      critical = e.critical;
    }
  }
  EXPECT_TRUE(critical);
}

TEST(CertificateAuthority, RejectsUnusableOptions) {
  IssueOptions o;
  o.subject = {"leaf", {}};
  o.validity = seconds(0);
  EXPECT_TRUE(fails_with(shared_ca().issue(o), Errc::InvalidArgument, "validity"));
  o.validity = hours(1);
  o.path_len = 1;
  EXPECT_TRUE(fails_with(shared_ca().issue(o), Errc::InvalidArgument, "path_len"));
  o.path_len.reset();
  o.ip_addresses = {"not-an-ip"};
  EXPECT_TRUE(fails_with(shared_ca().issue(o), Errc::InvalidArgument, "\"not-an-ip\""));
  EXPECT_TRUE(fails_with(shared_ca().issue(IssueOptions{}), Errc::InvalidArgument, "subject"));
  IssueOptions named;
  named.subject = {"x", {}};
  EXPECT_TRUE(fails_with(shared_ca().issue_for_key("not der", named), Errc::Malformed));
  FakeClock clock;
  EXPECT_TRUE(fails_with(CertificateAuthority::create_root({}, hours(1), clock),
                         Errc::InvalidArgument, "subject"));
  EXPECT_TRUE(fails_with(CertificateAuthority::create_root({"x", {}}, seconds(-1), clock),
                         Errc::InvalidArgument, "validity"));
}

TEST(CertificateAuthority, IssueForAnExistingKey) {
  IssueOptions o;
  o.subject = {"leaf", {}};
  const std::string pem = must(shared_ca().issue_for_key(test_key().public_key_der(), o));
  EXPECT_TRUE(key_matches_certificate(test_key(), pem));
}

TEST(CertificateAuthority, SignsACsrLikeTheKubeSigner) {
  Forge f;
  f.subject = {{"O", "system:nodes"}, {"CN", "system:node:edge-1"}};
  f.extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                  {NID_key_usage, "keyCertSign"},
                  {NID_subject_alt_name, "DNS:edge-1,IP:10.0.0.7,otherName:1.2.3.4;UTF8:x"}};
  SignOptions options;
  options.usages = {Usage::DigitalSignature, Usage::ServerAuth};
  options.not_before = at(seconds(0));
  options.validity = hours(24);
  const std::string pem = must(shared_ca().sign_csr(forge_csr(test_key(), f), options));
  const auto cert = must(parse_certificate(pem));
  EXPECT_FALSE(cert.is_ca()) << "requested extensions are ignored";
  EXPECT_EQ(*cert.extensions.key_usage, (std::vector<Usage>{Usage::DigitalSignature}));
  EXPECT_EQ(*cert.extensions.ext_key_usage, (std::vector<Usage>{Usage::ServerAuth}));
  EXPECT_EQ(cert.subject.str(), "O=system:nodes, CN=system:node:edge-1");
  EXPECT_EQ(cert.extensions.sans.dns_names, (std::vector<std::string>{"edge-1"}));
  EXPECT_EQ(cert.extensions.sans.ip_addresses, (std::vector<std::string>{"10.0.0.7"}));
  EXPECT_TRUE(cert.extensions.sans.others.empty());
  EXPECT_EQ(cert.not_after, at(hours(24)));
  EXPECT_TRUE(key_matches_certificate(test_key(), pem));
  EXPECT_TRUE(verify(pem, shared_ca().root_pem(), Purpose::ServerAuth, at(hours(1))));
}

TEST(CertificateAuthority, SignCsrRejectsBadRequests) {
  EXPECT_TRUE(fails_with(shared_ca().sign_csr("garbage", {}), Errc::Malformed));
  Forge empty;
  EXPECT_TRUE(fails_with(shared_ca().sign_csr(forge_csr(test_key(), empty), {}),
                         Errc::InvalidArgument, "neither a subject"));
}

TEST(CertificateAuthority, LoadsAnExistingCa) {
  FakeClock clock;
  auto loaded =
      must(CertificateAuthority::load(shared_ca().certificate_pem(), shared_ca().key(), clock));
  EXPECT_EQ(loaded.root_pem(), shared_ca().certificate_pem());
  EXPECT_TRUE(loaded.chain_pem().empty());
  IssueOptions o;
  o.subject = {"leaf", {}};
  o.usages = {Usage::ClientAuth};
  const auto issued = must(loaded.issue(o));
  EXPECT_TRUE(
      verify(issued.certificate_pem, shared_ca().root_pem(), Purpose::ClientAuth, at(hours(1))));

  // An intermediate with its root: the chain keeps the intermediate, the root is the anchor.
  const auto intermediate = must(shared_ca().create_intermediate({"mid", {}}, hours(24 * 30)));
  auto mid = must(CertificateAuthority::load(
      intermediate.certificate_pem() + shared_ca().root_pem(), intermediate.key(), clock));
  EXPECT_EQ(mid.chain_pem(), intermediate.certificate_pem());
  EXPECT_EQ(mid.root_pem(), shared_ca().root_pem());
}

TEST(CertificateAuthority, LoadRefusesNonCasAndForeignKeys) {
  FakeClock clock;
  IssueOptions o;
  o.subject = {"leaf", {}};
  const auto leaf = must(shared_ca().issue(o));
  EXPECT_TRUE(fails_with(CertificateAuthority::load(leaf.certificate_pem, leaf.key, clock),
                         Errc::InvalidArgument, "not a CA"));
  EXPECT_TRUE(
      fails_with(CertificateAuthority::load(shared_ca().certificate_pem(), test_key(), clock),
                 Errc::KeyMismatch));
}

}  // namespace
}  // namespace yurt::certs
