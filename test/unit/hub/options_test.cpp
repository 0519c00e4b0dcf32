#include "src/apps/hub/options.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace yurt::hub {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

HubOptions valid() {
  HubOptions o;
  o.server_addr = {"https://10.0.0.1:6443"};
  o.node_name = "edge-1";
  o.bootstrap_mode = "kubeletcertificate";
  return o;
}

bool has_error(const std::vector<std::string>& errors, const std::string& text) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(text) != std::string::npos; });
}

TEST(HubOptions, DefaultsWithServerAndNodeAreValid) {
  EXPECT_THAT(valid().validate(), IsEmpty());
}

TEST(HubOptions, EveryProblemIsReportedAtOnce) {
  HubOptions o;
  o.proxy_port = 70000;
  o.lb_mode = "random";
  o.heartbeat_timeout_seconds = 0;
  o.log_format = "xml";
  const auto errors = o.validate();
  EXPECT_TRUE(has_error(errors, "--server-addr: at least one apiserver address is required"));
  EXPECT_TRUE(has_error(errors, "--node-name: required"));
  EXPECT_TRUE(has_error(errors, "--proxy-port: 70000 is not a port (1-65535)"));
  EXPECT_TRUE(has_error(errors, "--lb-mode: \"random\" is not one of rr, priority"));
  EXPECT_TRUE(has_error(errors, "--heartbeat-timeout-seconds: 0 must be at least 1"));
  EXPECT_TRUE(has_error(errors, "--log-format: \"xml\" is not one of text, json"));
  EXPECT_TRUE(has_error(errors, "--bootstrap-mode=token needs exactly one of --join-token"));
  EXPECT_GE(errors.size(), 7U);
}

TEST(HubOptions, ServerAddressesAreCheckedAndSplit) {
  auto o = valid();
  o.server_addr = {"https://a.example:6443,https://10.0.0.2",
                   "http://10.0.0.3:6443",
                   "https://[fd00::1]:6443",
                   "https://x:0",
                   "https://h/path",
                   "https://a.example:6443"};
  const auto errors = o.validate();
  EXPECT_TRUE(has_error(errors, "\"http://10.0.0.3:6443\" must be an https:// URL"));
  EXPECT_TRUE(has_error(errors, "\"https://x:0\": port must be 1-65535"));
  EXPECT_TRUE(has_error(errors, "\"https://h/path\" must be scheme://host[:port] only"));
  EXPECT_TRUE(has_error(errors, "\"https://a.example:6443\" is given twice"));
  EXPECT_EQ(errors.size(), 4U) << ::testing::PrintToString(errors);

  o.server_addr = {"https://a.example:6443,https://10.0.0.2", "https://[fd00::1]:6443/"};
  auto s = o.complete();
  ASSERT_TRUE(s) << s.error().what();
  ASSERT_EQ(s->servers.size(), 3U);
  EXPECT_EQ(s->servers[0].url, "https://a.example:6443");
  EXPECT_EQ(s->servers[1].host, "10.0.0.2");
  EXPECT_EQ(s->servers[1].port, 443);
  EXPECT_EQ(s->servers[2].host, "fd00::1");
  EXPECT_EQ(s->servers[2].url, "https://[fd00::1]:6443");
}

TEST(HubOptions, TokenModeNeedsTokenAndPins) {
  auto o = valid();
  o.bootstrap_mode = "token";
  o.join_token = "abcdef.0123456789abcdef";
  EXPECT_TRUE(has_error(o.validate(), "--join-token needs --discovery-token-ca-cert-hash"));
  o.discovery_token_ca_cert_hash = {"sha256:" + std::string(64, 'a')};
  EXPECT_THAT(o.validate(), IsEmpty());
  o.discovery_token_ca_cert_hash = {"md5:1234"};
  EXPECT_TRUE(has_error(o.validate(), "--discovery-token-ca-cert-hash:"));
  o.discovery_token_ca_cert_hash.clear();
  o.discovery_token_unsafe_skip_ca_verification = true;
  EXPECT_THAT(o.validate(), IsEmpty());
  o.join_token = "ABCDEF.0123456789abcdef";
  EXPECT_TRUE(has_error(o.validate(), "--join-token:"));
  // The token is a credential: the message must not echo it.
  for (const auto& e : o.validate()) {
    EXPECT_THAT(e, ::testing::Not(HasSubstr("0123456789abcdef")));
  }
  o.join_token.clear();
  o.bootstrap_file = "/etc/yurthub/bootstrap.conf";
  EXPECT_THAT(o.validate(), IsEmpty());
}

TEST(HubOptions, ListenersMustNotCollide) {
  auto o = valid();
  o.serve_port = 10261;
  EXPECT_THAT(o.validate(), ElementsAre("--serve-port and --proxy-port both use port 10261"));
  o.serve_port = 10267;
  o.proxy_secure_bind_address = "0.0.0.0";
  o.proxy_secure_port = 10267;
  EXPECT_THAT(o.validate(),
              ElementsAre("--serve-port and --proxy-secure-port both use port 10267"));
  o.proxy_secure_bind_address = "10.0.0.5";
  EXPECT_THAT(o.validate(), IsEmpty());
  o.bind_address = "localhost";
  EXPECT_THAT(o.validate(), Contains("--bind-address: \"localhost\" is not an IP address"));
}

TEST(HubOptions, CacheAgents) {
  auto o = valid();
  o.cache_agents = {"kubelet,coredns", "my-agent"};
  auto s = o.complete();
  ASSERT_TRUE(s);
  EXPECT_THAT(s->cache.cache_agents, ElementsAre("kubelet", "coredns", "my-agent"));
  o.cache_agents = {"*,kubelet"};
  EXPECT_TRUE(has_error(o.validate(), "'*' (every component) cannot be combined"));
  o.cache_agents = {"kubelet/v1.32"};
  EXPECT_TRUE(has_error(o.validate(), "is not a component name"));
  o.cache_agents = {"kubelet,"};
  EXPECT_TRUE(has_error(o.validate(), "empty component name"));
}

TEST(HubOptions, CompleteDerivesSettings) {
  auto o = valid();
  o.heartbeat_interval_seconds = 7;
  o.heartbeat_timeout_seconds = 3;
  o.lb_mode = "priority";
  o.proxy_secure_bind_address = "169.254.2.1";
  o.root_dir = "/data/hub";
  auto s = o.complete();
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(s->lb_mode, LbMode::Priority);
  EXPECT_EQ(s->heartbeat_interval, std::chrono::seconds(7));
  EXPECT_EQ(s->heartbeat_timeout, std::chrono::seconds(3));
  EXPECT_EQ(s->disk_cache_path, "/data/hub/cache");
  EXPECT_EQ(s->certs.pki_dir, "/data/hub/pki");
  EXPECT_EQ(s->service_host, "169.254.2.1");
  EXPECT_THAT(s->certs.serving_ips, ElementsAre("127.0.0.1", "169.254.2.1"));
  EXPECT_EQ(s->certs.kubelet_client_key, s->certs.kubelet_client_cert);
  EXPECT_EQ(s->certs.mode, BootstrapMode::KubeletCertificate);

  o.proxy_secure_bind_address = "0.0.0.0";
  s = o.complete();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->service_host, "127.0.0.1");
}

TEST(HubOptions, CompleteFailsWithTheFirstError) {
  HubOptions o;
  auto s = o.complete();
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message(), HasSubstr("--server-addr"));
}

}  // namespace
}  // namespace yurt::hub
