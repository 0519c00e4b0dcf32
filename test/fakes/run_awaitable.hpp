#pragma once

// Runs one coroutine of a test to completion on the test's io_context, with a deadline.

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace yurt::test {

/// Completion token for tests that inspect error codes instead of catching exceptions.
inline constexpr auto kUse = boost::asio::as_tuple(boost::asio::use_awaitable);

/// Runs `coro` on `io` until it completes and returns its value, rethrowing its exception.
/// Throws if it does not complete within `deadline` of real time: a hang guard, so a hung test
/// fails instead of hanging CI; generous because sanitizer builds on a loaded 2-core machine run
/// ten times slower. Other tasks on `io` stay suspended where they are.
template <class T>
T run_awaitable(boost::asio::io_context& io,
                boost::asio::awaitable<T> coro,
                std::chrono::milliseconds deadline = std::chrono::milliseconds(30000)) {
  std::exception_ptr error;
  bool done = false;
  std::optional<std::conditional_t<std::is_void_v<T>, int, T>> value;
  if constexpr (std::is_void_v<T>) {
    boost::asio::co_spawn(io, std::move(coro), [&](std::exception_ptr e) {
      error = e;
      done = true;
    });
  } else {
    boost::asio::co_spawn(io, std::move(coro), [&](std::exception_ptr e, T v) {
      error = e;
      value.emplace(std::move(v));
      done = true;
    });
  }
  io.restart();
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done && io.run_one_until(until) != 0) {
  }
  if (!done) {
    throw std::runtime_error("test coroutine did not finish within the deadline");
  }
  if (error) {
    std::rethrow_exception(error);
  }
  if constexpr (!std::is_void_v<T>) {
    return std::move(*value);
  }
}

}  // namespace yurt::test
