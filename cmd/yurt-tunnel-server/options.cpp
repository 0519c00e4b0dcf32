#include "cmd/yurt-tunnel-server/options.hpp"

namespace yurt::tunnel_app {

void add_flags(CLI::App& app, ServerOptions& o) {
  app.add_option("--bind-address", o.bind_address, "address of the agents' listener")
      ->capture_default_str();
  app.add_option("--tunnel-agent-connect-port", o.tunnel_agent_connect_port,
                 "port agents dial (TLS 1.3, client certificate CN system:node:<node>)")
      ->capture_default_str();
  app.add_option("--egress-bind-address", o.egress_bind_address,
                 "address of the apiserver's egress CONNECT entry (TCP with mTLS)")
      ->capture_default_str();
  app.add_option("--egress-port", o.egress_port, "its port; 0 = off")->capture_default_str();
  app.add_option("--egress-uds", o.egress_uds,
                 "Unix socket for the apiserver's egress CONNECT entry (mode 0600); off if empty");
  app.add_option("--egress-client-cn", o.egress_client_cn,
                 "client certificate CNs allowed on the TCP egress entry; repeatable")
      ->delimiter(',')
      ->capture_default_str();
  app.add_flag("--enable-iptables", o.enable_iptables,
               "DNAT the apiserver's connections to edge nodes' kubelet ports into the tunnel");
  app.add_option("--dnat-address", o.dnat_address, "address the DNAT rules redirect to")
      ->capture_default_str();
  app.add_option("--secure-bind-port", o.secure_bind_port, "DNAT target for :10250")
      ->capture_default_str();
  app.add_option("--insecure-bind-port", o.insecure_bind_port,
                 "DNAT target for :10255 and --allowed-ports")
      ->capture_default_str();
  app.add_option("--iptables-sync-period", o.iptables_sync_period,
                 "seconds between full iptables resyncs")
      ->capture_default_str();
  app.add_option("--iptables", o.iptables, "iptables binary")->capture_default_str();
  app.add_option("--iptables-restore", o.iptables_restore, "iptables-restore binary")
      ->capture_default_str();
  app.add_option("--meta-bind-address", o.meta_bind_address,
                 "address of /metrics, /healthz, /readyz")
      ->capture_default_str();
  app.add_option("--meta-port", o.meta_port, "port of /metrics, /healthz, /readyz")
      ->capture_default_str();
  app.add_option("--cert-file", o.cert_file, "serving certificate (PEM chain; may hold the key)");
  app.add_option("--key-file", o.key_file, "its key (default: --cert-file)");
  app.add_option("--ca-file", o.ca_file,
                 "CA that verifies agents' and the apiserver's certificates")
      ->capture_default_str();
  app.add_option("--allowed-ports", o.allowed_ports,
                 "node ports reachable besides 10250 and 10255; comma list, repeatable");
  app.add_option("--kubeconfig", o.kubeconfig,
                 "kubeconfig for watching nodes (default in-cluster)");
  app.add_option("--dial-timeout", o.dial_timeout, "direct dials to cloud nodes")
      ->capture_default_str();
  app.add_option("--drain-timeout", o.drain_timeout, "graceful stop")->capture_default_str();
  app.add_option("--v", o.verbosity, "log verbosity (klog -v)")->capture_default_str();
  app.add_option("--log-format", o.log_format, "text or json")->capture_default_str();
}

}  // namespace yurt::tunnel_app
