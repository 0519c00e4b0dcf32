#pragma once

// yurthub's identities (architecture D5): the node client certificate it presents to the
// apiserver — the kubelet's pair reloaded when the kubelet rotates it, or our own from a
// bootstrap token and a `kube-apiserver-client-kubelet` CSR, rotated before expiry — and the
// serving certificate of the secure proxy (:10268) from a `kubelet-serving` CSR.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"
#include "yurt/certs/key_pair.hpp"
#include "yurt/certs/rotation.hpp"
#include "yurt/kube/kubeconfig.hpp"
#include "yurt/net/asio.hpp"
#include "yurt/net/tls_context.hpp"

#include "src/apps/hub/metrics.hpp"
#include "src/apps/hub/proxy.hpp"
#include "src/apps/hub/settings.hpp"
#include "src/apps/hub/upstream.hpp"

namespace yurt::hub {

/// @par Thread Safety
/// load() and run() on the main executor; client_ready(), serving() and render() from any
/// thread.
/// @par Lifetime
/// `tls`, `clock` and the Upstream given to run() outlive it.
class CertManager {
 public:
  /// Called on the main executor once a serving certificate is first available.
  using ServingReady = std::function<void(std::shared_ptr<net::TlsContext>)>;

  CertManager(CertSettings settings,
              UpstreamTls& tls,
              UpstreamClients& clients,
              const Clock& clock);
  ~CertManager();
  CertManager(const CertManager&) = delete;
  CertManager& operator=(const CertManager&) = delete;

  /// Installs what is on disk, without any network (so the hub works offline after a reboot):
  /// the kubelet's pair and CA, or our stored pair and CA; the stored serving pair. Problems are
  /// logged; client_ready() says whether a client identity is available.
  void load();

  /// Bootstrap, rotation, reloads and the serving certificate, until cancelled. Needs a healthy
  /// apiserver only for the steps that talk to it and waits for one otherwise.
  net::asio::awaitable<void> run(Upstream& upstream, ServingReady on_serving);

  [[nodiscard]] bool client_ready() const noexcept { return client_ready_.load(); }
  [[nodiscard]] std::shared_ptr<net::TlsContext> serving() const { return serving_tls_.load(); }

  /// Certificate expiry gauges for /metrics.
  void render(PromWriter& w) const;

 private:
  struct PendingCsr {
    std::string name;
    certs::PrivateKey key;
    std::chrono::steady_clock::time_point created;
  };
  enum class Identity { Bootstrap, Node };

  Result<void> install_client(const certs::KeyPair& pair, const std::string& ca_pem);
  Result<void> install_serving(const certs::KeyPair& pair);
  void load_kubelet_pair();
  [[nodiscard]] std::string file_identity() const;

  kube::RestConfig rest_config(const ServerAddress& server, Identity identity) const;
  net::asio::awaitable<Result<void>> discover(ServerAddress server);
  net::asio::awaitable<Result<PendingCsr>> create_csr(ServerAddress server,
                                                      Identity identity,
                                                      bool serving);
  /// Issued → the pair; nullopt while pending; error when denied/failed/unreadable.
  net::asio::awaitable<Result<std::optional<std::string>>> poll_csr(ServerAddress server,
                                                                    Identity identity,
                                                                    std::string name);
  net::asio::awaitable<void> client_step(Upstream& upstream);
  net::asio::awaitable<void> serving_step(Upstream& upstream, const ServingReady& on_serving);
  [[nodiscard]] bool serving_matches(const certs::KeyPair& pair) const;

  CertSettings settings_;
  UpstreamTls& tls_;
  UpstreamClients& clients_;
  const Clock& clock_;
  certs::KeyPairStore client_store_;
  certs::KeyPairStore serving_store_;
  certs::RotationScheduler client_rotation_;
  certs::RotationScheduler serving_rotation_;

  // Main executor only.
  std::optional<certs::KeyPair> client_pair_;
  std::optional<certs::KeyPair> serving_pair_;
  std::string ca_pem_;
  std::string bootstrap_token_;  ///< token mode; a credential
  std::optional<PendingCsr> client_csr_;
  std::optional<PendingCsr> serving_csr_;
  std::string kubelet_files_;  ///< identity of the kubelet's files when last loaded
  bool serving_announced_ = false;
  bool serving_wait_logged_ = false;

  std::atomic<bool> client_ready_{false};
  std::atomic<std::shared_ptr<net::TlsContext>> serving_tls_;
  mutable std::mutex expiry_mutex_;
  std::optional<std::chrono::sys_seconds> client_not_after_;
  std::optional<std::chrono::sys_seconds> serving_not_after_;
};

}  // namespace yurt::hub
