#pragma once

// The apiserver endpoints behind yurthub: their measured health (architecture D4), selection
// (round-robin or priority), the HealthView the cache's offline answers wait on, and the calls
// in flight on each endpoint, which are cut the moment it is found down so that their clients
// move to the cache at once instead of waiting out a dead TCP connection.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/cancellation_signal.hpp>

#include "yurt/base/result.hpp"
#include "yurt/net/asio.hpp"

#include "src/apps/hub/cache/cache_manager.hpp"
#include "src/apps/hub/metrics.hpp"
#include "src/apps/hub/settings.hpp"

namespace yurt::hub {

/// Lets another thread abort one proxied call: fire() emits terminal cancellation on the call's
/// signal, on the call's own executor, and records why.
///
/// @par Thread Safety
/// Only on the executor the call runs on; Upstream posts fire() there.
class KillSwitch {
 public:
  [[nodiscard]] net::asio::cancellation_slot slot() { return signal_.slot(); }
  /// The call's endpoint went down.
  void fire() {
    fired_ = true;
    signal_.emit(net::asio::cancellation_type::terminal);
  }
  /// The caller itself is being cancelled (graceful stop, drain deadline).
  void cancel() { signal_.emit(net::asio::cancellation_type::terminal); }
  [[nodiscard]] bool fired() const noexcept { return fired_; }

 private:
  net::asio::cancellation_signal signal_;
  bool fired_ = false;
};

/// Checks one endpoint: completes with success when `GET /readyz` answered 200 within
/// `timeout`. An interface so unit tests drive health without sockets.
class Prober {
 public:
  virtual ~Prober() = default;
  virtual net::asio::awaitable<Result<void>> probe(ServerAddress server,
                                                   std::chrono::milliseconds timeout) = 0;
};

/// @par Thread Safety
/// pick(), healthy(), mark_*() and track() are safe from any thread (workers proxy, the main
/// thread probes). wait_healthy() from any executor whose io_context runs on one thread.
/// @par Lifetime
/// Outlives every call it tracks and every wait_healthy() in progress.
class Upstream final : public HealthView {
 public:
  Upstream(std::vector<ServerAddress> servers, LbMode mode);
  ~Upstream() override;

  [[nodiscard]] std::size_t size() const noexcept { return endpoints_.size(); }
  [[nodiscard]] const ServerAddress& address(std::size_t i) const { return endpoints_[i]->address; }
  [[nodiscard]] bool endpoint_healthy(std::size_t i) const noexcept;

  /// A healthy endpoint by the lb mode; nullopt when none is (then the cache answers).
  [[nodiscard]] std::optional<std::size_t> pick() noexcept;

  /// Marks endpoint `i` down (`why` is logged on the transition) and aborts every call tracked
  /// on it.
  void mark_down(std::size_t i, const std::string& why);
  /// Marks endpoint `i` healthy; when it is the first healthy one, offline waiters wake.
  void mark_up(std::size_t i);

  /// HealthView.
  [[nodiscard]] bool healthy() const noexcept override;
  net::asio::awaitable<void> wait_healthy() override;

  /// Registers a call on endpoint `i` that mark_down(i) aborts through `kill` (posted to `ex`).
  /// Deregistered when the returned guard is destroyed.
  class Tracked {
   public:
    Tracked() = default;
    Tracked(Upstream* owner, std::size_t endpoint, std::uint64_t id)
        : owner_(owner), endpoint_(endpoint), id_(id) {}
    Tracked(Tracked&& o) noexcept
        : owner_(std::exchange(o.owner_, nullptr)), endpoint_(o.endpoint_), id_(o.id_) {}
    Tracked& operator=(Tracked&&) = delete;
    Tracked(const Tracked&) = delete;
    ~Tracked();

   private:
    Upstream* owner_ = nullptr;
    std::size_t endpoint_ = 0;
    std::uint64_t id_ = 0;
  };
  [[nodiscard]] Tracked track(std::size_t i, net::Executor ex, std::weak_ptr<KillSwitch> kill);

  /// Probes endpoint `i` every `interval` with `timeout` until cancelled, marking it up or
  /// down from each result. The first probe starts at once. One such task per endpoint.
  net::asio::awaitable<void> run_probe(std::size_t i,
                                       Prober& prober,
                                       std::chrono::milliseconds interval,
                                       std::chrono::milliseconds timeout);

  /// Appends per-endpoint health to /metrics.
  void render(PromWriter& w) const;

 private:
  struct Call {
    net::Executor ex;
    std::weak_ptr<KillSwitch> kill;
  };
  struct Endpoint {
    ServerAddress address;
    std::atomic<bool> healthy{false};
    std::atomic<std::uint64_t> probes_failed{0};
    std::atomic<std::uint64_t> transitions{0};
    std::mutex mutex;  // guards calls
    std::map<std::uint64_t, Call> calls;
  };
  struct Waiter;

  void untrack(std::size_t i, std::uint64_t id);
  void wake_waiters();

  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  LbMode mode_;
  std::atomic<std::uint64_t> next_{0};
  std::atomic<std::uint64_t> next_call_id_{1};
  std::atomic<int> healthy_count_{0};
  std::mutex waiters_mutex_;
  std::vector<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace yurt::hub
