#pragma once

// Timeouts for single operations, and a watchdog for connection-long deadlines.
//
// Boost 1.81's parallel groups (the `||` and `&&` of awaitable_operators) forward only the
// first cancellation request they receive to their operations. If that first request is a
// `total` one (a graceful stop) that the racing operations ignore, a later `terminal` request
// (the drain deadline) can no longer reach them. So every race here runs inside its own
// co_spawn'ed coroutine with the default terminal-only filter: total requests stop at its door
// and the first one the group sees is the terminal one.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/net/asio.hpp"

namespace yurt::net {

namespace detail {

template <class T>
asio::awaitable<std::optional<T>> race_timer(asio::awaitable<T> op, Millis timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  // as_tuple: the timer "succeeds" when cancelled too, so the group always ends the other side.
  auto result = co_await (std::move(op) || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (result.index() == 0) {
    co_return std::get<0>(std::move(result));
  }
  co_return std::nullopt;
}

inline asio::awaitable<bool> race_timer_void(asio::awaitable<void> op, Millis timeout) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto result = co_await (std::move(op) || timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  co_return result.index() == 0;
}

}  // namespace detail

/// Awaits `op` for at most `timeout`. Empty when the timeout (or a terminal cancellation of the
/// caller) ended it first; `op` has then been cancelled and has finished. `T` must be default
/// constructible (Asio's co_spawn needs it).
template <class T>
asio::awaitable<std::optional<T>> with_timeout(asio::awaitable<T> op, Millis timeout) {
  auto ex = co_await asio::this_coro::executor;
  co_return co_await asio::co_spawn(ex, detail::race_timer(std::move(op), timeout),
                                    asio::use_awaitable);
}

/// with_timeout() for operations without a value: true when `op` finished first.
inline asio::awaitable<bool> with_timeout(asio::awaitable<void> op, Millis timeout) {
  auto ex = co_await asio::this_coro::executor;
  co_return co_await asio::co_spawn(ex, detail::race_timer_void(std::move(op), timeout),
                                    asio::use_awaitable);
}

/// Calls an action (close a connection) once a deadline passes. The deadline moves freely:
/// later (activity) costs nothing, earlier re-arms the timer. Runs a small coroutine beside the
/// owner's; stop() (or destruction) ends it without ever calling the action afterwards.
///
/// Not thread-safe: use from the executor it was created with.
class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;

  Watchdog(Executor ex, std::function<void()> on_expire);
  ~Watchdog() { stop(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void expires_after(Millis timeout) { expires_at(Clock::now() + timeout); }
  void expires_at(Clock::time_point deadline);
  void clear() { state_->deadline = Clock::time_point::max(); }
  [[nodiscard]] bool fired() const noexcept { return state_->fired; }
  void stop();

 private:
  struct State {
    explicit State(Executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    std::function<void()> on_expire;
    asio::cancellation_signal stop;
    bool fired = false;
    bool stopped = false;
  };
  static asio::awaitable<void> watch(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace yurt::net
