#include "yurt/base/shutdown.hpp"

#include <csignal>
#include <utility>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace yurt {

namespace asio = boost::asio;

ShutdownSignals::ShutdownSignals(const asio::any_io_executor& executor)
    : signals_(executor, SIGTERM, SIGINT) {}

asio::awaitable<int> ShutdownSignals::wait() {
  const int signo = co_await signals_.async_wait(asio::use_awaitable);
  co_return signo;
}

asio::awaitable<DrainOutcome> drain(DrainSteps steps, std::chrono::nanoseconds deadline) {
  using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
  if (steps.stop_accepting) {
    steps.stop_accepting();
  }
  if (steps.cancel) {
    steps.cancel();
  }
  if (!steps.wait_idle) {
    co_return DrainOutcome::Drained;
  }
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(deadline);
  // Named awaitables: no temporaries with non-trivial destructors inside the co_await expression
  // (GCC coroutine lifetime bugs, see style.md).
  auto idle = steps.wait_idle();
  auto expired = timer.async_wait(asio::use_awaitable);
  const auto first = co_await (std::move(idle) || std::move(expired));
  co_return first.index() == 0 ? DrainOutcome::Drained : DrainOutcome::DeadlineExceeded;
}

}  // namespace yurt
