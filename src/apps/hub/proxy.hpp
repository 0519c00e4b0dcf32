#pragma once

// The proxy listeners' handler (:10261 for the kubelet, :10268 for pods): classifies each request,
// bounds what is in flight, forwards it to a healthy apiserver while teeing cacheable answers into
// the cache, or — when no apiserver is healthy — lets the cache answer (architecture D1–D4).

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "yurt/base/result.hpp"
#include "yurt/net/client.hpp"
#include "yurt/net/server.hpp"
#include "yurt/net/tls_context.hpp"

#include "src/apps/hub/cache/cache_manager.hpp"
#include "src/apps/hub/metrics.hpp"
#include "src/apps/hub/upstream.hpp"

namespace yurt::hub {

/// One HttpClient per worker executor (HttpClient is not thread-safe).
///
/// @par Thread Safety
/// add() before serving; for_executor() from any worker afterwards.
class UpstreamClients {
 public:
  void add(net::Executor ex, net::ClientSettings settings);
  /// The client of the io_context `ex` belongs to. Precondition: add()ed.
  [[nodiscard]] net::HttpClient& for_executor(const net::Executor& ex);
  /// Closes idle connections everywhere (after a certificate rotation), on each client's own
  /// executor.
  void close_idle_all();

 private:
  struct Entry {
    const void* context;
    net::Executor executor;
    std::unique_ptr<net::HttpClient> client;
  };
  std::vector<Entry> entries_;
};

/// The client identity toward the apiserver, swapped when certificates arrive or rotate.
///
/// @par Thread Safety
/// Safe from any thread (atomic shared_ptr).
class UpstreamTls {
 public:
  /// The mTLS context with the hub's node certificate; null until one is available.
  [[nodiscard]] std::shared_ptr<net::TlsContext> node() const { return node_.load(); }
  /// Verifies the apiserver but presents no certificate: for requests with their own
  /// credentials, anonymous requests from the secure port, and probes.
  [[nodiscard]] std::shared_ptr<net::TlsContext> anonymous() const { return anonymous_.load(); }
  void set_node(std::shared_ptr<net::TlsContext> tls) { node_.store(std::move(tls)); }
  void set_anonymous(std::shared_ptr<net::TlsContext> tls) { anonymous_.store(std::move(tls)); }

 private:
  std::atomic<std::shared_ptr<net::TlsContext>> node_;
  std::atomic<std::shared_ptr<net::TlsContext>> anonymous_;
};

/// Counts requests in flight against a limit.
///
/// @par Thread Safety
/// Safe from any thread.
class InFlight {
 public:
  explicit InFlight(std::size_t limit) : limit_(limit) {}
  class Slot {
   public:
    Slot() = default;
    explicit Slot(InFlight* owner) : owner_(owner) {}
    Slot(Slot&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)) {}
    Slot& operator=(Slot&& o) noexcept {
      if (this != &o) {
        release();
        owner_ = std::exchange(o.owner_, nullptr);
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }
    [[nodiscard]] explicit operator bool() const noexcept { return owner_ != nullptr; }

   private:
    void release() noexcept {
      if (owner_ != nullptr) {
        owner_->count_.fetch_sub(1, std::memory_order_relaxed);
        owner_ = nullptr;
      }
    }
    InFlight* owner_ = nullptr;
  };
  /// A slot, or an empty one when the limit is reached.
  [[nodiscard]] Slot try_acquire() {
    if (count_.fetch_add(1, std::memory_order_relaxed) >= limit_) {
      count_.fetch_sub(1, std::memory_order_relaxed);
      return Slot();
    }
    return Slot(this);
  }
  [[nodiscard]] std::size_t current() const noexcept {
    return count_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::size_t limit() const noexcept { return limit_; }

 private:
  std::size_t limit_;
  std::atomic<std::size_t> count_{0};
};

/// Everything the proxy handlers share. Owned by the App; outlives the listeners.
struct ProxyShared {
  std::string node_name;
  Upstream* upstream = nullptr;
  CacheManager* cache = nullptr;
  HubMetrics* metrics = nullptr;
  UpstreamClients* clients = nullptr;
  UpstreamTls* tls = nullptr;
  InFlight* short_requests = nullptr;
  InFlight* long_requests = nullptr;
  std::size_t max_request_body = std::size_t{3} << 20U;
  /// The masterservice filter's target: the secure proxy's address and port.
  std::string service_host = "127.0.0.1";
  int service_port = 10268;
};

/// @par Thread Safety
/// handle() runs concurrently on every worker.
class ProxyHandler final : public net::Handler {
 public:
  /// `secure`: the :10268 listener, whose requests never travel with the hub's node identity
  /// (its clients are pods with their own tokens).
  ProxyHandler(ProxyShared& shared, bool secure) : shared_(shared), secure_(secure) {}

  net::asio::awaitable<void> handle(net::ServerExchange& exchange) override;

 private:
  ProxyShared& shared_;
  bool secure_;
};

}  // namespace yurt::hub
