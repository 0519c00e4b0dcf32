#pragma once

#include <chrono>
#include <functional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/signal_set.hpp>

namespace yurt {

/// SIGTERM (kubelet stopping a pod) and SIGINT (Ctrl-C) as an awaitable. Construct it early in
/// App: the handlers are installed by the constructor, so a signal arriving during start-up is
/// queued instead of killing the process.
///
///     ShutdownSignals signals(io.get_executor());
///     int signo = co_await signals.wait();   // then drain(...)
///
/// @par Thread Safety
/// Use from the executor's thread only. At most one wait() at a time.
/// @par Lifetime
/// While it exists the two signals are caught; destroying it restores the default action.
class ShutdownSignals {
 public:
  explicit ShutdownSignals(const boost::asio::any_io_executor& executor);

  /// Completes with the signal number (SIGTERM or SIGINT); call again to wait for another (a
  /// second signal during drain usually means "exit now"). Supports per-operation cancellation,
  /// so `co_await (signals.wait() || other)` works; when cancelled it throws
  /// boost::system::system_error(operation_aborted), like any Asio operation.
  [[nodiscard]] boost::asio::awaitable<int> wait();

 private:
  boost::asio::signal_set signals_;
};

/// What the daemon does to shut down, in this order (the Beast flex-awaitable sequence).
struct DrainSteps {
  /// Close listeners: no new work arrives. Synchronous; may be empty.
  std::function<void()> stop_accepting{};
  /// Emit cancellation to the running tasks (e.g. TaskGroup's terminal cancellation).
  /// Synchronous; may be empty.
  std::function<void()> cancel{};
  /// Completes when every task has finished. Must honour cancellation: when the deadline passes
  /// drain() cancels it and waits for it to return. May be empty (nothing to wait for).
  std::function<boost::asio::awaitable<void>()> wait_idle{};
};

enum class DrainOutcome {
  Drained,           ///< wait_idle finished within the deadline
  DeadlineExceeded,  ///< the deadline passed first; the caller stops its io_contexts anyway
};

/// Runs stop_accepting → cancel → waits for wait_idle at most `deadline` (an Asio steady_timer on
/// the current executor). Never throws for the deadline; exceptions from the steps propagate.
[[nodiscard]] boost::asio::awaitable<DrainOutcome> drain(DrainSteps steps,
                                                         std::chrono::nanoseconds deadline);

}  // namespace yurt
