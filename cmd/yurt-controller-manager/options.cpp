#include "cmd/yurt-controller-manager/options.hpp"

namespace yurt::controller {

void add_flags(CLI::App& app, ControllerOptions& o) {
  app.add_option("--kubeconfig", o.kubeconfig,
                 "kubeconfig file; default $KUBECONFIG, then in-cluster, then ~/.kube/config");
  app.add_option("--controllers", o.controllers,
                 "controllers to run: '*' (all), nodelifecycle, csrapprover; '-name' disables one")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--node-monitor-period", o.node_monitor_period,
                 "how often every node is re-evaluated")
      ->capture_default_str();
  app.add_option("--node-monitor-grace-period", o.node_monitor_grace_period,
                 "no heartbeat observed for this long: conditions Unknown, node tainted")
      ->capture_default_str();
  app.add_option("--node-startup-grace-period", o.node_startup_grace_period,
                 "the same for a node that never posted a Ready condition")
      ->capture_default_str();
  app.add_option("--node-eviction-rate", o.node_eviction_rate,
                 "NoExecute taints per second per zone (healthy zone)")
      ->capture_default_str();
  app.add_option("--secondary-node-eviction-rate", o.secondary_node_eviction_rate,
                 "NoExecute taints per second in a partially disrupted large zone")
      ->capture_default_str();
  app.add_option("--unhealthy-zone-threshold", o.unhealthy_zone_threshold,
                 "fraction of not-ready nodes (more than 2) that makes a zone unhealthy")
      ->capture_default_str();
  app.add_option("--large-cluster-size-threshold", o.large_cluster_size_threshold,
                 "an unhealthy zone larger than this slows tainting; a smaller one stops")
      ->capture_default_str();
  app.add_option("--hub-addresses", o.hub_addresses,
                 "IPs yurthub serving certificates may name besides the node's own")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--cluster-domain", o.cluster_domain, "for kubernetes.default.svc.<domain>")
      ->capture_default_str();
  app.add_option("--tunnel-server-identity", o.tunnel_server_identity,
                 "the user that requests yurt-tunnel-server's serving certificate")
      ->capture_default_str();
  app.add_option("--tunnel-server-name", o.tunnel_server_name,
                 "yurt-tunnel-server's serving certificate CN is system:node:<this>")
      ->capture_default_str();
  app.add_option("--tunnel-server-dns-names", o.tunnel_server_dns_names,
                 "DNS SANs the tunnel server may have (default: x-tunnel-server-svc.kube-system…)")
      ->delimiter(',');
  app.add_option("--tunnel-server-ips", o.tunnel_server_ips,
                 "IP SANs the tunnel server may have besides control-plane nodes' and 127.0.0.1")
      ->delimiter(',');
  app.add_option("--leader-elect", o.leader_elect, "elect a leader among replicas")
      ->capture_default_str();
  app.add_option("--pod-name", o.pod_name,
                 "this replica's pod name (downward API), used in its leader-election identity");
  app.add_option("--leader-elect-lease-duration", o.leader_elect_lease_duration,
                 "how long standbys wait before taking over a lease not renewed")
      ->capture_default_str();
  app.add_option("--leader-elect-renew-deadline", o.leader_elect_renew_deadline,
                 "a leader that could not renew for this long stops acting")
      ->capture_default_str();
  app.add_option("--leader-elect-retry-period", o.leader_elect_retry_period,
                 "between attempts to acquire or renew")
      ->capture_default_str();
  app.add_option("--leader-elect-resource-namespace", o.leader_elect_resource_namespace,
                 "namespace of the election Lease")
      ->capture_default_str();
  app.add_option("--leader-elect-resource-name", o.leader_elect_resource_name,
                 "name of the election Lease")
      ->capture_default_str();
  app.add_option("--bind-address", o.bind_address, "address of /healthz, /readyz, /metrics")
      ->capture_default_str();
  app.add_option("--port", o.port, "port of /healthz, /readyz, /metrics (0 = any)")
      ->capture_default_str();
  app.add_option("-v,--v", o.verbosity, "log verbosity (klog -v)")->capture_default_str();
  app.add_option("--log-format", o.log_format, "text or json")->capture_default_str();
}

}  // namespace yurt::controller
