#include "yurt/certs/certificate.hpp"

#include <gtest/gtest.h>

#include "yurt/certs/authority.hpp"
#include "yurt/certs/pem.hpp"

#include "test/fakes/fake_clock.hpp"
#include "test/unit/certs/test_util.hpp"
#include "test/unit/certs/upstream_vectors.hpp"

namespace yurt::certs {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::at;
using testing::fails_with;
using testing::must;
using testing::shared_ca;

constexpr auto kDay = hours(24);

IssueOptions client_options() {
  IssueOptions o;
  o.subject = {"system:node:edge-1", {"system:nodes"}};
  o.usages = {Usage::DigitalSignature, Usage::KeyEncipherment, Usage::ClientAuth};
  o.not_before = at(seconds(0));
  o.validity = kDay * 30;
  return o;
}

IssueOptions server_options() {
  IssueOptions o;
  o.subject = {"edge-1", {}};
  o.dns_names = {"edge-1.example"};
  o.ip_addresses = {"10.0.0.7"};
  o.usages = {Usage::DigitalSignature, Usage::ServerAuth};
  o.not_before = at(seconds(0));
  o.validity = kDay * 30;
  return o;
}

std::chrono::system_clock::time_point when(seconds since_start) {
  return at(since_start);
}

TEST(Certificate, ParsesAnIssuedLeaf) {
  const auto issued = must(shared_ca().issue(server_options()));
  const auto cert = must(parse_certificate(issued.certificate_pem));
  EXPECT_EQ(cert.version, 3);
  EXPECT_FALSE(cert.serial.empty());
  EXPECT_NE(cert.serial, "0");
  EXPECT_NE(cert.serial.front(), '0');
  EXPECT_EQ(cert.subject.common_name, "edge-1");
  EXPECT_EQ(cert.issuer.common_name, "yurt-test-ca");
  EXPECT_EQ(cert.issuer.organizations, (std::vector<std::string>{"yurt"}));
  EXPECT_EQ(cert.not_before, at(seconds(0)));
  EXPECT_EQ(cert.not_after, at(kDay * 30));
  EXPECT_EQ(cert.extensions.sans.dns_names, (std::vector<std::string>{"edge-1.example"}));
  EXPECT_EQ(cert.extensions.sans.ip_addresses, (std::vector<std::string>{"10.0.0.7"}));
  ASSERT_TRUE(cert.extensions.key_usage);
  EXPECT_EQ(*cert.extensions.key_usage, (std::vector<Usage>{Usage::DigitalSignature}));
  ASSERT_TRUE(cert.extensions.ext_key_usage);
  EXPECT_EQ(*cert.extensions.ext_key_usage, (std::vector<Usage>{Usage::ServerAuth}));
  EXPECT_FALSE(cert.is_ca());
  ASSERT_TRUE(cert.extensions.basic_constraints);
  EXPECT_TRUE(cert.extensions.basic_constraints->critical);
  EXPECT_TRUE(cert.extensions.has("subjectKeyIdentifier"));
  EXPECT_TRUE(cert.extensions.has("authorityKeyIdentifier"));
  EXPECT_EQ(cert.public_key.spki_der, issued.key.public_key_der());
  EXPECT_EQ(cert.signature_algorithm, "ecdsa-with-SHA256");
  EXPECT_EQ(cert.pem(), issued.certificate_pem);
}

TEST(Certificate, ParsesTheRootCa) {
  const auto ca = must(parse_certificate(shared_ca().certificate_pem()));
  EXPECT_TRUE(ca.is_ca());
  EXPECT_EQ(ca.subject, ca.issuer);
  ASSERT_TRUE(ca.extensions.key_usage);
  EXPECT_EQ(*ca.extensions.key_usage,
            (std::vector<Usage>{Usage::DigitalSignature, Usage::CertSign, Usage::CrlSign}));
  EXPECT_FALSE(ca.extensions.has("authorityKeyIdentifier"));
  EXPECT_EQ(ca.not_before, at(-minutes(5))) << "backdated like kube-controller-manager's signer";
}

TEST(Certificate, ParsesAForeignRsaCertificate) {
  const auto cert = must(parse_certificate(testing::kPinTestCert));
  EXPECT_EQ(cert.subject.common_name, "kubeadm-keypins-test");
  EXPECT_EQ(cert.serial, "98156825EF0BA1E4");
  EXPECT_EQ(cert.public_key.describe(), "RSA 2048");
  EXPECT_EQ(cert.signature_algorithm, "sha1WithRSAEncryption");
  EXPECT_TRUE(cert.is_ca());
  EXPECT_EQ(cert.not_after - cert.not_before,
            std::chrono::sys_days{std::chrono::year{2117} / 6 / 11} -
                std::chrono::sys_days{std::chrono::year{2017} / 7 / 5});
}

TEST(Certificate, ChainsAndStrictness) {
  const auto issued = must(shared_ca().issue(client_options()));
  const std::string two = issued.certificate_pem + shared_ca().certificate_pem();
  EXPECT_TRUE(fails_with(parse_certificate(two), Errc::Malformed, "found 2"));
  EXPECT_EQ(must(parse_certificates(two)).size(), 2U);
  EXPECT_TRUE(fails_with(parse_certificates(""), Errc::Malformed, "no certificate"));
  EXPECT_TRUE(fails_with(parse_certificates(issued.certificate_pem + "\nABC"), Errc::Malformed));
  EXPECT_TRUE(
      fails_with(parse_certificates(issued.key.pem()), Errc::Malformed, "is not a certificate"));
  const std::string der = parse_pem(issued.certificate_pem)->front().der;
  EXPECT_TRUE(fails_with(parse_certificate_der(der + "\x01"), Errc::Malformed, "trailing bytes"));
  EXPECT_TRUE(fails_with(parse_certificate_der(der.substr(0, 40)), Errc::Malformed, "invalid"));
}

TEST(Verify, AcceptsAValidChain) {
  const auto issued = must(shared_ca().issue(client_options()));
  EXPECT_TRUE(
      verify(issued.certificate_pem, shared_ca().root_pem(), Purpose::ClientAuth, when(kDay)));
  EXPECT_TRUE(verify(issued.certificate_pem, shared_ca().root_pem(), Purpose::Any, when(kDay)));
}

TEST(Verify, ReportsExpiryAndNotYetValidAtTheGivenTime) {
  const auto issued = must(shared_ca().issue(client_options()));
  auto expired =
      verify(issued.certificate_pem, shared_ca().root_pem(), Purpose::ClientAuth, when(kDay * 31));
  EXPECT_TRUE(fails_with(expired, Errc::Expired,
                         "certificate \"O=system:nodes, CN=system:node:edge-1\" expired at "
                         "2024-01-31T00:00:00Z (verification time 2024-02-01T00:00:00Z)"));
  auto early = verify(issued.certificate_pem, shared_ca().root_pem(), Purpose::ClientAuth,
                      when(-seconds(1)));
  EXPECT_TRUE(fails_with(early, Errc::NotYetValid, "is not valid before 2024-01-01T00:00:00Z"));
  // Boundaries: valid from notBefore up to, not including, notAfter (OpenSSL's rule).
  EXPECT_TRUE(verify(issued.certificate_pem, shared_ca().root_pem(), Purpose::ClientAuth,
                     when(seconds(0))));
  EXPECT_TRUE(verify(issued.certificate_pem, shared_ca().root_pem(), Purpose::ClientAuth,
                     when(kDay * 30 - seconds(1))));
  EXPECT_TRUE(fails_with(
      verify(issued.certificate_pem, shared_ca().root_pem(), Purpose::ClientAuth, when(kDay * 30)),
      Errc::Expired));
}

TEST(Verify, ReportsAnExpiredCa) {
  FakeClock clock;
  auto short_ca = must(CertificateAuthority::create_root({"short-lived", {}}, kDay, clock));
  auto issued = must(short_ca.issue(client_options()));
  EXPECT_TRUE(fails_with(
      verify(issued.certificate_pem, short_ca.root_pem(), Purpose::ClientAuth, when(kDay * 2)),
      Errc::Expired, "\"CN=short-lived\" (chain depth 1) expired"));
}

TEST(Verify, ReportsAnUnknownIssuer) {
  FakeClock clock;
  const auto issued = must(shared_ca().issue(client_options()));
  // Same subject, different key: a name match is not enough.
  auto impostor =
      must(CertificateAuthority::create_root({"yurt-test-ca", {"yurt"}}, kDay * 365, clock));
  EXPECT_TRUE(fails_with(
      verify(issued.certificate_pem, impostor.root_pem(), Purpose::ClientAuth, when(kDay)),
      Errc::UnknownIssuer));
  auto other = must(CertificateAuthority::create_root({"other", {}}, kDay * 365, clock));
  EXPECT_TRUE(
      fails_with(verify(issued.certificate_pem, other.root_pem(), Purpose::ClientAuth, when(kDay)),
                 Errc::UnknownIssuer, "system:node:edge-1"));
  // A self-signed leaf that is not in the bundle.
  EXPECT_TRUE(fails_with(verify(other.root_pem(), shared_ca().root_pem(), Purpose::Any, when(kDay)),
                         Errc::UnknownIssuer));
}

TEST(Verify, ReportsTheWrongUsage) {
  const auto server = must(shared_ca().issue(server_options()));
  EXPECT_TRUE(
      verify(server.certificate_pem, shared_ca().root_pem(), Purpose::ServerAuth, when(kDay)));
  EXPECT_TRUE(fails_with(
      verify(server.certificate_pem, shared_ca().root_pem(), Purpose::ClientAuth, when(kDay)),
      Errc::WrongUsage));
  const auto client = must(shared_ca().issue(client_options()));
  EXPECT_TRUE(fails_with(
      verify(client.certificate_pem, shared_ca().root_pem(), Purpose::ServerAuth, when(kDay)),
      Errc::WrongUsage));
}

TEST(Verify, FollowsIntermediates) {
  const auto intermediate =
      must(shared_ca().create_intermediate({"yurt-intermediate", {}}, kDay * 365));
  const auto leaf = must(intermediate.issue(client_options()));
  EXPECT_EQ(leaf.chain_pem, leaf.certificate_pem + intermediate.certificate_pem());
  EXPECT_TRUE(verify(leaf.chain_pem, intermediate.root_pem(), Purpose::ClientAuth, when(kDay)));
  EXPECT_EQ(intermediate.root_pem(), shared_ca().root_pem());
  // Without the intermediate there is no path.
  EXPECT_TRUE(fails_with(
      verify(leaf.certificate_pem, shared_ca().root_pem(), Purpose::ClientAuth, when(kDay)),
      Errc::UnknownIssuer));
  // An intermediate in the bundle is an anchor, as in Go.
  EXPECT_TRUE(verify(leaf.certificate_pem, intermediate.certificate_pem(), Purpose::ClientAuth,
                     when(kDay)));
}

TEST(Verify, ReportsPathLengthViolations) {
  const auto first =
      must(shared_ca().create_intermediate({"first", {}}, kDay * 365, KeyAlgorithm::EcdsaP256, 0));
  const auto second = must(first.create_intermediate({"second", {}}, kDay * 365));
  const auto leaf = must(second.issue(client_options()));
  EXPECT_TRUE(
      fails_with(verify(leaf.chain_pem, shared_ca().root_pem(), Purpose::ClientAuth, when(kDay)),
                 Errc::InvalidChain, "path length"));
}

TEST(Verify, RejectsBadInput) {
  const auto issued = must(shared_ca().issue(client_options()));
  EXPECT_TRUE(fails_with(verify("", shared_ca().root_pem(), Purpose::Any, when(kDay)),
                         Errc::Malformed, "chain is empty"));
  EXPECT_TRUE(fails_with(verify(issued.certificate_pem, "", Purpose::Any, when(kDay)),
                         Errc::Malformed, "CA bundle is empty"));
  EXPECT_TRUE(fails_with(verify(issued.certificate_pem, "garbage", Purpose::Any, when(kDay)),
                         Errc::Malformed, "CA bundle"));
  EXPECT_TRUE(fails_with(verify(issued.key.pem(), shared_ca().root_pem(), Purpose::Any, when(kDay)),
                         Errc::Malformed, "not a certificate"));
}

TEST(KeyMatch, AcceptsTheKeyAndRefusesAnother) {
  const auto issued = must(shared_ca().issue(client_options()));
  EXPECT_TRUE(key_matches_certificate(issued.key, issued.certificate_pem));
  EXPECT_TRUE(key_matches_certificate(issued.key, issued.chain_pem));
  EXPECT_TRUE(fails_with(key_matches_certificate(testing::test_key(), issued.certificate_pem),
                         Errc::KeyMismatch, "not the key of certificate"));
  EXPECT_TRUE(fails_with(
      key_matches_certificate(testing::test_key(KeyAlgorithm::Rsa2048), issued.certificate_pem),
      Errc::KeyMismatch, "(RSA 2048)"));
  EXPECT_TRUE(fails_with(key_matches_certificate(issued.key, ""), Errc::Malformed));
}

}  // namespace
}  // namespace yurt::certs
