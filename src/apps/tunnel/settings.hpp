#pragma once

// What yurt-tunnel-server and yurt-tunnel-agent are built from (docs/yurt-tunnel.md). Plain
// structs, filled by options.cpp from flags, or directly by tests.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "yurt/tunnel/session.hpp"

namespace yurt::tunnel_app {

/// Kubelet ports every tunnel serves: the secure API and the read-only port.
inline constexpr std::uint16_t kKubeletPort = 10250;
inline constexpr std::uint16_t kKubeletReadOnlyPort = 10255;

/// The HTTP/1.1 upgrade that starts a tunnel connection (docs/yurt-tunnel.md, "Handshake").
inline constexpr std::string_view kTunnelPath = "/v1/tunnel";
inline constexpr std::string_view kUpgradeToken = "yurt-tunnel/1";

/// Label of nodes that run an agent (OpenYurt's name).
inline constexpr std::string_view kEdgeWorkerLabel = "openyurt.io/is-edge-worker";

/// Where a listener binds.
struct Endpoint {
  std::string address;  ///< IP literal
  std::uint16_t port = 0;
};

/// PEM file paths of a TLS identity and the CA that verifies the peer.
struct TlsFiles {
  std::filesystem::path cert_file;  ///< chain, leaf first (may hold the key too)
  std::filesystem::path key_file;   ///< "" = cert_file (a combined PEM)
  std::filesystem::path ca_file;
};

struct IptablesSettings {
  bool enabled = false;
  /// Binaries, found on PATH unless absolute.
  std::string iptables = "iptables";
  std::string iptables_restore = "iptables-restore";
  /// Full resync even without changes (someone may have flushed the nat table).
  std::chrono::seconds sync_period{60};
};

struct ServerSettings {
  /// Agents' TLS 1.3 listener.
  Endpoint agents{"0.0.0.0", 10262};
  /// The apiserver's egress CONNECT over TCP with mTLS; port 0 with an empty address = off.
  Endpoint egress{"127.0.0.1", 10269};
  bool egress_tcp = true;
  /// The apiserver's egress CONNECT over a Unix socket ("" = off). Mode 0600: the file system
  /// is its access control.
  std::filesystem::path egress_uds;
  /// Client certificate CNs allowed to CONNECT over TCP (the apiserver's kubelet client).
  std::vector<std::string> egress_client_names{"kube-apiserver-kubelet-client"};
  /// DNAT entry: traffic for <edge>:10250 is redirected to secure_port, for 10255 and the extra
  /// ports to insecure_port, both on dnat_address.
  std::string dnat_address = "127.0.0.1";
  std::uint16_t secure_port = 10263;
  std::uint16_t insecure_port = 10264;
  IptablesSettings iptables;
  /// /metrics, /healthz, /readyz.
  Endpoint meta{"127.0.0.1", 10265};
  /// Our serving certificate (agents and the apiserver verify it) and the cluster CA (verifies
  /// agents' and the apiserver's client certificates).
  TlsFiles tls;
  /// Ports beyond 10250 and 10255 that may be reached on nodes.
  std::vector<std::uint16_t> extra_ports;
  /// Kubeconfig for watching Node objects ("" = in-cluster).
  std::filesystem::path kubeconfig;
  /// Streams to an agent: deadlines and windows.
  tunnel::SessionSettings session;
  /// Direct dials to cloud nodes (egress only).
  std::chrono::milliseconds dial_timeout{10'000};
  /// Graceful stop: connections get this long to finish.
  std::chrono::milliseconds drain_timeout{10'000};
  /// After start, how long agents have to come back (a restarted server's agents reconnect
  /// within their 2 s refused-connection backoff): meanwhile the DNAT rules a predecessor left
  /// stay, and a connection for a node whose agent, or whose Node, is not known yet waits for it
  /// instead of being refused.
  std::chrono::milliseconds reconnect_grace{10'000};
};

struct AgentSettings {
  std::string node_name;
  /// Every tunnel server to stay connected to, "host:port".
  std::vector<std::string> servers;
  /// Our client certificate: files, or a kubelet-layout directory (`<dir>/<prefix>-current.pem`)
  /// when cert_dir is set. Re-read before every connection (the kubelet rotates its pair).
  TlsFiles tls;
  std::filesystem::path cert_dir;
  std::string cert_prefix = "kubelet-client";
  /// Name to verify in the server's certificate instead of the dialled host.
  std::string server_name;
  /// Ports beyond 10250 and 10255 the agent will connect to.
  std::vector<std::uint16_t> extra_ports;
  /// Where a stream for the node's name (rather than an address) goes.
  std::string kubelet_address = "127.0.0.1";
  Endpoint meta{"127.0.0.1", 10266};
  tunnel::SessionSettings session;
  std::chrono::milliseconds dial_timeout{5'000};
  /// Reconnect backoff: first delay, growth cap, and the cap when the server refused the TCP
  /// connection (its host is up, the process restarting: retry fast).
  std::chrono::milliseconds reconnect_initial{500};
  std::chrono::milliseconds reconnect_cap{10'000};
  std::chrono::milliseconds reconnect_refused_cap{2'000};
  std::chrono::milliseconds drain_timeout{5'000};
};

}  // namespace yurt::tunnel_app
