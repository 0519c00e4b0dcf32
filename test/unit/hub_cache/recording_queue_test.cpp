// The recording thread: order, settle(), the backlog bound, and what the destructor does.

#include "src/apps/hub/cache/recording_queue.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

namespace yurt::hub {
namespace {

using namespace std::chrono_literals;

RecordingQueue::Options backlog(std::size_t bytes) {
  RecordingQueue::Options options;
  options.max_backlog_bytes = bytes;
  return options;
}

TEST(RecordingQueue, RunsTasksInPushOrderOffTheCallersThread) {
  std::vector<int> ran;  // only the queue's thread touches it until settle()
  std::thread::id runner;
  RecordingQueue queue(backlog(1024));
  for (int i = 0; i < 100; ++i) {
    queue.push(1, [&ran, &runner, i] {
      runner = std::this_thread::get_id();
      ran.push_back(i);
    });
  }
  queue.settle();
  ASSERT_EQ(ran.size(), 100U);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(ran[i], i);
  }
  EXPECT_NE(runner, std::this_thread::get_id());
}

TEST(RecordingQueue, SettleWaitsForATaskStillRunning) {
  RecordingQueue queue(backlog(1024));
  std::promise<void> release;
  std::atomic<bool> finished{false};
  queue.push(1, [&, gate = release.get_future().share()] {
    gate.wait();
    finished = true;
  });
  auto settled = std::async(std::launch::async, [&] { queue.settle(); });
  EXPECT_EQ(settled.wait_for(100ms), std::future_status::timeout);
  release.set_value();
  settled.get();
  EXPECT_TRUE(finished);
}

TEST(RecordingQueue, PushWaitsWhileTheBacklogIsFull) {
  RecordingQueue queue(backlog(100));
  std::promise<void> release;
  queue.push(60, [gate = release.get_future().share()] { gate.wait(); });
  queue.push(40, [] {});  // exactly at the bound: accepted
  std::atomic<bool> third_ran{false};
  auto pushed = std::async(std::launch::async, [&] { queue.push(1, [&] { third_ran = true; }); });
  EXPECT_EQ(pushed.wait_for(100ms), std::future_status::timeout) << "past the bound, push waits";
  release.set_value();
  pushed.get();
  queue.settle();
  EXPECT_TRUE(third_ran);
}

TEST(RecordingQueue, ATaskLargerThanTheBoundGoesInOnceTheQueueIsEmpty) {
  RecordingQueue queue(backlog(10));
  std::atomic<int> ran{0};
  queue.push(5, [&] { ++ran; });
  queue.push(1000, [&] { ++ran; });
  queue.settle();
  EXPECT_EQ(ran, 2);
}

TEST(RecordingQueue, DestructionRunsWhatIsQueued) {
  std::atomic<int> ran{0};
  {
    RecordingQueue queue(backlog(1024));
    std::promise<void> release;
    queue.push(1, [gate = release.get_future().share()] { gate.wait(); });
    for (int i = 0; i < 10; ++i) {
      queue.push(1, [&] { ++ran; });
    }
    release.set_value();
  }
  EXPECT_EQ(ran, 10);
}

TEST(RecordingQueue, PushesFromManyThreadsAllRun) {
  std::atomic<int> ran{0};
  RecordingQueue queue(backlog(64));  // small: the pushers also wait on each other's backlog
  std::vector<std::thread> pushers;
  for (int t = 0; t < 4; ++t) {
    pushers.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        queue.push(8, [&] { ++ran; });
      }
    });
  }
  for (auto& t : pushers) {
    t.join();
  }
  queue.settle();
  EXPECT_EQ(ran, 4000);
}

TEST(RecordingQueue, OnIdleRunsOnceTheQueueRestsAfterWork) {
  std::atomic<int> idles{0};
  std::atomic<int> ran{0};
  RecordingQueue::Options options;
  options.on_idle = [&] { ++idles; };
  options.idle_delay = 50ms;
  RecordingQueue queue(options);
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(idles, 0) << "nothing ran yet: nothing to tidy";
  for (int burst = 0; burst < 2; ++burst) {
    for (int i = 0; i < 5; ++i) {
      queue.push(1, [&] { ++ran; });
    }
    queue.settle();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (idles < burst + 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(idles, burst + 1) << "once per quiet period, burst " << burst;
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(idles, burst + 1) << "not again without new work";
  }
  EXPECT_EQ(ran, 10);
}

TEST(RecordingQueue, TheThreadRunsOnlyWhenNothingElseWantsTheCpu) {
  const int before = ::sched_getscheduler(0);
  RecordingQueue queue(RecordingQueue::Options{});
  std::atomic<int> policy{-1};
  queue.push(0, [&] { policy = ::sched_getscheduler(0); });
  queue.settle();
  EXPECT_EQ(policy, SCHED_IDLE);
  EXPECT_EQ(::sched_getscheduler(0), before);  // the recording thread's alone
}

TEST(RecordingQueue, WithoutTheIdlePolicyTheThreadRunsAtTheLowerPriorityAskedFor) {
  RecordingQueue::Options options;
  options.idle_policy = false;
  options.nice = 7;
  RecordingQueue queue(options);
  std::atomic<int> nice{-100};
  queue.push(0, [&] {
    errno = 0;
    nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  });
  queue.settle();
  // Relative to this process's own: a test run under `nice` starts higher.
  EXPECT_EQ(nice, std::min(19, ::getpriority(PRIO_PROCESS, 0) + 7));
}

}  // namespace
}  // namespace yurt::hub
