#pragma once

// Helpers shared by the net tests: run a coroutine to completion with a deadline, a one-shot
// event for coordinating a test body with a handler, and raw-byte helpers.

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "yurt/net/any_stream.hpp"
#include "yurt/net/asio.hpp"

#include "test/fakes/run_awaitable.hpp"

namespace yurt::net::test {

using yurt::test::kUse;

using yurt::test::run_awaitable;

/// A one-shot flag a coroutine can wait for (tests coordinate client and handler with it).
class Event {
 public:
  explicit Event(Executor ex) : timer_(std::move(ex)) {
    timer_.expires_at(asio::steady_timer::time_point::max());
  }
  void set() {
    set_ = true;
    timer_.cancel();
  }
  [[nodiscard]] bool is_set() const noexcept { return set_; }
  /// Returns when set, or early if the waiting coroutine is cancelled.
  asio::awaitable<void> wait() {
    while (!set_) {
      co_await timer_.async_wait(kUse);
      auto cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none) {
        co_return;
      }
    }
  }

 private:
  asio::steady_timer timer_;
  bool set_ = false;
};

/// Reads until EOF (or an error); returns everything read.
template <class Stream>
asio::awaitable<std::string> read_to_eof(Stream& stream) {
  std::string out;
  char buf[8192];
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), kUse);
    out.append(buf, n);
    if (ec) {
      co_return out;
    }
  }
}

/// Reads until `out` contains `marker` (or EOF/error).
template <class Stream>
asio::awaitable<std::string> read_until(Stream& stream, std::string_view marker) {
  std::string out;
  char buf[4096];
  while (out.find(marker) == std::string::npos) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), kUse);
    out.append(buf, n);
    if (ec) {
      break;
    }
  }
  co_return out;
}

template <class Stream>
asio::awaitable<void> write_all(Stream& stream, std::string_view data) {
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(data), kUse);
  if (ec) {
    throw boost::system::system_error(ec, "write_all");
  }
}

}  // namespace yurt::net::test
