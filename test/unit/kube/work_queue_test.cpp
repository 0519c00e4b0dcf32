#include "yurt/kube/work_queue.hpp"

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "test/fakes/fake_clock.hpp"
#include "test/fakes/fake_timers.hpp"
#include "test/unit/kube/async_util.hpp"

namespace yurt::kube {
namespace {

using namespace std::chrono_literals;
using test::poll;
using test::Task;

using Queue = WorkQueue<std::string>;

// A worker that takes one key into `out` (nullopt after shutdown).
boost::asio::awaitable<void> take(Queue& q, std::optional<std::string>& out, bool& returned) {
  out = co_await q.get();
  returned = true;
}

class WorkQueueTest : public ::testing::Test {
 protected:
  // Takes a key that must be ready now.
  std::optional<std::string> get_now() {
    std::optional<std::string> out;
    bool returned = false;
    auto t = Task::spawn(io_, take(queue_, out, returned));
    poll(io_);
    EXPECT_TRUE(returned);
    return out;
  }

  boost::asio::io_context io_;
  FakeClock clock_;
  FakeTimers timers_{io_.get_executor(), clock_};
  Queue queue_{io_.get_executor(), clock_, timers_.sleep_function()};
};

TEST_F(WorkQueueTest, FifoWithoutDuplicates) {
  queue_.add("a");
  queue_.add("b");
  queue_.add("a");
  EXPECT_EQ(queue_.len(), 2U);
  EXPECT_EQ(get_now(), "a");
  EXPECT_EQ(get_now(), "b");
  EXPECT_EQ(queue_.len(), 0U);
}

TEST_F(WorkQueueTest, AKeyAddedWhileProcessingIsQueuedAgainOnDone) {
  queue_.add("a");
  ASSERT_EQ(get_now(), "a");
  EXPECT_TRUE(queue_.is_processing("a"));
  queue_.add("a");  // a change arrives while a worker handles "a"
  queue_.add("a");
  EXPECT_EQ(queue_.len(), 0U);  // never handed to a second worker meanwhile

  std::optional<std::string> second;
  bool returned = false;
  auto worker = Task::spawn(io_, take(queue_, second, returned));
  poll(io_);
  EXPECT_FALSE(returned);
  queue_.done("a");
  poll(io_);
  ASSERT_TRUE(returned);
  EXPECT_EQ(second, "a");  // processed once more, later
  queue_.done("a");
  EXPECT_EQ(queue_.len(), 0U);
}

TEST_F(WorkQueueTest, DoneWithoutReAddDropsTheKey) {
  queue_.add("a");
  ASSERT_EQ(get_now(), "a");
  queue_.done("a");
  EXPECT_EQ(queue_.len(), 0U);
  EXPECT_FALSE(queue_.is_processing("a"));
}

TEST_F(WorkQueueTest, WaitingWorkersWakeOnePerKey) {
  std::optional<std::string> one, two, three;
  bool r1 = false, r2 = false, r3 = false;
  auto w1 = Task::spawn(io_, take(queue_, one, r1));
  auto w2 = Task::spawn(io_, take(queue_, two, r2));
  auto w3 = Task::spawn(io_, take(queue_, three, r3));
  poll(io_);
  EXPECT_FALSE(r1 || r2 || r3);
  queue_.add("x");
  queue_.add("y");
  poll(io_);
  EXPECT_EQ(static_cast<int>(r1) + static_cast<int>(r2) + static_cast<int>(r3), 2);
  std::vector<std::string> got;
  for (auto* o : {&one, &two, &three}) {
    if (*o) {
      got.push_back(**o);
    }
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"x", "y"}));
  queue_.shut_down();
  poll(io_);
  EXPECT_TRUE(r1 && r2 && r3);
}

TEST_F(WorkQueueTest, AddAfterWaitsForTheClock) {
  queue_.add_after("a", 5s);
  EXPECT_EQ(queue_.len(), 0U);
  EXPECT_EQ(queue_.delayed(), 1U);
  std::optional<std::string> out;
  bool returned = false;
  auto worker = Task::spawn(io_, take(queue_, out, returned));
  poll(io_);
  EXPECT_FALSE(returned);
  timers_.advance(4s);
  poll(io_);
  EXPECT_FALSE(returned);
  timers_.advance(1s);
  poll(io_);
  ASSERT_TRUE(returned);
  EXPECT_EQ(out, "a");
  EXPECT_EQ(queue_.delayed(), 0U);
}

TEST_F(WorkQueueTest, AnEarlierDelayReplacesALaterOneAndANewEarliestWakesTheWorker) {
  std::optional<std::string> out;
  bool returned = false;
  queue_.add_after("a", 10s);
  auto worker = Task::spawn(io_, take(queue_, out, returned));
  poll(io_);
  queue_.add_after("b", 2s);   // earlier than what the worker waits for
  queue_.add_after("a", 20s);  // later: ignored
  EXPECT_EQ(queue_.delayed(), 2U);
  poll(io_);
  timers_.advance(2s);
  poll(io_);
  ASSERT_TRUE(returned);
  EXPECT_EQ(out, "b");
  queue_.add_after("a", 1s);  // earlier than 10 s: replaces
  EXPECT_EQ(queue_.delayed(), 1U);
  timers_.advance(1s);
  EXPECT_EQ(get_now(), "a");
}

