#pragma once

// The effective configuration of yurthub, built from its flags by HubOptions::complete(). Core
// classes take these structs and never see CLI11 (style.md "Config and flags").

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "src/apps/hub/cache/cache_manager.hpp"

namespace yurt::hub {

/// One apiserver endpoint (`--server-addr`), always https.
struct ServerAddress {
  std::string url;   ///< as given, normalised: "https://10.0.0.1:6443"
  std::string host;  ///< DNS name or IP literal (IPv6 without brackets)
  std::uint16_t port = 443;
};

/// How requests are spread over healthy endpoints (`--lb-mode`).
enum class LbMode {
  RoundRobin,  ///< "rr": every healthy endpoint in turn
  Priority,    ///< "priority": the first healthy endpoint in --server-addr order
};

/// Where the hub's client identity comes from (`--bootstrap-mode`).
enum class BootstrapMode {
  KubeletCertificate,  ///< reuse the kubelet's client pair (reloaded when the kubelet rotates it)
  Token,               ///< bootstrap token → CSR kube-apiserver-client-kubelet, rotated by us
};

struct CertSettings {
  BootstrapMode mode = BootstrapMode::Token;
  std::string node_name;
  /// `<root-dir>/pki`: our client and serving pairs (kubelet layout) and the cluster CA.
  std::filesystem::path pki_dir;
  /// Token mode: the bootstrap token (a credential: never logged).
  std::string join_token;
  /// Token mode: a kubeconfig carrying server, CA and token (`--bootstrap-file`).
  std::filesystem::path bootstrap_file;
  /// Token mode: `--discovery-token-ca-cert-hash` pins, normalised.
  std::vector<std::string> ca_pins;
  bool unsafe_skip_ca_verification = false;
  /// kubeletcertificate mode: the kubelet's pair and the cluster CA.
  std::filesystem::path kubelet_client_cert;
  std::filesystem::path kubelet_client_key;
  std::filesystem::path kubelet_ca_file;
  /// IP SANs of the serving certificate (the secure proxy's addresses).
  std::vector<std::string> serving_ips;
  /// How often the kubelet's files are checked for a rotation (and deadlines looked at).
  std::chrono::seconds reload_interval{10};
  /// How often a pending CSR is looked at; client-go's CSR wait polls about as often.
  std::chrono::milliseconds poll_interval{2000};
};

struct HubSettings {
  std::string node_name;
  std::vector<ServerAddress> servers;
  LbMode lb_mode = LbMode::RoundRobin;
  std::chrono::milliseconds heartbeat_interval{10'000};
  std::chrono::milliseconds heartbeat_timeout{2'000};

  std::string bind_address = "127.0.0.1";         ///< hub server (--bind-address)
  std::string proxy_bind_address = "127.0.0.1";   ///< HTTP proxy (--bind-proxy-address)
  std::string secure_bind_address = "127.0.0.1";  ///< HTTPS proxy (--proxy-secure-bind-address)
  std::uint16_t proxy_port = 10261;
  std::uint16_t proxy_secure_port = 10268;
  std::uint16_t serve_port = 10267;
  /// Where pods reach the secure proxy: what the masterservice filter writes into the
  /// `default/kubernetes` Service the kubelet sees.
  std::string service_host = "127.0.0.1";

  std::filesystem::path root_dir = "/var/lib/yurthub";
  std::filesystem::path disk_cache_path = "/var/lib/yurthub/cache";

  CertSettings certs;
  CacheSettings cache;

  /// Non-long-running requests served at once; more get 429 (`--max-requests-in-flight`).
  std::size_t max_requests_in_flight = 250;
  /// Long-running requests (watches, exec, logs) are counted apart, as the apiserver exempts
  /// them from its limit; this bounds them against a runaway client.
  std::size_t max_long_running = 2000;
  /// Largest request body forwarded (413 beyond). The apiserver accepts about 3 MiB.
  std::size_t max_request_body = std::size_t{3} << 20U;
  /// Worker threads running the proxy listeners.
  std::size_t workers = 1;
  /// Graceful stop: in-flight requests get this long after SIGTERM.
  std::chrono::milliseconds drain_timeout{5000};
};

}  // namespace yurt::hub
