#include "yurt/certs/csr_object.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "yurt/certs/certificate.hpp"
#include "yurt/certs/csr.hpp"
#include "yurt/kube/base64.hpp"

#include "test/unit/certs/test_util.hpp"

namespace yurt::certs {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::seconds;
using testing::fails_with;
using testing::must;
using testing::shared_ca;
using testing::test_key;

std::string node_csr() {
  return must(create_csr(test_key(), {{"system:node:edge-1", {"system:nodes"}}, {}, {}}));
}

CsrObjectOptions options() {
  CsrObjectOptions o;
  o.signer_name = std::string(kSignerKubeletClient);
  o.request_pem = node_csr();
  o.usages = {Usage::DigitalSignature, Usage::ClientAuth};
  o.expiration = hours(24);
  return o;
}

json condition(std::string_view type, std::string_view status = "True") {
  return json{{"type", type},
              {"status", status},
              {"reason", "R-" + std::string(type)},
              {"message", "M-" + std::string(type)}};
}

TEST(CsrObject, BuildsTheObjectToPost) {
  const CsrObjectOptions o = options();
  const json obj = must(build_csr_object(o));
  EXPECT_EQ(obj["apiVersion"], "certificates.k8s.io/v1");
  EXPECT_EQ(obj["kind"], "CertificateSigningRequest");
  EXPECT_EQ(obj["metadata"], (json{{"generateName", "csr-"}}));
  EXPECT_EQ(obj["spec"]["signerName"], "kubernetes.io/kube-apiserver-client-kubelet");
  EXPECT_EQ(obj["spec"]["usages"], (json{"digital signature", "client auth"}));
  EXPECT_EQ(obj["spec"]["expirationSeconds"], 86400);
  // []byte: base64 of the PEM text.
  EXPECT_EQ(must(kube::base64_decode(obj["spec"]["request"].get<std::string>())), o.request_pem);
  EXPECT_EQ(obj["spec"].size(), 4U);

  auto named = options();
  named.name = "node-csr-edge-1";
  named.expiration.reset();
  const json n = must(build_csr_object(named));
  EXPECT_EQ(n["metadata"], (json{{"name", "node-csr-edge-1"}}));
  EXPECT_FALSE(n["spec"].contains("expirationSeconds"));
}

TEST(CsrObject, RefusesUnusableOptions) {
  auto o = options();
  o.signer_name.clear();
  EXPECT_TRUE(fails_with(build_csr_object(o), Errc::InvalidArgument, "signerName"));
  o = options();
  o.usages.clear();
  EXPECT_TRUE(fails_with(build_csr_object(o), Errc::InvalidArgument, "usage"));
  o = options();
  o.expiration = seconds(599);
  EXPECT_TRUE(fails_with(build_csr_object(o), Errc::InvalidArgument, "599"));
  o = options();
  o.generate_name.clear();
  EXPECT_TRUE(fails_with(build_csr_object(o), Errc::InvalidArgument, "generateName"));
  o = options();
  o.request_pem = "garbage";
  EXPECT_TRUE(fails_with(build_csr_object(o), Errc::Malformed, "spec.request"));
}

TEST(CsrStatus, FollowsTheConditions) {
  json obj = must(build_csr_object(options()));
  EXPECT_EQ(must(csr_status(obj)).phase, CsrPhase::Pending);
  obj["status"] = json::object();
  EXPECT_EQ(must(csr_status(obj)).phase, CsrPhase::Pending);
  obj["status"]["conditions"] = json::array({condition("Approved", "False")});
  EXPECT_EQ(must(csr_status(obj)).phase, CsrPhase::Pending) << "an explicit False is no vote";
  obj["status"]["conditions"] = json::array({condition("Approved")});
  const auto approved = must(csr_status(obj));
  EXPECT_EQ(approved.phase, CsrPhase::Approved);
  EXPECT_EQ(approved.reason, "R-Approved");
  obj["status"]["certificate"] = "";
  EXPECT_EQ(must(csr_status(obj)).phase, CsrPhase::Approved);
}

TEST(CsrStatus, DeniedAndFailedWin) {
  json obj = must(build_csr_object(options()));
  obj["status"]["conditions"] = json::array({condition("Approved"), condition("Failed")});
  const auto failed = must(csr_status(obj));
  EXPECT_EQ(failed.phase, CsrPhase::Failed);
  EXPECT_EQ(failed.message, "M-Failed");
  obj["status"]["conditions"] = json::array({condition("Denied")});
  obj["status"]["certificate"] = kube::base64_encode(shared_ca().root_pem());
  const auto denied = must(csr_status(obj));
  EXPECT_EQ(denied.phase, CsrPhase::Denied);
  EXPECT_EQ(denied.reason, "R-Denied");
  EXPECT_TRUE(denied.certificate_pem.empty());
  EXPECT_EQ(to_string(CsrPhase::Denied), "Denied");
}

TEST(CsrStatus, RefusesMalformedStatus) {
  json obj = must(build_csr_object(options()));
  obj["status"] = "x";
  EXPECT_TRUE(fails_with(csr_status(obj), Errc::Malformed, "status"));
  obj["status"] = {{"conditions", "x"}};
  EXPECT_TRUE(fails_with(csr_status(obj), Errc::Malformed, "not an array"));
  obj["status"] = {{"conditions", json::array({condition("Approved")})}, {"certificate", "!!"}};
  EXPECT_TRUE(fails_with(csr_status(obj), Errc::Malformed, "status.certificate"));
  obj["status"]["certificate"] = kube::base64_encode("not pem");
  EXPECT_TRUE(fails_with(csr_status(obj), Errc::Malformed, "status.certificate"));
  obj["status"]["certificate"] = 5;
  EXPECT_TRUE(fails_with(csr_status(obj), Errc::Malformed, "expected a string"));
  EXPECT_TRUE(fails_with(csr_status(json::array()), Errc::Malformed));
}

TEST(CsrSpec, ReadsWhatTheApiserverRecorded) {
  json obj = must(build_csr_object(options()));
  obj["metadata"]["name"] = "csr-abc";
  obj["spec"]["username"] = "system:bootstrap:abcdef";
  obj["spec"]["uid"] = "u-1";
  obj["spec"]["groups"] = {"system:bootstrappers", "system:authenticated"};
  obj["spec"]["usages"].push_back("something new");
  const auto spec = must(csr_spec(obj));
  EXPECT_EQ(spec.name, "csr-abc");
  EXPECT_EQ(spec.signer_name, kSignerKubeletClient);
  EXPECT_EQ(spec.username, "system:bootstrap:abcdef");
  EXPECT_EQ(spec.uid, "u-1");
  EXPECT_EQ(spec.groups,
            (std::vector<std::string>{"system:bootstrappers", "system:authenticated"}));
  EXPECT_EQ(spec.usages,
            (std::vector<std::string>{"digital signature", "client auth", "something new"}));
  EXPECT_EQ(spec.expiration, hours(24));
  EXPECT_EQ(must(parse_csr(spec.request_pem)).subject.common_name, "system:node:edge-1");
}

TEST(CsrSpec, RefusesMalformedSpecs) {
  const json good = must(build_csr_object(options()));
  json obj = good;
  obj.erase("spec");
  EXPECT_TRUE(fails_with(csr_spec(obj), Errc::Malformed, "no spec"));
  obj = good;
  obj["spec"].erase("request");
  EXPECT_TRUE(fails_with(csr_spec(obj), Errc::Malformed, "spec.request"));
  obj = good;
  obj["spec"]["request"] = "%%%";
  EXPECT_TRUE(fails_with(csr_spec(obj), Errc::Malformed, "spec.request"));
  obj = good;
  obj["spec"].erase("signerName");
  EXPECT_TRUE(fails_with(csr_spec(obj), Errc::Malformed, "spec.signerName"));
  obj = good;
  obj["spec"]["groups"] = {"a", 1};
  EXPECT_TRUE(fails_with(csr_spec(obj), Errc::Malformed, "spec.groups"));
  obj = good;
  obj["spec"]["expirationSeconds"] = -1;
  EXPECT_TRUE(fails_with(csr_spec(obj), Errc::Malformed, "expirationSeconds"));
  obj = good;
  obj["spec"]["expirationSeconds"] = "600";
  EXPECT_TRUE(fails_with(csr_spec(obj), Errc::Malformed, "expirationSeconds"));
}

// The whole exchange without a server: build, "sign" as the controller would, read the result.
TEST(CsrObject, RoundTripWithASigner) {
  json obj = must(build_csr_object(options()));
  const auto spec = must(csr_spec(obj));
  SignOptions sign;
  sign.usages.clear();
  for (const auto& name : spec.usages) {
    sign.usages.push_back(must(parse_usage(name)));
  }
  const std::string cert = must(shared_ca().sign_csr(spec.request_pem, sign));
  obj["status"] = {{"conditions", json::array({condition("Approved")})},
                   {"certificate", kube::base64_encode(cert)}};
  const auto status = must(csr_status(obj));
  ASSERT_EQ(status.phase, CsrPhase::Issued);
  EXPECT_EQ(status.certificate_pem, cert);
  EXPECT_TRUE(key_matches_certificate(test_key(), status.certificate_pem));
  const auto info = must(parse_certificate(status.certificate_pem));
  EXPECT_EQ(*info.extensions.ext_key_usage, (std::vector<Usage>{Usage::ClientAuth}));
}

}  // namespace
}  // namespace yurt::certs
