#pragma once

// Helpers for the kube coroutine tests: spawn a coroutine that the test can cancel and inspect,
// and run one to completion with a deadline.

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "test/fakes/run_awaitable.hpp"

namespace yurt::kube::test {

namespace asio = boost::asio;

/// A spawned coroutine: cancel() it, check done() and rethrow its exception.
class Task {
 public:
  struct State {
    asio::cancellation_signal signal;
    bool done = false;
    std::exception_ptr error;
  };

  static Task spawn(asio::io_context& io, asio::awaitable<void> coro) {
    Task t;
    auto state = t.state_;
    asio::co_spawn(
        io, std::move(coro),
        asio::bind_cancellation_slot(state->signal.slot(), [state](std::exception_ptr e) {
          state->done = true;
          state->error = std::move(e);
        }));
    return t;
  }

  void cancel(asio::cancellation_type type = asio::cancellation_type::terminal) {
    state_->signal.emit(type);
  }
  [[nodiscard]] bool done() const noexcept { return state_->done; }
  void rethrow() const {
    if (state_->error) {
      std::rethrow_exception(state_->error);
    }
  }

 private:
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

/// Runs ready handlers until none are left (restarting a stopped context first).
inline std::size_t poll(asio::io_context& io) {
  io.restart();
  return io.poll();
}

/// Runs `coro` on `io` until it completes (real time bounded by `deadline`); rethrows.
template <class T>
T run(asio::io_context& io,
      asio::awaitable<T> coro,
      std::chrono::milliseconds deadline = std::chrono::milliseconds(30000)) {
  return yurt::test::run_awaitable(io, std::move(coro), deadline);
}

}  // namespace yurt::kube::test
