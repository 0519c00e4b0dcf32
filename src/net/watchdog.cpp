#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include "src/net/timeout.hpp"

namespace yurt::net {

Watchdog::Watchdog(Executor ex, std::function<void()> on_expire)
    : state_(std::make_shared<State>(ex)) {
  state_->on_expire = std::move(on_expire);
  state_->timer.expires_at(Clock::time_point::max());
  // Not in a TaskGroup: the coroutine belongs to its owner, which ends it with stop(); it only
  // waits on a timer, so a cancellation ends it at once.
  asio::co_spawn(ex, watch(state_),
                 asio::bind_cancellation_slot(state_->stop.slot(), [](std::exception_ptr) {}));
}

void Watchdog::expires_at(Clock::time_point deadline) {
  state_->deadline = deadline;
  if (deadline < state_->timer.expiry()) {
    state_->timer.expires_at(deadline);  // wakes watch() to wait for the earlier deadline
  }
}

void Watchdog::stop() {
  if (state_->stopped) {
    return;
  }
  state_->stopped = true;
  state_->on_expire = nullptr;
  state_->stop.emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> Watchdog::watch(std::shared_ptr<State> state) {
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    auto [ec] = co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (state->stopped) {
      co_return;
    }
    if (Clock::now() >= state->deadline) {
      state->fired = true;
      if (auto action = std::move(state->on_expire)) {
        action();
      }
      co_return;
    }
    if (!ec) {
      state->timer.expires_at(state->deadline);  // the deadline moved later meanwhile
    }
  }
}

}  // namespace yurt::net
