// Routing (architecture D6): which node and agent a destination goes to, and every refusal.

#include "src/apps/tunnel/routing.hpp"

#include <gtest/gtest.h>

#include "src/apps/tunnel/errc.hpp"

namespace yurt::tunnel_app {
namespace {

nlohmann::json node(const std::string& name,
                    std::vector<std::pair<std::string, std::string>> addresses,
                    bool edge) {
  nlohmann::json n = {{"metadata", {{"name", name}}},
                      {"status", {{"addresses", nlohmann::json::array()}}}};
  if (edge) {
    n["metadata"]["labels"] = {{"openyurt.io/is-edge-worker", "true"}};
  }
  for (const auto& [type, address] : addresses) {
    n["status"]["addresses"].push_back({{"type", type}, {"address", address}});
  }
  return n;
}

NodeTable table_of(const std::vector<nlohmann::json>& nodes) {
  NodeTable t;
  for (const auto& n : nodes) {
    auto r = node_from_json(n);
    EXPECT_TRUE(r) << r.error().what();
    t.upsert(*r);
  }
  return t;
}

tunnel::Destination dest(std::string host, std::uint16_t port) {
  return {std::move(host), port};
}

TEST(NodeFromJson, ReadsNameEdgeLabelAndAddresses) {
  auto r = node_from_json(node("edge-1",
                               {{"Hostname", "Edge-1"},
                                {"ExternalIP", "203.0.113.7"},
                                {"InternalIP", "10.0.0.11"},
                                {"InternalIP", "fd00::11"},
                                {"InternalDNS", "edge-1.internal"}},
                               true));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->name, "edge-1");
  EXPECT_TRUE(r->edge);
  // Internal before external, IPv4 only, for DNAT and direct dials.
  EXPECT_EQ(r->ipv4, (std::vector<std::string>{"10.0.0.11", "203.0.113.7"}));
  EXPECT_EQ(r->addresses, (std::vector<std::string>{"edge-1", "203.0.113.7", "10.0.0.11",
                                                    "fd00::11", "edge-1.internal"}));
}

TEST(NodeFromJson, EdgeOnlyWhenTheLabelIsTrue) {
  auto n = node("n", {}, false);
  n["metadata"]["labels"] = {{"openyurt.io/is-edge-worker", "false"}};
  EXPECT_FALSE(node_from_json(n)->edge);
  n["metadata"]["labels"] = {{"openyurt.io/is-edge-worker", true}};  // not a string
  EXPECT_FALSE(node_from_json(n)->edge);
}

TEST(NodeFromJson, RefusesObjectsWithoutAUsableNameAndSkipsJunkAddresses) {
  EXPECT_EQ(node_from_json(nlohmann::json::array()).error().code(), Errc::InvalidNode);
  EXPECT_EQ(node_from_json({{"metadata", {{"name", 7}}}}).error().code(), Errc::InvalidNode);
  EXPECT_EQ(node_from_json({{"metadata", {{"name", "Bad_Name"}}}}).error().code(),
            Errc::InvalidNode);
  auto n = node("ok", {{"InternalIP", "not an address!"}, {"InternalIP", "10.1.1.1"}}, false);
  n["status"]["addresses"].push_back(42);
  n["status"]["addresses"].push_back({{"type", "InternalIP"}});
  auto r = node_from_json(n);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->addresses, (std::vector<std::string>{"ok", "10.1.1.1"}));
}

