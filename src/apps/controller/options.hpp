#pragma once

// yurt-controller-manager's flags as given (upstream kube-controller-manager's names where they
// exist), checked all at once by validate() and turned into ControllerSettings by complete().
// cmd/yurt-controller-manager binds them to CLI11.

#include <string>
#include <vector>

#include "yurt/base/result.hpp"

#include "src/apps/controller/settings.hpp"

namespace yurt::controller {

struct ControllerOptions {
  std::string kubeconfig;
  /// "*" or a list of nodelifecycle, csrapprover; "-name" disables one ("*,-csrapprover").
  std::vector<std::string> controllers{"*"};

  std::string node_monitor_period = "5s";
  std::string node_monitor_grace_period = "40s";
  std::string node_startup_grace_period = "1m0s";
  double node_eviction_rate = 0.1;
  double secondary_node_eviction_rate = 0.01;
  double unhealthy_zone_threshold = 0.55;
  int large_cluster_size_threshold = 50;

  std::vector<std::string> hub_addresses{"127.0.0.1", "169.254.2.1"};
  std::string cluster_domain = "cluster.local";
  std::string tunnel_server_identity = "system:serviceaccount:kube-system:yurt-tunnel-server";
  std::string tunnel_server_name = "yurt-tunnel-server";
  std::vector<std::string> tunnel_server_dns_names;
  std::vector<std::string> tunnel_server_ips;

  bool leader_elect = true;
  /// This replica's pod name (downward API): prefixes the election identity instead of the
  /// hostname, which hostNetwork replicas on one node share.
  std::string pod_name;
  std::string leader_elect_lease_duration = "15s";
  std::string leader_elect_renew_deadline = "10s";
  std::string leader_elect_retry_period = "2s";
  std::string leader_elect_resource_namespace = "kube-system";
  std::string leader_elect_resource_name = "yurt-controller-manager";

  std::string bind_address = "0.0.0.0";
  int port = 10271;
  int verbosity = 2;
  std::string log_format = "text";

  /// Every problem, one precise message each; empty when complete() will succeed.
  [[nodiscard]] std::vector<std::string> validate() const;
  /// The settings (identity = <pod name or hostname>_<random hex>); fails with the first
  /// validate() message.
  [[nodiscard]] Result<ControllerSettings> complete() const;
};

}  // namespace yurt::controller
