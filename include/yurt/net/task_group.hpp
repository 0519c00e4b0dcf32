#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/cancellation_type.hpp>

#include "yurt/net/asio.hpp"

namespace yurt::net {

/// A registry of spawned coroutines, for structured shutdown (Beast's task_group, Seastar's
/// gate). Every long-lived coroutine of a daemon is spawned through one, never `detached`.
///
/// Graceful stop: stop accepting → emit(total) → wait_for(drain_timeout) → if that timed out,
/// emit(terminal) → async_wait(). Total cancellation asks a task to stop where that loses
/// nothing (an idle keep-alive read, a watch); terminal aborts whatever it is doing.
///
/// @par Thread Safety
/// spawn(), emit() and size() are safe from any thread. Each task's cancellation is delivered on
/// the executor it was spawned on, so that executor must be single-threaded or a strand.
/// async_wait() and wait_for() must be awaited on the group's own executor.
/// @par Lifetime
/// The group must outlive its tasks: destroy it only after async_wait() returned.
/// @par Errors
/// An exception escaping a task is logged on the "net" logger with the task's name and ends that
/// task only (a cancelled task's operation_aborted is logged at debug).
class TaskGroup {
 public:
  explicit TaskGroup(Executor ex);
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  /// Starts `task` on `ex` and tracks it until it completes.
  void spawn(Executor ex, asio::awaitable<void> task, std::string name = "task");

  /// Delivers a cancellation of `type` to every running task.
  void emit(asio::cancellation_type type);

  /// Completes when no task is running (at once if none is). Returns early, without error, if
  /// the awaiting coroutine is itself cancelled.
  asio::awaitable<void> async_wait();

  /// async_wait() bounded by `timeout`; true when every task finished in time.
  asio::awaitable<bool> wait_for(Millis timeout);

  /// Number of tasks running now.
  [[nodiscard]] std::size_t size() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace yurt::net
