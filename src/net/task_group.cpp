#include "yurt/net/task_group.hpp"

#include <cassert>
#include <exception>
#include <list>
#include <mutex>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "yurt/base/log.hpp"

#include "src/net/timeout.hpp"

namespace yurt::net {
namespace {

struct Task {
  explicit Task(Executor e, std::string n) : ex(std::move(e)), name(std::move(n)) {}
  Executor ex;
  std::string name;
  asio::cancellation_signal signal;  // emitted only on `ex`
  bool done = false;                 // touched only on `ex`
};

using TaskPtr = std::shared_ptr<Task>;

}  // namespace

struct TaskGroup::State {
  explicit State(Executor ex) : idle(std::move(ex)) {
    // Never expires: waiters are woken by cancel() when the last task ends.
    idle.expires_at(asio::steady_timer::time_point::max());
  }
  mutable std::mutex mutex;
  std::list<TaskPtr> tasks;
  asio::steady_timer idle;  // used on the group's executor only
};

TaskGroup::TaskGroup(Executor ex) : state_(std::make_shared<State>(std::move(ex))) {}

TaskGroup::~TaskGroup() {
  // Tasks hold the state alive, but the objects they use are owned by whoever owns us.
  assert(size() == 0 && "TaskGroup destroyed with running tasks");
}

void TaskGroup::spawn(Executor ex, asio::awaitable<void> task, std::string name) {
  auto entry = std::make_shared<Task>(ex, std::move(name));
  std::list<TaskPtr>::iterator it;
  {
    std::lock_guard lock(state_->mutex);
    it = state_->tasks.insert(state_->tasks.end(), entry);
  }
  auto on_done = [state = state_, it, entry](const std::exception_ptr& error) {
    entry->done = true;
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const boost::system::system_error& e) {
        if (e.code() == asio::error::operation_aborted) {
          log::get("net").debug("task {} cancelled", entry->name);
        } else {
          log::get("net").error("task {} failed: {}", entry->name, e.what());
        }
      } catch (const std::exception& e) {
        log::get("net").error("task {} failed: {}", entry->name, e.what());
      } catch (...) {
        log::get("net").error("task {} failed with a non-standard exception", entry->name);
      }
    }
    bool empty = false;
    {
      std::lock_guard lock(state->mutex);
      state->tasks.erase(it);
      empty = state->tasks.empty();
    }
    if (empty) {
      asio::post(state->idle.get_executor(), [state] { state->idle.cancel(); });
    }
  };
  asio::co_spawn(ex, std::move(task),
                 asio::bind_cancellation_slot(entry->signal.slot(), std::move(on_done)));
}

void TaskGroup::emit(asio::cancellation_type type) {
  std::vector<TaskPtr> snapshot;
  {
    std::lock_guard lock(state_->mutex);
    snapshot.assign(state_->tasks.begin(), state_->tasks.end());
  }
  for (auto& task : snapshot) {
    // Cancellation handlers touch the task's I/O objects: run them on the task's executor.
    asio::dispatch(task->ex, [task, type] {
      if (!task->done) {
        task->signal.emit(type);
      }
    });
  }
}

asio::awaitable<void> TaskGroup::async_wait() {
  auto state = state_;
  for (;;) {
    {
      std::lock_guard lock(state->mutex);
      if (state->tasks.empty()) {
        co_return;
      }
    }
    co_await state->idle.async_wait(asio::as_tuple(asio::use_awaitable));
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      co_return;
    }
  }
}

asio::awaitable<bool> TaskGroup::wait_for(Millis timeout) {
  return with_timeout(async_wait(), timeout);
}

std::size_t TaskGroup::size() const {
  std::lock_guard lock(state_->mutex);
  return state_->tasks.size();
}

}  // namespace yurt::net
