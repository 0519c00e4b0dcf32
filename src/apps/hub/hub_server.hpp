#pragma once

// The hub server on 127.0.0.1:10267: /v1/healthz, /v1/readyz, /metrics and a read-only view of
// the cache (/v1/cache?prefix=…).

#include <functional>

#include "yurt/net/server.hpp"
#include "yurt/storage/store.hpp"

#include "src/apps/hub/cache/cache_manager.hpp"
#include "src/apps/hub/metrics.hpp"
#include "src/apps/hub/proxy.hpp"
#include "src/apps/hub/upstream.hpp"

namespace yurt::hub {

class CertManager;

/// What the hub server reports on. Pointers owned by the App.
struct HubServerSources {
  HubMetrics* metrics = nullptr;
  Upstream* upstream = nullptr;
  CacheManager* cache = nullptr;
  storage::Store* store = nullptr;
  CertManager* certs = nullptr;
  InFlight* short_requests = nullptr;
  InFlight* long_requests = nullptr;
};

/// @par Thread Safety
/// handle() may run on any executor.
class HubServer final : public net::Handler {
 public:
  /// Entries listed by one /v1/cache answer at most.
  static constexpr std::size_t kMaxListed = 10'000;

  explicit HubServer(HubServerSources sources) : sources_(sources) {}
  net::asio::awaitable<void> handle(net::ServerExchange& exchange) override;

  /// The /metrics body.
  [[nodiscard]] std::string metrics_text() const;
  /// Why the hub is not ready ("" when it is).
  [[nodiscard]] std::string not_ready_reason() const;

 private:
  [[nodiscard]] net::Response cache_listing(const std::string& target) const;

  HubServerSources sources_;
};

}  // namespace yurt::hub
