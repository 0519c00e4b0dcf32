#pragma once

// yurthub's flags as given (strings and numbers, OpenYurt's names), checked all at once by
// validate() and turned into HubSettings by complete(). cmd/yurthub binds them to CLI11.

#include <cstdint>
#include <string>
#include <vector>

#include "yurt/base/result.hpp"

#include "src/apps/hub/settings.hpp"

namespace yurt::hub {

struct HubOptions {
  std::vector<std::string> server_addr;  ///< repeatable; each may be a comma list
  std::string node_name;
  std::string bind_address = "127.0.0.1";
  std::string bind_proxy_address;  ///< "" = bind_address
  std::string proxy_secure_bind_address = "127.0.0.1";
  int proxy_port = 10261;
  int proxy_secure_port = 10268;
  int serve_port = 10267;
  std::string root_dir = "/var/lib/yurthub";
  std::string disk_cache_path;  ///< "" = <root-dir>/cache
  std::string bootstrap_mode = "token";
  std::string join_token;
  std::string bootstrap_file;
  std::vector<std::string> discovery_token_ca_cert_hash;
  bool discovery_token_unsafe_skip_ca_verification = false;
  std::string kubelet_client_certificate = "/var/lib/kubelet/pki/kubelet-client-current.pem";
  std::string kubelet_client_key;  ///< "" = the certificate file (kubelet's combined PEM)
  std::string kubelet_ca_file = "/etc/kubernetes/pki/ca.crt";
  std::string lb_mode = "rr";
  int heartbeat_interval_seconds = 10;
  int heartbeat_timeout_seconds = 2;
  std::vector<std::string> cache_agents;  ///< empty = the default agents; "*" = all
  int max_requests_in_flight = 250;
  int workers = 1;
  int verbosity = 2;
  std::string log_format = "text";

  /// Every problem, one precise message each ("--proxy-port: 70000 is not a port (1-65535)");
  /// empty when the options can be completed.
  [[nodiscard]] std::vector<std::string> validate() const;

  /// The settings; fails (with the first validate() message) when validate() is not empty.
  [[nodiscard]] Result<HubSettings> complete() const;
};

}  // namespace yurt::hub
