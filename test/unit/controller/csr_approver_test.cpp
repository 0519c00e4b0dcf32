// The CSR approver's table: the suite's five shapes are approved, everything else is left alone —
// each case a real PKCS#10 request (certs::create_csr, or forged with OpenSSL where our own API
// would never produce it) inside a certificates.k8s.io/v1 object.
#include "src/apps/controller/csr_approver.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "yurt/certs/csr.hpp"
#include "yurt/kube/base64.hpp"

#include "test/unit/certs/test_util.hpp"

namespace yurt::controller {
namespace {

using certs::KeyAlgorithm;
using certs::testing::Forge;
using certs::testing::forge_csr;
using certs::testing::test_key;
using nlohmann::json;

constexpr auto kClientKubelet = "kubernetes.io/kube-apiserver-client-kubelet";
constexpr auto kApiserverClient = "kubernetes.io/kube-apiserver-client";
constexpr auto kServing = "kubernetes.io/kubelet-serving";
constexpr auto kTunnelSa = "system:serviceaccount:kube-system:yurt-tunnel-server";

const std::vector<std::string> kClientUsages{"digital signature", "client auth"};
const std::vector<std::string> kServingUsages{"digital signature", "server auth"};
const std::vector<std::string> kNodeGroups{"system:nodes", "system:authenticated"};
const std::vector<std::string> kBootstrapGroups{"system:bootstrappers",
                                                "system:bootstrappers:kubeadm:default-node-token",
                                                "system:authenticated"};

std::string request(const std::string& cn,
                    std::vector<std::string> orgs,
                    std::vector<std::string> dns = {},
                    std::vector<std::string> ips = {},
                    KeyAlgorithm key = KeyAlgorithm::EcdsaP256) {
  certs::CsrOptions o;
  o.subject.common_name = cn;
  o.subject.organizations = std::move(orgs);
  o.dns_names = std::move(dns);
  o.ip_addresses = std::move(ips);
  auto pem = certs::create_csr(test_key(key), o);
  if (!pem) {
    throw std::runtime_error(pem.error().what());
  }
  return *pem;
}

json csr(const std::string& signer,
         const std::string& pem,
         const std::vector<std::string>& usages,
         const std::string& user,
         const std::vector<std::string>& groups) {
  return {{"apiVersion", "certificates.k8s.io/v1"},
          {"kind", "CertificateSigningRequest"},
          {"metadata", {{"name", "csr-test"}, {"resourceVersion", "7"}}},
          {"spec",
           {{"request", kube::base64_encode(pem)},
            {"signerName", signer},
            {"usages", usages},
            {"username", user},
            {"groups", groups}}},
          {"status", json::object()}};
}

json node(const std::string& name, const std::string& ip, bool control_plane = false) {
  json n = {{"metadata", {{"name", name}, {"resourceVersion", "1"}, {"labels", json::object()}}},
            {"status",
             {{"addresses", json::array({{{"type", "InternalIP"}, {"address", ip}},
                                         {{"type", "Hostname"}, {"address", name}}})}}}};
  if (control_plane) {
    n["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = "";
  }
  return n;
}

class CsrApproverTest : public ::testing::Test {
 protected:
  CsrApproverTest() {
    nodes_.add(node("edge-node", "10.200.7.11"));
    nodes_.add(node("edge-node-2", "10.200.7.12"));
    nodes_.add(node("master-node", "10.200.7.10", true));
  }

  CsrDecision decide(const json& object) { return decide_csr(object, nodes_, settings_); }

  void expect_approved(const json& object, CsrShape shape) {
    auto d = decide(object);
    EXPECT_EQ(d.verdict, CsrVerdict::Approve) << d.code << ": " << d.reason;
    EXPECT_EQ(d.shape, shape) << d.reason;
    EXPECT_EQ(d.code, "approved");
  }
  void expect_left_alone(const json& object, const std::string& code, const std::string& needle) {
    auto d = decide(object);
    EXPECT_EQ(d.verdict, CsrVerdict::LeaveAlone) << d.reason;
    EXPECT_EQ(d.code, code) << d.reason;
    EXPECT_NE(d.reason.find(needle), std::string::npos) << "reason: " << d.reason;
  }

  kube::ObjectStore nodes_;
  ApproverSettings settings_;
};

// ---- the legitimate shapes ----------------------------------------------------------------------

TEST_F(CsrApproverTest, NodeClientFromABootstrapTokenOrTheNodeItself) {
  const auto pem = request("system:node:edge-node", {"system:nodes"});
  expect_approved(
      csr(kClientKubelet, pem, kClientUsages, "system:bootstrap:abcdef", kBootstrapGroups),
      CsrShape::NodeClient);
  expect_approved(csr(kClientKubelet, pem, kClientUsages, "system:node:edge-node", kNodeGroups),
                  CsrShape::NodeClient);
  // An RSA key may (and upstream's kubelet does) add key encipherment.
  const auto rsa =
      request("system:node:edge-node", {"system:nodes"}, {}, {}, KeyAlgorithm::Rsa2048);
  expect_approved(csr(kClientKubelet, rsa, {"key encipherment", "digital signature", "client auth"},
                      "system:node:edge-node", kNodeGroups),
                  CsrShape::NodeClient);
}

TEST_F(CsrApproverTest, HubClientFromTheApiserverClientSignerOnlyFromTheNode) {
  expect_approved(
      csr(kApiserverClient, request("system:node:edge-node", {"system:nodes", "openyurt:yurthub"}),
          kClientUsages, "system:node:edge-node", kNodeGroups),
      CsrShape::HubClient);
  expect_approved(csr(kApiserverClient, request("system:node:edge-node", {"system:nodes"}),
                      kClientUsages, "system:node:edge-node", kNodeGroups),
                  CsrShape::HubClient);
}

TEST_F(CsrApproverTest, HubServingWithTheNodesOwnAddressesTheHubsAndKubernetesNames) {
  const auto pem = request("system:node:edge-node", {"system:nodes"},
                           {"edge-node", "kubernetes", "kubernetes.default",
                            "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
                           {"10.200.7.11", "127.0.0.1", "169.254.2.1"});
  expect_approved(csr(kServing, pem, kServingUsages, "system:node:edge-node", kNodeGroups),
                  CsrShape::HubServing);
  // What the hub of this suite sends today: its node name and 127.0.0.1.
  expect_approved(
      csr(kServing,
          request("system:node:edge-node", {"system:nodes"}, {"edge-node"}, {"127.0.0.1"}),
          kServingUsages, "system:node:edge-node", kNodeGroups),
      CsrShape::HubServing);
}

TEST_F(CsrApproverTest, TunnelServerServingFromItsServiceAccount) {
  const auto pem =
      request("system:node:yurt-tunnel-server", {"system:nodes"},
              {"x-tunnel-server-svc", "x-tunnel-server-svc.kube-system.svc", "master-node"},
              {"10.200.7.10", "127.0.0.1"});
  expect_approved(
      csr(kServing, pem, kServingUsages, kTunnelSa,
          {"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}),
      CsrShape::TunnelServerServing);
}

TEST_F(CsrApproverTest, TunnelAgentClientFromTheNodeOrABootstrapToken) {
  const auto pem = request("system:node:edge-node", {"openyurt:tunnel-agent"});
  expect_approved(csr(kApiserverClient, pem, kClientUsages, "system:node:edge-node", kNodeGroups),
                  CsrShape::TunnelAgentClient);
  expect_approved(
      csr(kApiserverClient, pem, kClientUsages, "system:bootstrap:abcdef", kBootstrapGroups),
      CsrShape::TunnelAgentClient);
}

// ---- everything else is left alone --------------------------------------------------------------

TEST_F(CsrApproverTest, ForeignSigners) {
  const auto pem = request("system:node:edge-node", {"system:nodes"});
  expect_left_alone(
      csr("example.com/anything", pem, kClientUsages, "system:node:edge-node", kNodeGroups),
      "signer", "example.com/anything");
  expect_left_alone(
      csr("kubernetes.io/legacy-unknown", pem, kClientUsages, "system:node:edge-node", kNodeGroups),
      "signer", "legacy-unknown");
}

TEST_F(CsrApproverTest, UsagesMustBeExact) {
  const auto pem = request("system:node:edge-node", {"system:nodes"});
  const auto self = [&](const char* signer, std::vector<std::string> usages) {
    return csr(signer, pem, usages, "system:node:edge-node", kNodeGroups);
  };
  expect_left_alone(self(kClientKubelet, {"digital signature", "client auth", "cert sign"}),
                    "usages", "cert sign");
  expect_left_alone(self(kClientKubelet, {"digital signature", "client auth", "server auth"}),
                    "usages", "server auth");
  expect_left_alone(self(kClientKubelet, {"digital signature"}), "usages", "lack");
  expect_left_alone(self(kClientKubelet, {"key encipherment", "digital signature", "client auth"}),
                    "usages", "key encipherment");  // an ECDSA key cannot encipher
  expect_left_alone(self(kClientKubelet, {"digital signature", "client auth", "client auth"}),
                    "usages", "twice");
  expect_left_alone(self(kClientKubelet, {"digital signature", "client auth", "frobnicate"}),
                    "usages", "frobnicate");
  const auto serving = request("system:node:edge-node", {"system:nodes"}, {"edge-node"});
  expect_left_alone(csr(kServing, serving, {"digital signature", "server auth", "client auth"},
                        "system:node:edge-node", kNodeGroups),
                    "usages", "client auth");
}

TEST_F(CsrApproverTest, RequesterMustBeTheNodeItself) {
  // CN of another node, asked for by this one.
  expect_left_alone(csr(kClientKubelet, request("system:node:edge-node-2", {"system:nodes"}),
                        kClientUsages, "system:node:edge-node", kNodeGroups),
                    "requester", "system:node:edge-node-2");
  // Right name, but not in system:nodes (someone naming a user like a node).
  expect_left_alone(csr(kClientKubelet, request("system:node:edge-node", {"system:nodes"}),
                        kClientUsages, "system:node:edge-node", {"system:authenticated"}),
                    "requester", "groups");
  expect_left_alone(csr(kClientKubelet, request("system:node:edge-node", {"system:nodes"}),
                        kClientUsages, "system:serviceaccount:default:builder",
                        {"system:serviceaccounts", "system:authenticated"}),
                    "requester", "builder");
  // Serving: another node cannot ask for this node's serving cert, nor can a bootstrap token.
  const auto serving = request("system:node:edge-node", {"system:nodes"}, {"edge-node"});
  expect_left_alone(csr(kServing, serving, kServingUsages, "system:node:edge-node-2", kNodeGroups),
                    "requester", "edge-node-2");
  expect_left_alone(
      csr(kServing, serving, kServingUsages, "system:bootstrap:abcdef", kBootstrapGroups),
      "requester", "bootstrap");
  // The hub's apiserver-client cert: only the node itself, never a bootstrap token.
  expect_left_alone(csr(kApiserverClient, request("system:node:edge-node", {"system:nodes"}),
                        kClientUsages, "system:bootstrap:abcdef", kBootstrapGroups),
                    "requester", "bootstrap");
  // The tunnel server's serving cert from anyone but its ServiceAccount is a node's request for
  // a node that does not exist... and it is not that node either.
  const auto tunnel =
      request("system:node:yurt-tunnel-server", {"system:nodes"}, {"x-tunnel-server-svc"});
  expect_left_alone(csr(kServing, tunnel, kServingUsages, "system:serviceaccount:kube-system:other",
                        {"system:serviceaccounts"}),
                    "requester", "other");
}

TEST_F(CsrApproverTest, ServingSansMustBeTheNodesOwn) {
  const auto serving = [&](std::vector<std::string> dns, std::vector<std::string> ips) {
    return csr(kServing, request("system:node:edge-node", {"system:nodes"}, dns, ips),
               kServingUsages, "system:node:edge-node", kNodeGroups);
  };
  expect_left_alone(serving({"edge-node"}, {"8.8.8.8"}), "san", "8.8.8.8");
  expect_left_alone(serving({"edge-node"}, {"10.200.7.12"}), "san",
                    "10.200.7.12");  // edge-node-2's
  expect_left_alone(serving({"*"}, {}), "san", "wildcard");
  expect_left_alone(serving({"*.edge-node"}, {}), "san", "wildcard");
  expect_left_alone(serving({"edge-node-2"}, {}), "san", "edge-node-2");
  expect_left_alone(serving({"kubernetes.default.svc.evil.example"}, {}), "san", "evil");
  expect_left_alone(serving({}, {}), "san", "at least one");
  // The tunnel server may name control-plane nodes, not edge nodes.
  expect_left_alone(csr(kServing,
                        request("system:node:yurt-tunnel-server", {"system:nodes"},
                                {"x-tunnel-server-svc"}, {"10.200.7.11"}),
                        kServingUsages, kTunnelSa, {"system:serviceaccounts"}),
                    "san", "10.200.7.11");
  // No Node object: nothing to check the SANs against.
  expect_left_alone(csr(kServing, request("system:node:ghost", {"system:nodes"}, {"ghost"}),
                        kServingUsages, "system:node:ghost", kNodeGroups),
                    "node", "ghost");
}

TEST_F(CsrApproverTest, SubjectsMustBeExactlyTheSuites) {
  const auto self = [&](const char* signer, const std::string& pem) {
    return csr(signer, pem, kClientUsages, "system:node:edge-node", kNodeGroups);
  };
  expect_left_alone(
      self(kClientKubelet, request("system:node:edge-node", {"system:nodes", "system:masters"})),
      "masters", "system:masters");
  expect_left_alone(self(kApiserverClient, request("system:node:edge-node", {"system:masters"})),
                    "masters", "system:masters");
  expect_left_alone(self(kClientKubelet, request("system:node:edge-node", {})), "subject",
                    "system:nodes");
  expect_left_alone(
      self(kApiserverClient, request("system:node:edge-node", {"system:nodes", "admins"})),
      "subject", "admins");
  expect_left_alone(self(kApiserverClient, request("kubernetes-admin", {"openyurt:tunnel-agent"})),
                    "subject", "kubernetes-admin");
  expect_left_alone(self(kClientKubelet, request("system:node:Edge_Node", {"system:nodes"})),
                    "subject", "Edge_Node");
  expect_left_alone(self(kApiserverClient, request("system:node:edge-node",
                                                   {"openyurt:tunnel-agent", "system:nodes", "x"})),
                    "subject", "is not system:nodes or openyurt:yurthub");
  expect_left_alone(
      csr(kServing,
          request("system:node:edge-node", {"system:nodes", "openyurt:yurthub"}, {"edge-node"}),
          kServingUsages, "system:node:edge-node", kNodeGroups),
      "subject", "exactly");
  // Client certificates carry no SANs.
  expect_left_alone(
      self(kClientKubelet, request("system:node:edge-node", {"system:nodes"}, {"edge-node"})),
      "san", "no SANs");
  // An OU sneaked into the subject.
  Forge ou;
  ou.subject = {{"O", "system:nodes"}, {"OU", "ops"}, {"CN", "system:node:edge-node"}};
  expect_left_alone(self(kClientKubelet, forge_csr(test_key(), ou)), "subject", "OU");
}

TEST_F(CsrApproverTest, RequestsForMoreThanALeafAreLeftAlone) {
  const auto self = [&](const Forge& f) {
    return csr(kClientKubelet, forge_csr(test_key(), f), kClientUsages, "system:node:edge-node",
               kNodeGroups);
  };
  Forge base;
  base.subject = {{"O", "system:nodes"}, {"CN", "system:node:edge-node"}};
  {
    Forge ca = base;
    ca.extensions = {{NID_basic_constraints, "critical,CA:TRUE"}};
    expect_left_alone(self(ca), "ca", "CA:TRUE");
  }
  {
    Forge ku = base;
    ku.extensions = {{NID_key_usage, "critical,keyCertSign,digitalSignature"}};
    expect_left_alone(self(ku), "extension", "keyUsage");
  }
  {
    Forge cp = base;
    cp.challenge_password = true;
    expect_left_alone(self(cp), "extension", "challengePassword");
  }
  {
    Forge email = base;
    email.extensions = {{NID_subject_alt_name, "email:root@example.com"}};
    expect_left_alone(self(email), "san", "email");
  }
  {
    Forge uri = base;
    uri.extensions = {{NID_subject_alt_name, "URI:spiffe://cluster/ns/x"}};
    expect_left_alone(self(uri), "san", "URI");
  }
}

TEST_F(CsrApproverTest, BrokenObjectsAreLeftAloneAndDecidedOnesIgnored) {
  auto garbage =
      csr(kClientKubelet, "not a pem", kClientUsages, "system:node:edge-node", kNodeGroups);
  expect_left_alone(garbage, "malformed", "request");
  json no_spec = {{"metadata", {{"name", "x"}}}};
  expect_left_alone(no_spec, "malformed", "");
  auto decided = csr(kClientKubelet, request("system:node:edge-node", {"system:nodes"}),
                     kClientUsages, "system:node:edge-node", kNodeGroups);
  decided["status"]["conditions"] = json::array({{{"type", "Denied"}, {"status", "True"}}});
  EXPECT_EQ(decide(decided).verdict, CsrVerdict::AlreadyDecided);
  decided["status"]["conditions"][0]["type"] = "Approved";
  EXPECT_EQ(decide(decided).verdict, CsrVerdict::AlreadyDecided);
}

TEST_F(CsrApproverTest, TunnelAgentNeedsAnExistingNode) {
  expect_left_alone(csr(kApiserverClient, request("system:node:ghost", {"openyurt:tunnel-agent"}),
                        kClientUsages, "system:bootstrap:abcdef", kBootstrapGroups),
                    "node", "ghost");
}

TEST_F(CsrApproverTest, TheApprovalObjectAppendsAnApprovedCondition) {
  auto object = csr(kClientKubelet, request("system:node:edge-node", {"system:nodes"}),
                    kClientUsages, "system:node:edge-node", kNodeGroups);
  auto d = decide(object);
  ASSERT_EQ(d.verdict, CsrVerdict::Approve);
  auto approved = approval_object(object, d, "2024-01-01T00:00:00Z");
  ASSERT_EQ(approved["status"]["conditions"].size(), 1U);
  const auto& c = approved["status"]["conditions"][0];
  EXPECT_EQ(c["type"], "Approved");
  EXPECT_EQ(c["status"], "True");
  EXPECT_EQ(c["reason"], "AutoApproved");
  EXPECT_NE(c["message"].get<std::string>().find("yurt-controller-manager"), std::string::npos);
  EXPECT_EQ(c["lastUpdateTime"], "2024-01-01T00:00:00Z");
  EXPECT_EQ(approved["metadata"]["resourceVersion"], "7") << "the update is conditional";
  EXPECT_EQ(decide(approved).verdict, CsrVerdict::AlreadyDecided);
}

TEST(NodeOf, AcceptsOnlyValidNodeNames) {
  EXPECT_EQ(node_of("system:node:edge-node"), "edge-node");
  EXPECT_EQ(node_of("system:node:a.b-c"), "a.b-c");
  EXPECT_EQ(node_of("system:node:"), "");
  EXPECT_EQ(node_of("system:node:-a"), "");
  EXPECT_EQ(node_of("system:node:a..b"), "");
  EXPECT_EQ(node_of("system:node:A"), "");
  EXPECT_EQ(node_of("system:nodes"), "");
  EXPECT_EQ(node_of("admin"), "");
}

}  // namespace
}  // namespace yurt::controller
