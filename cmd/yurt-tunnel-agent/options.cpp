#include "cmd/yurt-tunnel-agent/options.hpp"

namespace yurt::tunnel_app {

void add_flags(CLI::App& app, AgentOptions& o) {
  app.add_option("--node-name", o.node_name, "this node (must match the certificate's CN)");
  app.add_option("--server-addr,--tunnelserver-addr", o.server_addr,
                 "tunnel server host:port; repeat or comma-separate to connect to every replica")
      ->delimiter(',');
  app.add_option("--cert-file", o.cert_file, "client certificate (PEM chain; may hold the key)");
  app.add_option("--key-file", o.key_file, "its key (default: --cert-file)");
  app.add_option("--cert-dir", o.cert_dir,
                 "directory with <prefix>-current.pem (the kubelet's layout); default "
                 "/var/lib/kubelet/pki when no --cert-file");
  app.add_option("--cert-prefix", o.cert_prefix, "file prefix in --cert-dir")
      ->capture_default_str();
  app.add_option("--ca-file", o.ca_file, "CA that verifies the tunnel server")
      ->capture_default_str();
  app.add_option("--server-name", o.server_name,
                 "name to verify in the server's certificate instead of the dialled host");
  app.add_option("--allowed-ports", o.allowed_ports,
                 "local ports reachable besides 10250 and 10255; comma list, repeatable");
  app.add_option("--kubelet-address", o.kubelet_address,
                 "where streams addressed to the node's name go")
      ->capture_default_str();
  app.add_option("--meta-bind-address", o.meta_bind_address,
                 "address of /metrics, /healthz, /readyz")
      ->capture_default_str();
  app.add_option("--meta-port", o.meta_port, "port of /metrics, /healthz, /readyz")
      ->capture_default_str();
  app.add_option("--dial-timeout", o.dial_timeout, "connect to the server or a local port")
      ->capture_default_str();
  app.add_option("--reconnect-initial", o.reconnect_initial, "first reconnect delay")
      ->capture_default_str();
  app.add_option("--reconnect-max", o.reconnect_max, "longest reconnect delay")
      ->capture_default_str();
  app.add_option("--drain-timeout", o.drain_timeout, "graceful stop")->capture_default_str();
  app.add_option("--v", o.verbosity, "log verbosity (klog -v)")->capture_default_str();
  app.add_option("--log-format", o.log_format, "text or json")->capture_default_str();
}

}  // namespace yurt::tunnel_app
