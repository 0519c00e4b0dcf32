#pragma once

// A scripted kube-apiserver for yurthub's integration tests: TLS on 127.0.0.1 with a throwaway
// CA (client certificates verified when given, so tests see who called), /readyz, pods and
// services list/watch, a request that waits to be released, CSRs signed at once, cluster-info
// for token discovery, an upgrade that echoes. Runs on its own thread. A second fake,
// RawTlsServer, answers with scripted bytes for the hostile-upstream tests.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/certs/authority.hpp"
#include "yurt/certs/bootstrap.hpp"
#include "yurt/net/server.hpp"
#include "yurt/net/tls_context.hpp"

namespace yurt::hub::test {

/// The cluster's CA, the apiserver's serving pair and the node's client pair.
struct FakePki {
  FakePki();
  SystemClock clock;
  std::optional<certs::CertificateAuthority> ca;
  std::string server_cert;  ///< chain for 127.0.0.1
  std::string server_key;
  std::string node_cert;  ///< CN=system:node:edge, O=system:nodes
  std::string node_key;
  [[nodiscard]] std::string pin() const;
};

struct SeenRequest {
  std::string method;
  std::string target;
  net::Headers headers;
  std::string body;
  std::string peer_cn;  ///< "" without a client certificate
  std::vector<std::string> peer_orgs;
};

class FakeApiServer {
 public:
  explicit FakeApiServer(const FakePki& pki);
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  /// Binds 127.0.0.1:`port` (0 = any; the same port again after stop()).
  void start(std::uint16_t port = 0);
  /// Stops accepting and ends every connection (connection refused from now on).
  void stop();
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

  /// Scripts (set from the test thread; read by the handler under the lock).
  void set(std::string path, std::string body);  ///< GET list bodies by path (no query)
  void set_watch_events(std::string path, std::vector<std::string> lines);
  void set_cluster_info(std::string json);
  std::atomic<bool> ready{true};           ///< /readyz 200 or 500
  std::atomic<bool> freeze_readyz{false};  ///< /readyz never answers (a black-holed link)
  std::atomic<bool> sign_csrs{true};       ///< approve and sign CSRs on creation
  /// > 0: GET/LIST bodies go out chunked in writes of this size, 1 ms apart every 16 writes (as
  /// the apiserver streams a LIST while it encodes it).
  std::atomic<std::size_t> body_chunk_bytes{0};

  /// Lets /slow requests, held watches and frozen /readyz go on.
  void release();
  /// How many /slow requests (or watches) are waiting now.
  [[nodiscard]] int waiting() const noexcept { return waiting_.load(); }

  [[nodiscard]] std::vector<SeenRequest> seen() const;
  /// The last request whose target starts with `prefix`.
  [[nodiscard]] std::optional<SeenRequest> last(const std::string& prefix) const;
  [[nodiscard]] std::size_t count(const std::string& prefix) const;
  [[nodiscard]] std::vector<nlohmann::json> csrs() const;

  class Routes;

 private:
  const FakePki& pki_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::unique_ptr<Routes> routes_;
  std::unique_ptr<net::Listener> listener_;
  std::atomic<std::uint16_t> port_{0};
  std::atomic<int> waiting_{0};

  friend class Routes;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> bodies_;
  std::map<std::string, std::vector<std::string>> watch_events_;
  std::string cluster_info_;
  std::vector<SeenRequest> seen_;
  std::vector<nlohmann::json> csrs_;
  bool released_ = false;
  boost::asio::steady_timer release_timer_;
};

/// Accepts TLS connections; answers `/readyz` with 200 and every other request with `reply`
/// (raw bytes, anything at all), then closes.
class RawTlsServer {
 public:
  RawTlsServer(const FakePki& pki, std::string reply);
  ~RawTlsServer();
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] int answered() const noexcept { return answered_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<int> answered_{0};
};

}  // namespace yurt::hub::test
