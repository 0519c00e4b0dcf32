#include "yurt/certs/bootstrap.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "yurt/kube/base64.hpp"

#include "test/unit/certs/test_util.hpp"
#include "test/unit/certs/upstream_vectors.hpp"

namespace yurt::certs {
namespace {

using nlohmann::json;
using testing::fails_with;
using testing::must;
using testing::shared_ca;

BootstrapToken token(std::string_view text) {
  return must(parse_bootstrap_token(text));
}

// ---- tokens -------------------------------------------------------------------------------------

TEST(BootstrapToken, ParsesIdAndSecret) {
  const auto t = token("abcdef.0123456789abcdef");
  EXPECT_EQ(t.id, "abcdef");
  EXPECT_EQ(t.secret, "0123456789abcdef");
  EXPECT_EQ(t.str(), "abcdef.0123456789abcdef");
  EXPECT_EQ(t.user_name(), "system:bootstrap:abcdef");
}

TEST(BootstrapToken, RejectsEachRuleWithoutEchoingTheSecret) {
  struct Case {
    std::string_view text;
    std::string_view needle;
  };
  const Case cases[] = {
      {"", "no '.'"},
      {"abcdef0123456789abcdef", "no '.'"},
      {"abcdef.0123456789abcdef.x", "more than one '.'"},
      {"abcde.0123456789abcdef", "id has 5 characters; expected 6"},
      {"abcdefg.0123456789abcdef", "id has 7 characters"},
      {"abcdef.0123456789abcde", "secret has 15 characters; expected 16"},
      {"abcdef.0123456789abcdef0", "secret has 17 characters"},
      {"abCdef.0123456789abcdef", "id has a character other than a-z, 0-9 at position 3"},
      {"abcdef.0123456789abcdeF", "secret has a character other than a-z, 0-9 at position 16"},
      {"abcdef.01234567-9abcdef", "secret has a character other than a-z, 0-9 at position 9"},
      {" bcdef.0123456789abcdef", "position 1"},
      {"abcdef.0123456789abcdef\n", "secret has 17 characters"},
  };
  for (const auto& c : cases) {
    auto parsed = parse_bootstrap_token(c.text);
    EXPECT_TRUE(fails_with(parsed, Errc::Malformed, c.needle)) << c.text;
    if (!parsed && c.text.size() > 7) {
      EXPECT_EQ(parsed.error().message().find(c.text.substr(7, 10)), std::string::npos)
          << "the message must not carry the secret: " << parsed.error().message();
    }
  }
}

// ---- CA pins ------------------------------------------------------------------------------------

TEST(CaPin, MatchesKubeadmsHash) {
  EXPECT_EQ(must(ca_pin(testing::kPinTestCert)), testing::kPinTestCertHash);
}

TEST(CaPin, ParsesAndNormalises) {
  std::string upper(testing::kPinTestCertHash);
  for (auto& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  EXPECT_EQ(must(parse_ca_pin(upper)), testing::kPinTestCertHash);
  EXPECT_TRUE(fails_with(parse_ca_pin("xyz"), Errc::Malformed, "format:hex-value"));
  EXPECT_TRUE(fails_with(parse_ca_pin("sha256:0011223344"), Errc::Malformed, "found 10 digits"));
  EXPECT_TRUE(fails_with(
      parse_ca_pin(std::string(testing::kPinTestCertHash) + std::string(testing::kPinTestCertHash)),
      Errc::Malformed));
  EXPECT_TRUE(fails_with(parse_ca_pin("md5:00112233445566778899aabbccddeeff"), Errc::Malformed,
                         "unknown hash format \"md5\""));
  EXPECT_TRUE(fails_with(parse_ca_pin("sha256:" + std::string(63, '0') + "g"), Errc::Malformed,
                         "not hexadecimal"));
}

TEST(CaPin, VerifiesABundleAgainstPins) {
  const std::string our_pin = must(ca_pin(shared_ca().root_pem()));
  EXPECT_TRUE(our_pin.starts_with("sha256:"));
  EXPECT_EQ(our_pin.size(), 7U + 64U);
  const std::string bundle = std::string(testing::kPinTestCert) + shared_ca().root_pem();
  EXPECT_TRUE(verify_ca_pins(bundle, {our_pin}));
  EXPECT_TRUE(verify_ca_pins(
      bundle, {"sha256:" + std::string(64, 'a'), std::string(testing::kPinTestCertHash)}));
  EXPECT_TRUE(
      fails_with(verify_ca_pins(shared_ca().root_pem(), {std::string(testing::kPinTestCertHash)}),
                 Errc::PinMismatch, our_pin));
  EXPECT_TRUE(fails_with(verify_ca_pins(bundle, {}), Errc::InvalidArgument));
  EXPECT_TRUE(fails_with(verify_ca_pins(bundle, {"nonsense"}), Errc::Malformed));
  EXPECT_TRUE(fails_with(verify_ca_pins("garbage", {our_pin}), Errc::Malformed, "CA bundle"));
}

// ---- JWS ----------------------------------------------------------------------------------------

BootstrapToken upstream_jws_token(std::string_view secret = testing::kJwsSecret) {
  return BootstrapToken{std::string(testing::kJwsId), std::string(secret)};
}

TEST(DetachedJws, MatchesClusterBootstrapBytes) {
  EXPECT_EQ(compute_detached_jws(testing::kJwsContent, upstream_jws_token()),
            testing::kJwsSignature);
  EXPECT_EQ(compute_detached_jws("", upstream_jws_token()), testing::kJwsSignatureEmptyContent);
  EXPECT_EQ(compute_detached_jws(testing::kJwsContent, upstream_jws_token("")),
            testing::kJwsSignatureEmptySecret);
}

TEST(DetachedJws, VerifiesUpstreamSignatures) {
  EXPECT_TRUE(
      verify_detached_jws(testing::kJwsSignature, testing::kJwsContent, upstream_jws_token()));
  EXPECT_FALSE(verify_detached_jws(std::string(testing::kJwsSignature) + "foo",
                                   testing::kJwsContent, upstream_jws_token()));
}

TEST(DetachedJws, RefusesTamperingAndOtherTokens) {
  const auto t = token("abcdef.0123456789abcdef");
  const std::string jws = compute_detached_jws("payload", t);
  EXPECT_TRUE(verify_detached_jws(jws, "payload", t));
  EXPECT_TRUE(
      fails_with(verify_detached_jws(jws, "payloaD", t), Errc::BadSignature, "does not match"));
  EXPECT_TRUE(fails_with(verify_detached_jws(jws, "payload", token("abcdef.0123456789abcdee")),
                         Errc::BadSignature, "does not match"));
  EXPECT_TRUE(fails_with(verify_detached_jws(jws, "payload", token("abcdeg.0123456789abcdef")),
                         Errc::BadSignature, "key id is \"abcdef\", not token id"));
}

std::string b64url(std::string_view s) {
  std::string out = kube::base64_encode(s);
  while (!out.empty() && out.back() == '=') {
    out.pop_back();
  }
  for (auto& c : out) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return out;
}

TEST(DetachedJws, RefusesMalformedAndDowngradedHeaders) {
  const auto t = token("abcdef.0123456789abcdef");
  const std::string jws = compute_detached_jws("payload", t);
  const std::string sig = jws.substr(jws.rfind('.') + 1);
  EXPECT_TRUE(fails_with(
      verify_detached_jws(b64url(R"({"alg":"none","kid":"abcdef"})") + ".." + sig, "payload", t),
      Errc::BadSignature, "HS256"));
  EXPECT_TRUE(
      fails_with(verify_detached_jws(b64url(R"({"kid":"abcdef"})") + ".." + sig, "payload", t),
                 Errc::BadSignature, "algorithm is missing"));
  EXPECT_TRUE(fails_with(
      verify_detached_jws(b64url(R"({"alg":"HS256","kid":"abcdef","crit":["b64"]})") + ".." + sig,
                          "payload", t),
      Errc::Malformed, "crit"));
  EXPECT_TRUE(fails_with(verify_detached_jws(b64url("not json") + ".." + sig, "payload", t),
                         Errc::Malformed, "not a JSON object"));
  const std::string header = jws.substr(0, jws.find('.'));
  EXPECT_TRUE(
      fails_with(verify_detached_jws(header + "." + b64url("payload") + "." + sig, "payload", t),
                 Errc::Malformed, "carries a payload"));
  EXPECT_TRUE(fails_with(verify_detached_jws(header + "." + sig, "payload", t), Errc::Malformed,
                         "2 parts"));
  EXPECT_TRUE(fails_with(verify_detached_jws("!!..xx", "payload", t), Errc::Malformed,
                         "invalid base64url"));
  EXPECT_TRUE(fails_with(verify_detached_jws(header + ".." + b64url("short"), "payload", t),
                         Errc::BadSignature));
}

// ---- cluster-info -------------------------------------------------------------------------------

json configmap(std::string_view kubeconfig, const std::map<std::string, std::string>& extra) {
  json data{{"kubeconfig", kubeconfig}};
  for (const auto& [k, v] : extra) {
    data[k] = v;
  }
  return json{{"kind", "ConfigMap"},
              {"apiVersion", "v1"},
              {"metadata", {{"name", "cluster-info"}, {"namespace", "kube-public"}}},
              {"data", std::move(data)}};
}

json upstream_cluster_info() {
  return configmap(testing::kDryRunKubeconfig,
                   {{"jws-kubeconfig-abcdef", std::string(testing::kDryRunJws)}});
}

TEST(ClusterInfo, VerifiesKubeadmsSignedConfigMap) {
  const auto info = must(verify_cluster_info(upstream_cluster_info(), token(testing::kDryRunToken),
                                             {std::string(testing::kDryRunCaHash)}));
  EXPECT_EQ(info.server, testing::kDryRunServer);
  EXPECT_TRUE(info.ca_pinned);
  EXPECT_EQ(info.kubeconfig, testing::kDryRunKubeconfig);
  EXPECT_EQ(must(parse_certificate(info.ca_bundle_pem)).subject.common_name, "kubernetes");
  // As JSON text (the GET response body).
  EXPECT_TRUE(
      verify_cluster_info_json(upstream_cluster_info().dump(), token(testing::kDryRunToken), {}));
}

TEST(ClusterInfo, WithoutPinsTheCaIsNotChecked) {
  const auto info =
      must(verify_cluster_info(upstream_cluster_info(), token(testing::kDryRunToken), {}));
  EXPECT_FALSE(info.ca_pinned);
}

TEST(ClusterInfo, RefusesAnUnpinnedCa) {
  EXPECT_TRUE(fails_with(verify_cluster_info(upstream_cluster_info(), token(testing::kDryRunToken),
                                             {std::string(testing::kPinTestCertHash)}),
                         Errc::PinMismatch, testing::kDryRunCaHash));
}

TEST(ClusterInfo, RefusesWrongTokensAndTampering) {
  EXPECT_TRUE(
      fails_with(verify_cluster_info(upstream_cluster_info(), token("abcdef.abcdef0123456780"), {}),
                 Errc::BadSignature, "jws-kubeconfig-abcdef"));
  EXPECT_TRUE(
      fails_with(verify_cluster_info(upstream_cluster_info(), token("zzzzzz.abcdef0123456789"), {}),
                 Errc::NotSigned, "\"zzzzzz\""));
  json tampered = upstream_cluster_info();
  std::string kc = tampered["data"]["kubeconfig"];
  kc.replace(kc.find("192.168.0.101"), 13, "203.0.113.666");
  tampered["data"]["kubeconfig"] = kc;
  EXPECT_TRUE(fails_with(verify_cluster_info(tampered, token(testing::kDryRunToken), {}),
                         Errc::BadSignature));
}

TEST(ClusterInfo, RefusesMalformedConfigMaps) {
  const auto t = token(testing::kDryRunToken);
  EXPECT_TRUE(fails_with(verify_cluster_info_json("{", t, {}), Errc::Malformed, "not valid JSON"));
  EXPECT_TRUE(fails_with(verify_cluster_info(json::array(), t, {}), Errc::Malformed));
  json secret = upstream_cluster_info();
  secret["kind"] = "Secret";
  EXPECT_TRUE(fails_with(verify_cluster_info(secret, t, {}), Errc::Malformed, "not a ConfigMap"));
  EXPECT_TRUE(fails_with(verify_cluster_info(json{{"kind", "ConfigMap"}}, t, {}), Errc::Malformed,
                         "no data"));
  EXPECT_TRUE(fails_with(verify_cluster_info(configmap("", {}), t, {}), Errc::Malformed,
                         "not set up for token bootstrapping"));
}

// A cluster-info as our own control plane would publish it, signed with our signer.
std::string kubeconfig_for(std::string_view server, std::string_view ca_line) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    server: " +
         std::string(server) + "\n    " + std::string(ca_line) + "\n";
}

json signed_cluster_info(const std::string& kubeconfig, const BootstrapToken& t) {
  return configmap(kubeconfig, {{"jws-kubeconfig-" + t.id, compute_detached_jws(kubeconfig, t)},
                                {"jws-kubeconfig-zzzzzz", "another token's signature"}});
}

TEST(ClusterInfo, VerifiesOurOwnSignedConfigMap) {
  const auto t = token("yurt01.0123456789abcdef");
  const std::string ca_line =
      "certificate-authority-data: " + kube::base64_encode(shared_ca().root_pem());
  const auto info = must(
      verify_cluster_info(signed_cluster_info(kubeconfig_for("https://10.0.0.1:6443", ca_line), t),
                          t, {must(ca_pin(shared_ca().root_pem()))}));
  EXPECT_EQ(info.server, "https://10.0.0.1:6443");
  EXPECT_EQ(info.ca_bundle_pem, shared_ca().root_pem());
  EXPECT_TRUE(info.ca_pinned);
}

TEST(ClusterInfo, RefusesUnusableKubeconfigs) {
  const auto t = token("yurt01.0123456789abcdef");
  const std::string ca_line =
      "certificate-authority-data: " + kube::base64_encode(shared_ca().root_pem());
  auto check = [&](const std::string& kubeconfig, std::string_view needle) {
    EXPECT_TRUE(fails_with(verify_cluster_info(signed_cluster_info(kubeconfig, t), t, {}),
                           Errc::Malformed, needle))
        << kubeconfig;
  };
  check(kubeconfig_for("http://10.0.0.1:6443", ca_line), "not an https:// URL");
  check(kubeconfig_for("https://", ca_line), "not an https:// URL");
  check(kubeconfig_for("https://10.0.0.1", "certificate-authority: /etc/kubernetes/pki/ca.crt"),
        "names a CA file");
  check(kubeconfig_for("https://10.0.0.1", "insecure-skip-tls-verify: true"),
        "no certificate-authority-data");
  check(kubeconfig_for("https://10.0.0.1", "certificate-authority-data: not*base64"),
        "certificate-authority-data");
  check(kubeconfig_for("https://10.0.0.1",
                       "certificate-authority-data: " + kube::base64_encode("not pem")),
        "certificate-authority-data");
  check("apiVersion: v1\nclusters: []\n", "no clusters");
  check("[1, 2", "kubeconfig");
  check("- just a list\n", "not a YAML mapping");
  const std::string two = "clusters:\n- name: a\n  cluster:\n    server: https://a\n    " +
                          ca_line + "\n- name: b\n  cluster:\n    server: https://b\n    " +
                          ca_line + "\n";
  check(two, "2 clusters and no current context");
  const std::string chosen = two +
                             "contexts:\n- name: ctx\n  context:\n    cluster: b\n"
                             "current-context: ctx\n";
  EXPECT_EQ(must(verify_cluster_info(signed_cluster_info(chosen, t), t, {})).server, "https://b");
}

}  // namespace
}  // namespace yurt::certs
