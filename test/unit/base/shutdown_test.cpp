#include "yurt/base/shutdown.hpp"

#include <chrono>
#include <csignal>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

namespace yurt {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Runs `task` to completion on `io`; the deadline only guards against a hung test.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    result = std::move(value);
  });
  io.run_for(30s);
  if (error) {
    std::rethrow_exception(error);
  }
  if (!result) {
    throw std::runtime_error("task did not finish");
  }
  return std::move(*result);
}

asio::awaitable<int> wait_for(ShutdownSignals* signals) {
  co_return co_await signals->wait();
}

TEST(ShutdownSignals, CompletesOnSigterm) {
  asio::io_context io;
  ShutdownSignals signals(io.get_executor());
  asio::post(io, [] { std::raise(SIGTERM); });
  EXPECT_EQ(run(io, wait_for(&signals)), SIGTERM);
}

TEST(ShutdownSignals, SignalBeforeWaitIsNotLost) {
  asio::io_context io;
  ShutdownSignals signals(io.get_executor());
  std::raise(SIGINT);  // caught by the installed handler, queued until wait()
  EXPECT_EQ(run(io, wait_for(&signals)), SIGINT);
}

TEST(ShutdownSignals, SecondSignalNeedsSecondWait) {
  asio::io_context io;
  ShutdownSignals signals(io.get_executor());
  std::raise(SIGTERM);
  EXPECT_EQ(run(io, wait_for(&signals)), SIGTERM);
  io.restart();
  std::raise(SIGINT);
  EXPECT_EQ(run(io, wait_for(&signals)), SIGINT);
}

asio::awaitable<bool> wait_or_timeout(ShutdownSignals* signals) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, 1ms);
  auto waited = signals->wait();
  auto expired = timer.async_wait(asio::use_awaitable);
  const auto first = co_await (std::move(waited) || std::move(expired));
  co_return first.index() == 0;
}

TEST(ShutdownSignals, WaitIsCancellable) {
  asio::io_context io;
  ShutdownSignals signals(io.get_executor());
  EXPECT_FALSE(run(io, wait_or_timeout(&signals)));
}

asio::awaitable<void> yield_once(std::vector<std::string>* steps) {
  steps->push_back("wait_idle");
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  steps->push_back("idle");
}

TEST(Drain, RunsStepsInOrderAndReportsDrained) {
  asio::io_context io;
  std::vector<std::string> steps;
  DrainSteps drain_steps{
      .stop_accepting = [&] { steps.push_back("stop_accepting"); },
      .cancel = [&] { steps.push_back("cancel"); },
      .wait_idle = [&] { return yield_once(&steps); },
  };
  EXPECT_EQ(run(io, drain(std::move(drain_steps), 30s)), DrainOutcome::Drained);
  EXPECT_EQ(steps, (std::vector<std::string>{"stop_accepting", "cancel", "wait_idle", "idle"}));
}

// A task that ignores the cancel step and would run for an hour; it does honour the
// cancellation drain() sends when the deadline passes.
asio::awaitable<void> stuck(std::vector<std::string>* steps) {
  asio::steady_timer forever(co_await asio::this_coro::executor, 1h);
  auto [ec] = co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
  steps->push_back(ec == asio::error::operation_aborted ? "aborted" : "expired");
}

TEST(Drain, DeadlineExceededCancelsTheWait) {
  asio::io_context io;
  std::vector<std::string> steps;
  DrainSteps drain_steps{.wait_idle = [&] { return stuck(&steps); }};
  EXPECT_EQ(run(io, drain(std::move(drain_steps), 1ms)), DrainOutcome::DeadlineExceeded);
  EXPECT_EQ(steps, std::vector<std::string>{"aborted"});
}

TEST(Drain, NothingToWaitFor) {
  asio::io_context io;
  EXPECT_EQ(run(io, drain(DrainSteps{}, 1ms)), DrainOutcome::Drained);
}

}  // namespace
}  // namespace yurt
