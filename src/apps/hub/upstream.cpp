#include "src/apps/hub/upstream.hpp"

#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/base/log.hpp"

namespace yurt::hub {

namespace asio = boost::asio;
namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

spdlog::logger& logger() {
  return log::get("hub");
}

}  // namespace

struct Upstream::Waiter {
  explicit Waiter(net::Executor ex) : executor(ex), timer(std::move(ex)) {
    timer.expires_at(asio::steady_timer::time_point::max());
  }
  net::Executor executor;
  asio::steady_timer timer;
  bool woken = false;  // touched only on `executor`
};

Upstream::Upstream(std::vector<ServerAddress> servers, LbMode mode) : mode_(mode) {
  for (auto& s : servers) {
    auto e = std::make_unique<Endpoint>();
    e->address = std::move(s);
    endpoints_.push_back(std::move(e));
  }
}

Upstream::~Upstream() = default;

bool Upstream::endpoint_healthy(std::size_t i) const noexcept {
  return endpoints_[i]->healthy.load(std::memory_order_acquire);
}

std::optional<std::size_t> Upstream::pick() noexcept {
  const std::size_t n = endpoints_.size();
  if (n == 0) {
    return std::nullopt;
  }
  const std::size_t start =
      mode_ == LbMode::Priority ? 0 : next_.fetch_add(1, std::memory_order_relaxed) % n;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (start + k) % n;
    if (endpoint_healthy(i)) {
      return i;
    }
  }
  return std::nullopt;
}

bool Upstream::healthy() const noexcept {
  return healthy_count_.load(std::memory_order_acquire) > 0;
}

void Upstream::mark_down(std::size_t i, const std::string& why) {
  auto& e = *endpoints_[i];
  if (e.healthy.exchange(false, std::memory_order_acq_rel)) {
    e.transitions.fetch_add(1, std::memory_order_relaxed);
    const int left = healthy_count_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if (left == 0) {
      logger().warn("apiserver {} is down ({}); no healthy apiserver left: serving from cache",
                    e.address.url, why);
    } else {
      logger().warn("apiserver {} is down ({}); {} healthy left", e.address.url, why, left);
    }
  }
  // Abort whatever still runs on it, also when it was already marked down: calls that started
  // just before the transition must not hang on a dead connection.
  std::map<std::uint64_t, Call> calls;
  {
    std::scoped_lock lock(e.mutex);
    calls.swap(e.calls);
  }
  for (auto& [id, call] : calls) {
    asio::post(call.ex, [kill = std::move(call.kill)] {
      if (auto k = kill.lock()) {
        k->fire();
      }
    });
  }
}

void Upstream::mark_up(std::size_t i) {
  auto& e = *endpoints_[i];
  if (!e.healthy.exchange(true, std::memory_order_acq_rel)) {
    e.transitions.fetch_add(1, std::memory_order_relaxed);
    const int now = healthy_count_.fetch_add(1, std::memory_order_acq_rel) + 1;
    logger().info("apiserver {} is healthy ({} healthy)", e.address.url, now);
    if (now == 1) {
      wake_waiters();
    }
  }
}

void Upstream::wake_waiters() {
  std::vector<std::shared_ptr<Waiter>> waiters;
  {
    std::scoped_lock lock(waiters_mutex_);
    waiters.swap(waiters_);
  }
  for (auto& w : waiters) {
    asio::post(w->executor, [w] {
      w->woken = true;
      w->timer.cancel();
    });
  }
}

asio::awaitable<void> Upstream::wait_healthy() {
  if (healthy()) {
    co_return;
  }
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  {
    std::scoped_lock lock(waiters_mutex_);
    waiters_.push_back(waiter);
  }
  // mark_up() may have run between the first check and the registration.
  while (!healthy() && !waiter->woken) {
    co_await waiter->timer.async_wait(kUse);
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      break;
    }
  }
  std::scoped_lock lock(waiters_mutex_);
  std::erase(waiters_, waiter);
}

Upstream::Tracked Upstream::track(std::size_t i, net::Executor ex, std::weak_ptr<KillSwitch> kill) {
  const auto id = next_call_id_.fetch_add(1, std::memory_order_relaxed);
  auto& e = *endpoints_[i];
  {
    std::scoped_lock lock(e.mutex);
    e.calls.emplace(id, Call{std::move(ex), std::move(kill)});
  }
  return Tracked(this, i, id);
}

void Upstream::untrack(std::size_t i, std::uint64_t id) {
  auto& e = *endpoints_[i];
  std::scoped_lock lock(e.mutex);
  e.calls.erase(id);
}

Upstream::Tracked::~Tracked() {
  if (owner_ != nullptr) {
    owner_->untrack(endpoint_, id_);
  }
}

asio::awaitable<void> Upstream::run_probe(std::size_t i,
                                          Prober& prober,
                                          std::chrono::milliseconds interval,
                                          std::chrono::milliseconds timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    auto result = co_await prober.probe(endpoints_[i]->address, timeout);
    {
      auto cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none) {
        co_return;
      }
    }
    if (result) {
      mark_up(i);
    } else {
      endpoints_[i]->probes_failed.fetch_add(1, std::memory_order_relaxed);
      mark_down(i, result.error().what());
    }
    timer.expires_at(started + interval);
    auto [ec] = co_await timer.async_wait(kUse);
    if (ec) {
      co_return;  // cancelled: the hub is stopping
    }
  }
}

void Upstream::render(PromWriter& w) const {
  w.family("yurthub_upstream_healthy", "gauge",
           "1 when the apiserver endpoint answered its last /readyz probe, else 0.");
  for (const auto& e : endpoints_) {
    w.sample("yurthub_upstream_healthy", {{"server", e->address.url}},
             e->healthy.load(std::memory_order_acquire) ? 1 : 0);
  }
  w.family("yurthub_upstream_probe_failures_total", "counter",
           "Failed /readyz probes per apiserver endpoint.");
  for (const auto& e : endpoints_) {
    w.sample("yurthub_upstream_probe_failures_total", {{"server", e->address.url}},
             static_cast<double>(e->probes_failed.load(std::memory_order_relaxed)));
  }
  w.family("yurthub_upstream_transitions_total", "counter",
           "Health changes (up or down) per apiserver endpoint.");
  for (const auto& e : endpoints_) {
    w.sample("yurthub_upstream_transitions_total", {{"server", e->address.url}},
             static_cast<double>(e->transitions.load(std::memory_order_relaxed)));
  }
}

}  // namespace yurt::hub
