#pragma once

// The daemons' flags as given (strings and numbers, OpenYurt's names where they exist), checked
// all at once by validate() and turned into settings by complete(). cmd/ binds them to CLI11.

#include <string>
#include <vector>

#include "yurt/base/result.hpp"

#include "src/apps/tunnel/settings.hpp"

namespace yurt::tunnel_app {

struct ServerOptions {
  std::string bind_address = "0.0.0.0";
  int tunnel_agent_connect_port = 10262;
  std::string egress_bind_address = "127.0.0.1";
  int egress_port = 10269;  ///< 0 = no TCP egress entry
  std::string egress_uds;   ///< "" = no Unix socket entry
  std::vector<std::string> egress_client_cn{"kube-apiserver-kubelet-client"};
  bool enable_iptables = false;
  std::string dnat_address = "127.0.0.1";
  int secure_bind_port = 10263;
  int insecure_bind_port = 10264;
  int iptables_sync_period = 60;  ///< seconds
  std::string iptables = "iptables";
  std::string iptables_restore = "iptables-restore";
  std::string meta_bind_address = "127.0.0.1";
  int meta_port = 10265;
  std::string cert_file;
  std::string key_file;
  std::string ca_file = "/etc/kubernetes/pki/ca.crt";
  std::vector<std::string> allowed_ports;  ///< each may be a comma list
  std::string kubeconfig;
  std::string dial_timeout = "10s";
  std::string drain_timeout = "10s";
  int verbosity = 2;
  std::string log_format = "text";

  /// Every problem, one precise message each; empty when complete() will succeed.
  [[nodiscard]] std::vector<std::string> validate() const;
  /// The settings; fails with the first validate() message.
  [[nodiscard]] Result<ServerSettings> complete() const;
};

struct AgentOptions {
  std::string node_name;
  std::vector<std::string> server_addr;  ///< each may be a comma list
  std::string cert_file;
  std::string key_file;
  std::string cert_dir;  ///< kubelet layout; default when no --cert-file: /var/lib/kubelet/pki
  std::string cert_prefix = "kubelet-client";
  std::string ca_file = "/etc/kubernetes/pki/ca.crt";
  std::string server_name;
  std::vector<std::string> allowed_ports;
  std::string kubelet_address = "127.0.0.1";
  std::string meta_bind_address = "127.0.0.1";
  int meta_port = 10266;
  std::string dial_timeout = "5s";
  std::string reconnect_initial = "500ms";
  std::string reconnect_max = "10s";
  std::string drain_timeout = "5s";
  int verbosity = 2;
  std::string log_format = "text";

  [[nodiscard]] std::vector<std::string> validate() const;
  [[nodiscard]] Result<AgentSettings> complete() const;
};

}  // namespace yurt::tunnel_app
