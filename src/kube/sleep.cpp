#include "yurt/kube/sleep.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace yurt::kube {
namespace {

boost::asio::awaitable<void> steady_wait(std::chrono::nanoseconds d) {
  if (d <= std::chrono::nanoseconds::zero()) {
    co_return;
  }
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  timer.expires_after(std::chrono::duration_cast<boost::asio::steady_timer::duration>(d));
  // as_tuple: a cancelled wait returns quietly; the caller's next co_await reports it.
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

}  // namespace

SleepFunction steady_sleep() {
  return &steady_wait;
}

}  // namespace yurt::kube
