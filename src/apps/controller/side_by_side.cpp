#include "src/apps/controller/side_by_side.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/net/task_group.hpp"

namespace yurt::controller {

namespace asio = boost::asio;

namespace {

struct Ended {
  bool any = false;
  asio::steady_timer timer;
};

// Tells `ended` when `task` is over, however it ends. `ended` lives in the caller's frame, which
// waits for every task before it returns.
asio::awaitable<void> notify_on_exit(asio::awaitable<void> task, Ended& ended) {
  struct Notify {
    Ended& ended;
    ~Notify() {
      ended.any = true;
      ended.timer.cancel();
    }
  } notify{ended};
  co_await std::move(task);
}

}  // namespace

asio::awaitable<void> run_side_by_side(std::vector<NamedTask> tasks) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  auto ex = co_await asio::this_coro::executor;
  Ended ended{false, asio::steady_timer(ex, asio::steady_timer::time_point::max())};
  net::TaskGroup group(ex);
  for (auto& [name, task] : tasks) {
    group.spawn(ex, notify_on_exit(std::move(task), ended), std::move(name));
  }
  if (!ended.any) {
    // Completes when a task ended (the timer is cancelled) or when we are cancelled.
    co_await ended.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  group.emit(asio::cancellation_type::terminal);
  while (group.size() != 0) {
    // A fresh state, so that the wait is not cut short by the cancellation that brought us here;
    // a further one only costs another round.
    co_await asio::this_coro::reset_cancellation_state();
    co_await group.async_wait();
  }
}

}  // namespace yurt::controller
