#include "cmd/yurthub/options.hpp"

namespace yurt::hub {

void add_flags(CLI::App& app, HubOptions& o) {
  app.add_option("--server-addr", o.server_addr,
                 "apiserver address(es), https://host:port; repeat or comma-separate")
      ->delimiter(',');
  app.add_option("--node-name", o.node_name, "the node this hub runs on");
  app.add_option("--bind-address", o.bind_address, "address of the hub server (--serve-port)")
      ->capture_default_str();
  app.add_option("--bind-proxy-address", o.bind_proxy_address,
                 "address of the HTTP proxy (default: --bind-address)");
  app.add_option("--proxy-port", o.proxy_port, "port of the HTTP proxy for the kubelet")
      ->capture_default_str();
  app.add_option("--proxy-secure-port", o.proxy_secure_port,
                 "port of the HTTPS proxy for pods (in-cluster config)")
      ->capture_default_str();
  app.add_option("--proxy-secure-bind-address", o.proxy_secure_bind_address,
                 "address of the HTTPS proxy; pods reach the apiserver here")
      ->capture_default_str();
  app.add_option("--serve-port", o.serve_port,
                 "port of the hub server (/v1/healthz, /v1/readyz, /metrics, /v1/cache)")
      ->capture_default_str();
  app.add_option("--root-dir", o.root_dir, "yurthub's state: certificates and, by default, cache")
      ->capture_default_str();
  app.add_option("--disk-cache-path", o.disk_cache_path,
                 "cache directory (default <root-dir>/cache)");
  app.add_option("--bootstrap-mode", o.bootstrap_mode,
                 "client identity: token (bootstrap token + CSR) or kubeletcertificate")
      ->capture_default_str();
  app.add_option("--join-token", o.join_token, "bootstrap token <id>.<secret> (token mode)");
  app.add_option("--bootstrap-file", o.bootstrap_file,
                 "kubeconfig with server, CA and bootstrap token (token mode)");
  app.add_option("--discovery-token-ca-cert-hash", o.discovery_token_ca_cert_hash,
                 "sha256:<hex> pin of the cluster CA's public key; repeatable")
      ->delimiter(',');
  app.add_flag("--discovery-token-unsafe-skip-ca-verification",
               o.discovery_token_unsafe_skip_ca_verification,
               "trust the CA in cluster-info without a pin");
  app.add_option("--kubelet-client-certificate", o.kubelet_client_certificate,
                 "the kubelet's client certificate (kubeletcertificate mode)")
      ->capture_default_str();
  app.add_option("--kubelet-client-key", o.kubelet_client_key,
                 "its key (default: the certificate file, the kubelet's combined PEM)");
  app.add_option("--kubelet-ca-file", o.kubelet_ca_file, "cluster CA (kubeletcertificate mode)")
      ->capture_default_str();
  app.add_option("--lb-mode", o.lb_mode, "rr or priority")->capture_default_str();
  app.add_option("--heartbeat-interval-seconds", o.heartbeat_interval_seconds,
                 "seconds between /readyz probes of each apiserver")
      ->capture_default_str();
  app.add_option("--heartbeat-timeout-seconds", o.heartbeat_timeout_seconds,
                 "probe and connect timeout")
      ->capture_default_str();
  app.add_option("--cache-agents", o.cache_agents,
                 "components whose responses are cached (default kubelet, kube-proxy, coredns, "
                 "flanneld, yurt-tunnel-agent, yurthub); '*' = all")
      ->delimiter(',');
  app.add_option("--max-requests-in-flight", o.max_requests_in_flight,
                 "non-long-running requests served at once; more get 429")
      ->capture_default_str();
  app.add_option("--workers", o.workers, "proxy worker threads")->capture_default_str();
  app.add_option("-v,--v", o.verbosity, "log verbosity (klog -v)")->capture_default_str();
  app.add_option("--log-format", o.log_format, "text or json")->capture_default_str();
}

}  // namespace yurt::hub