TEST(NormaliseHost, CanonicalIpsAndLowerCaseNames) {
  EXPECT_EQ(normalise_host("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(normalise_host("::ffff:10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(normalise_host("FD00:0::1"), "fd00::1");
  EXPECT_EQ(normalise_host("Edge-1.Example"), "edge-1.example");
  EXPECT_EQ(normalise_host("a b"), "");
  EXPECT_EQ(normalise_host(""), "");
}

TEST(NodeTable, FindsOwnersAndForgetsOldAddressesOnUpdate) {
  auto t = table_of({node("a", {{"InternalIP", "10.0.0.1"}}, true)});
  EXPECT_EQ(t.owners("10.0.0.1"), std::vector<std::string>{"a"});
  EXPECT_EQ(t.owners("A"), std::vector<std::string>{"a"});
  t.upsert(*node_from_json(node("a", {{"InternalIP", "10.0.0.2"}}, true)));
  EXPECT_TRUE(t.owners("10.0.0.1").empty());
  EXPECT_EQ(t.owners("10.0.0.2"), std::vector<std::string>{"a"});
  t.remove("a");
  EXPECT_TRUE(t.owners("10.0.0.2").empty());
  EXPECT_EQ(t.size(), 0U);
}

class RouteTest : public ::testing::Test {
 protected:
  NodeTable table =
      table_of({node("edge-1", {{"InternalIP", "10.0.0.11"}, {"Hostname", "edge-1"}}, true),
                node("edge-2", {{"InternalIP", "10.0.0.12"}}, true),
                node("cloud-1", {{"InternalIP", "10.0.0.10"}}, false),
                node("dup-a", {{"InternalIP", "10.0.0.99"}}, true),
                node("dup-b", {{"InternalIP", "10.0.0.99"}}, true)});
  PortPolicy ports{{9100}};
  std::function<bool(std::string_view)> agents = [](std::string_view n) { return n == "edge-1"; };
};

TEST_F(RouteTest, ANodeWithAnAgentGetsItsTunnel) {
  for (const auto* host : {"10.0.0.11", "edge-1", "EDGE-1"}) {
    auto r = route(dest(host, 10250), Entry::Egress, table, ports, agents);
    EXPECT_EQ(r.kind, Route::Kind::Tunnel) << host;
    EXPECT_EQ(r.node, "edge-1");
  }
  auto r = route(dest("10.0.0.11", 9100), Entry::Dnat, table, ports, agents);
  EXPECT_EQ(r.kind, Route::Kind::Tunnel);
  EXPECT_EQ(r.destination, "10.0.0.11:9100");
}

TEST_F(RouteTest, PortsOutsideThePolicyAreRefusedWhateverTheNode) {
  for (std::uint16_t port : {22, 443, 10256, 6443}) {
    auto r = route(dest("10.0.0.11", port), Entry::Egress, table, ports, agents);
    EXPECT_EQ(r.kind, Route::Kind::Refuse);
    EXPECT_EQ(r.reason, RefuseReason::PortNotAllowed);
    EXPECT_EQ(http_status(r.reason), 403);
    EXPECT_NE(r.message.find("9100, 10250, 10255"), std::string::npos) << r.message;
  }
}

TEST_F(RouteTest, AddressesOfNoNodeAreRefused) {
  for (const auto* host : {"10.96.0.1", "192.168.0.100", "kubernetes.default", "127.0.0.1"}) {
    auto r = route(dest(host, 10250), Entry::Egress, table, ports, agents);
    EXPECT_EQ(r.kind, Route::Kind::Refuse) << host;
    EXPECT_EQ(r.reason, RefuseReason::NotANode);
  }
}

TEST_F(RouteTest, AnAddressTwoNodesClaimIsRefused) {
  auto r = route(dest("10.0.0.99", 10250), Entry::Egress, table, ports,
                 [](std::string_view) { return true; });
  EXPECT_EQ(r.reason, RefuseReason::Ambiguous);
  EXPECT_NE(r.message.find("dup-a, dup-b"), std::string::npos);
}

TEST_F(RouteTest, EdgeNodeWithoutAgentIsUnavailable) {
  auto r = route(dest("10.0.0.12", 10250), Entry::Egress, table, ports, agents);
  EXPECT_EQ(r.reason, RefuseReason::NoAgent);
  EXPECT_EQ(http_status(r.reason), 503);
}

TEST_F(RouteTest, CloudNodesAreDialledDirectlyOnlyFromTheEgressEntry) {
  auto r = route(dest("10.0.0.10", 10250), Entry::Egress, table, ports, agents);
  EXPECT_EQ(r.kind, Route::Kind::Direct);
  EXPECT_EQ(r.destination, "10.0.0.10");
  auto by_name = route(dest("cloud-1", 10250), Entry::Egress, table, ports, agents);
  EXPECT_EQ(by_name.kind, Route::Kind::Direct);
  EXPECT_EQ(by_name.destination, "10.0.0.10");
  // A redirected connection is never dialled again: it would loop through our own rules.
  auto dnat = route(dest("10.0.0.10", 10250), Entry::Dnat, table, ports, agents);
  EXPECT_EQ(dnat.kind, Route::Kind::Refuse);
}

TEST(PortPolicy, AlwaysHasTheKubeletPorts) {
  PortPolicy p;
  EXPECT_TRUE(p.allows(10250));
  EXPECT_TRUE(p.allows(10255));
  EXPECT_FALSE(p.allows(10256));
  EXPECT_EQ(p.describe(), "10250, 10255");
}

TEST(NodeFromCommonName, OnlyNodeIdentities) {
  EXPECT_EQ(*node_from_common_name("system:node:edge-1"), "edge-1");
  EXPECT_EQ(node_from_common_name("kube-apiserver-kubelet-client").error().code(),
            Errc::Unauthorized);
  EXPECT_EQ(node_from_common_name("system:node:").error().code(), Errc::Unauthorized);
  EXPECT_EQ(node_from_common_name("system:node:Edge_1").error().code(), Errc::Unauthorized);
  EXPECT_EQ(node_from_common_name("system:nodes:edge-1").error().code(), Errc::Unauthorized);
}

}  // namespace
}  // namespace yurt::tunnel_app