TEST_F(WorkQueueTest, ZeroDelayAddsAtOnceAndDelayedKeysStillDeduplicate) {
  queue_.add_after("a", 0s);
  EXPECT_EQ(queue_.len(), 1U);
  queue_.add_after("a", 1s);
  timers_.advance(1s);
  EXPECT_EQ(get_now(), "a");
  EXPECT_EQ(queue_.len(), 0U);  // the delayed copy found "a" already queued
}

TEST_F(WorkQueueTest, RateLimitedRetriesGrowPerItemAndForgetResets) {
  queue_.add_rate_limited("a");  // first failure: 5 ms
  EXPECT_EQ(queue_.delayed(), 1U);
  timers_.advance(5ms);
  ASSERT_EQ(get_now(), "a");
  queue_.done("a");

  queue_.add_rate_limited("a");  // second failure: 10 ms
  std::optional<std::string> out;
  bool returned = false;
  auto worker = Task::spawn(io_, take(queue_, out, returned));
  timers_.advance(9ms);
  poll(io_);
  EXPECT_FALSE(returned);
  timers_.advance(1ms);
  poll(io_);
  ASSERT_TRUE(returned);
  queue_.done("a");
  EXPECT_EQ(queue_.num_requeues("a"), 2);
  queue_.forget("a");
  EXPECT_EQ(queue_.num_requeues("a"), 0);
}

TEST_F(WorkQueueTest, PerItemDelayDoublesUpToTheCap) {
  RateLimiter<std::string> limiter(clock_, RateLimiterOptions{});
  EXPECT_EQ(limiter.when("x"), 5ms);
  EXPECT_EQ(limiter.when("x"), 10ms);
  EXPECT_EQ(limiter.when("x"), 20ms);
  EXPECT_EQ(limiter.when("y"), 5ms);
  limiter.forget("x");
  EXPECT_EQ(limiter.when("x"), 5ms);
  for (int i = 0; i < 2000; ++i) {
    (void)limiter.when("z");
  }
  EXPECT_EQ(limiter.when("z"), 1000s);  // capped, no overflow however often it fails
}

TEST_F(WorkQueueTest, OverallBucketLimitsBurstsOfFailures) {
  RateLimiterOptions options;
  options.max_delay = 1s;
  RateLimiter<std::string> limiter(clock_, options);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(limiter.when("k" + std::to_string(i)), 5ms) << i;
  }
  // The bucket (burst 100) is empty: at 10 qps the next token is 100 ms away, then 200 ms.
  EXPECT_EQ(limiter.when("next-1"), 100ms);
  EXPECT_EQ(limiter.when("next-2"), 200ms);
  clock_.advance(1s);  // 10 tokens back (2 of them owed)
  EXPECT_EQ(limiter.when("next-3"), 5ms);

  RateLimiterOptions unlimited;
  unlimited.qps = 0;
  RateLimiter<std::string> per_item_only(clock_, unlimited);
  for (int i = 0; i < 500; ++i) {
    ASSERT_EQ(per_item_only.when("k" + std::to_string(i)), 5ms);
  }
}

TEST_F(WorkQueueTest, ShutDownDrainsQueuedKeysThenEndsEveryWorker) {
  queue_.add("a");
  queue_.add_after("later", 1s);
  queue_.shut_down();
  EXPECT_TRUE(queue_.shutting_down());
  EXPECT_EQ(queue_.delayed(), 0U);
  queue_.add("b");  // refused
  EXPECT_EQ(get_now(), "a");
  EXPECT_EQ(get_now(), std::nullopt);
  queue_.done("a");
  EXPECT_EQ(queue_.len(), 0U);
}

TEST_F(WorkQueueTest, CancellingAWaitingGetThrowsOperationAborted) {
  for (bool with_delayed : {false, true}) {
    for (auto type :
         {boost::asio::cancellation_type::terminal, boost::asio::cancellation_type::total}) {
      Queue q(io_.get_executor(), clock_, timers_.sleep_function());
      if (with_delayed) {
        q.add_after("later", 1h);
      }
      std::optional<std::string> out;
      bool returned = false;
      auto worker = Task::spawn(
          io_,
          [](Queue& queue, std::optional<std::string>& o, bool& r) -> boost::asio::awaitable<void> {
            // A worker stopped gracefully must end too: opt into total cancellation.
            co_await boost::asio::this_coro::reset_cancellation_state(
                boost::asio::enable_total_cancellation());
            co_await take(queue, o, r);
          }(q, out, returned));
      poll(io_);
      ASSERT_FALSE(worker.done());
      worker.cancel(type);
      poll(io_);
      ASSERT_TRUE(worker.done()) << with_delayed;
      EXPECT_FALSE(returned);
      EXPECT_THROW(worker.rethrow(), boost::system::system_error);
      EXPECT_EQ(timers_.pending(), 0U);
    }
  }
}

}  // namespace
}  // namespace yurt::kube
