#include "yurt/net/task_group.hpp"

#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

#include "test/unit/net/test_util.hpp"

namespace yurt::net {
namespace {

using test::Event;
using test::kUse;
using test::run_awaitable;

// Waits on an event; records how it ended.
asio::awaitable<void> wait_event(Event& event, bool enable_total, int& outcome) {
  if (enable_total) {
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  }
  co_await asio::this_coro::throw_if_cancelled(false);
  auto cs = co_await asio::this_coro::cancellation_state;
  co_await event.wait();
  outcome = cs.cancelled() == asio::cancellation_type::none ? 1 : 2;
}

asio::awaitable<void> wait_forever(int& outcome, bool enable_total) {
  if (enable_total) {
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  }
  co_await asio::this_coro::throw_if_cancelled(false);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_at(asio::steady_timer::time_point::max());
  auto [ec] = co_await timer.async_wait(kUse);
  outcome = ec == asio::error::operation_aborted ? 2 : 1;
}

asio::awaitable<void> throw_now() {
  co_await asio::this_coro::executor;
  throw std::runtime_error("boom");
}

TEST(TaskGroup, AsyncWaitReturnsAtOnceWhenEmpty) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  run_awaitable(io, group.async_wait());
  EXPECT_EQ(group.size(), 0U);
}

TEST(TaskGroup, WaitsForEveryTask) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  Event a(io.get_executor());
  Event b(io.get_executor());
  int outcome_a = 0;
  int outcome_b = 0;
  group.spawn(io.get_executor(), wait_event(a, false, outcome_a), "a");
  group.spawn(io.get_executor(), wait_event(b, false, outcome_b), "b");
  EXPECT_EQ(group.size(), 2U);
  auto body = [&]() -> asio::awaitable<void> {
    a.set();
    EXPECT_FALSE(co_await group.wait_for(Millis(20)));  // b still runs
    b.set();
    co_await group.async_wait();
  };
  run_awaitable(io, body());
  EXPECT_EQ(outcome_a, 1);
  EXPECT_EQ(outcome_b, 1);
  EXPECT_EQ(group.size(), 0U);
}

TEST(TaskGroup, TotalCancellationReachesOnlyTasksThatAcceptIt) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  int graceful = 0;
  int stubborn = 0;
  group.spawn(io.get_executor(), wait_forever(graceful, true), "graceful");
  group.spawn(io.get_executor(), wait_forever(stubborn, false), "stubborn");
  auto body = [&]() -> asio::awaitable<void> {
    co_await asio::this_coro::executor;
    group.emit(asio::cancellation_type::total);
    EXPECT_FALSE(co_await group.wait_for(Millis(50)));
    EXPECT_EQ(graceful, 2);
    EXPECT_EQ(stubborn, 0);  // the default filter passes only terminal cancellation
    group.emit(asio::cancellation_type::terminal);
    co_await group.async_wait();
  };
  run_awaitable(io, body());
  EXPECT_EQ(stubborn, 2);
}

TEST(TaskGroup, TotalCancellationEndsATaskThatEnabledIt) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  Event never(io.get_executor());
  int outcome = 0;
  group.spawn(io.get_executor(), wait_event(never, true, outcome), "watch");
  auto body = [&]() -> asio::awaitable<void> {
    co_await asio::this_coro::executor;
    group.emit(asio::cancellation_type::total);
    EXPECT_TRUE(co_await group.wait_for(Millis(2000)));
  };
  run_awaitable(io, body());
  EXPECT_EQ(outcome, 2);
}

TEST(TaskGroup, AnExceptionEndsOnlyItsTask) {
  asio::io_context io;
  TaskGroup group(io.get_executor());
  Event event(io.get_executor());
  int outcome = 0;
  group.spawn(io.get_executor(), throw_now(), "thrower");
  group.spawn(io.get_executor(), wait_event(event, false, outcome), "survivor");
  auto body = [&]() -> asio::awaitable<void> {
    asio::steady_timer tick(co_await asio::this_coro::executor, Millis(1));
    co_await tick.async_wait(kUse);  // let the thrower run and finish
    EXPECT_EQ(group.size(), 1U);
    event.set();
    co_await group.async_wait();
  };
  run_awaitable(io, body());
  EXPECT_EQ(outcome, 1);
}

}  // namespace
}  // namespace yurt::net
