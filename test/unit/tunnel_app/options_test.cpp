// Flags → settings: every problem reported at once, with the flag named.

#include "src/apps/tunnel/options.hpp"

#include <gtest/gtest.h>

namespace yurt::tunnel_app {
namespace {

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
  for (const auto& p : problems) {
    if (p.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(ServerOptions, DefaultsNeedOnlyTheCertificate) {
  ServerOptions o;
  EXPECT_TRUE(mentions(o.validate(), "--cert-file: required"));
  o.cert_file = "/pki/tunnel.pem";
  EXPECT_TRUE(o.validate().empty());
  auto s = o.complete();
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(s->agents.port, 10262);
  EXPECT_EQ(s->egress.address, "127.0.0.1");
  EXPECT_TRUE(s->egress_tcp);
  EXPECT_EQ(s->egress_client_names, std::vector<std::string>{"kube-apiserver-kubelet-client"});
  EXPECT_FALSE(s->iptables.enabled);
  EXPECT_EQ(s->secure_port, 10263);
  EXPECT_EQ(s->insecure_port, 10264);
  EXPECT_EQ(s->meta.port, 10265);
  EXPECT_EQ(s->tls.ca_file, "/etc/kubernetes/pki/ca.crt");
  EXPECT_EQ(s->session.drain_timeout, s->drain_timeout);
}

TEST(ServerOptions, ReportsEveryProblem) {
  ServerOptions o;
  o.cert_file = "/x";
  o.bind_address = "localhost";
  o.tunnel_agent_connect_port = 70000;
  o.allowed_ports = {"9100, 0x10", "65536"};
  o.egress_uds = "relative.sock";
  o.enable_iptables = true;
  o.iptables_sync_period = 1;
  o.dial_timeout = "10";
  o.log_format = "xml";
  auto problems = o.validate();
  EXPECT_TRUE(mentions(problems, "--bind-address: \"localhost\" is not an IP address"));
  EXPECT_TRUE(mentions(problems, "--tunnel-agent-connect-port: 70000 is not a port"));
  EXPECT_TRUE(mentions(problems, "--allowed-ports: \"0x10\" is not a port"));
  EXPECT_TRUE(mentions(problems, "--allowed-ports: \"65536\" is not a port"));
  EXPECT_TRUE(mentions(problems, "--egress-uds: \"relative.sock\" must be an absolute path"));
  EXPECT_TRUE(mentions(problems, "--iptables-sync-period"));
  EXPECT_TRUE(mentions(problems, "--dial-timeout"));
  EXPECT_TRUE(mentions(problems, "--log-format"));
  EXPECT_FALSE(o.complete());
}

TEST(ServerOptions, NeedsAtLeastOneEntryForTheApiserver) {
  ServerOptions o;
  o.cert_file = "/x";
  o.egress_port = 0;
  EXPECT_TRUE(mentions(o.validate(), "no entry for the apiserver"));
  o.egress_uds = "/run/yurt-tunnel/egress.sock";
  EXPECT_TRUE(o.validate().empty());
  auto s = o.complete();
  EXPECT_FALSE(s->egress_tcp);
  o.allowed_ports = {"9100,9101", "9102"};
  EXPECT_EQ(o.complete()->extra_ports, (std::vector<std::uint16_t>{9100, 9101, 9102}));
}

TEST(AgentOptions, NodeServersAndIdentity) {
  AgentOptions o;
  auto problems = o.validate();
  EXPECT_TRUE(mentions(problems, "--node-name: required"));
  EXPECT_TRUE(mentions(problems, "--server-addr: at least one"));
  o.node_name = "edge-1";
  o.server_addr = {"10.0.0.10:10262,tunnel.example:10262", "[fd00::1]:10262"};
  auto s = o.complete();
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(s->servers.size(), 3U);
  EXPECT_EQ(s->cert_dir, "/var/lib/kubelet/pki");  // the kubelet's pair by default
  EXPECT_EQ(s->cert_prefix, "kubelet-client");
  EXPECT_LT(s->reconnect_initial, std::chrono::seconds(1));
  EXPECT_EQ(s->reconnect_cap, std::chrono::seconds(10));
  o.cert_file = "/pki/agent.pem";
  EXPECT_TRUE(o.complete()->cert_dir.empty());
  o.cert_dir = "/elsewhere";
  EXPECT_TRUE(mentions(o.validate(), "give one of them"));
}

TEST(AgentOptions, RefusesBadValues) {
  AgentOptions o;
  o.node_name = "Edge_1";
  o.server_addr = {"10.0.0.10"};
  o.reconnect_initial = "20s";
  o.reconnect_max = "10s";
  o.kubelet_address = "kubelet";
  auto problems = o.validate();
  EXPECT_TRUE(mentions(problems, "--node-name: node name \"Edge_1\""));
  EXPECT_TRUE(mentions(problems, "--server-addr"));
  EXPECT_TRUE(mentions(problems, "--reconnect-max"));
  EXPECT_TRUE(mentions(problems, "--kubelet-address"));
}

}  // namespace
}  // namespace yurt::tunnel_app
