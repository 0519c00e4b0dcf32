#pragma once

// Private to yurt_hub_cache: the one thread that applies recorded responses to the cache, so
// that parsing and committing a LIST never holds up the proxy worker that streamed it (the next
// request on that worker would wait for it).

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace yurt::hub {

/// Runs tasks on its own thread, one at a time, in the order they were pushed: the recording of
/// every response keeps the order in which the proxy saw its bytes, across all responses (a LIST
/// is committed before the events of the watch that resumes from it).
///
/// @par Thread Safety
/// push() and settle() from any thread but the queue's own.
/// @par Lifetime
/// The destructor runs what is queued, then joins the thread.
class RecordingQueue {
 public:
  struct Options {
    /// push() blocks while more than this many bytes of pushed data wait to be applied: the
    /// bound on the memory a slow disk can make the hub hold (backpressure on the proxy, never a
    /// dropped write).
    std::size_t max_backlog_bytes = std::size_t{32} << 20;
    /// Run on the queue's thread once it has had nothing to do for `idle_delay` after some
    /// work (e.g. giving freed heap back: not between two requests, where it would hold up the
    /// allocator's lock). Not a task: settle() does not wait for it.
    std::function<void()> on_idle;
    std::chrono::milliseconds idle_delay{1000};
    /// Recording is background work: it should not take a core from the requests it records,
    /// nor from the kubelet beside it. With `idle_policy` the thread runs SCHED_IDLE: any other
    /// thread that wants the CPU preempts it at once (in Kubernetes, within the pod's cgroup:
    /// the pod's CPU share is not lowered). A nice value only lowers its share, and a request
    /// thread waking on a CPU it holds could wait for the next tick: the bench measured +14 ms
    /// at p99 for a 3 MB LIST that way, +0.7 ms with SCHED_IDLE. Where SCHED_IDLE is refused,
    /// or without `idle_policy`, `nice` is added to the thread's nice value (capped at 19).
    bool idle_policy = true;
    int nice = 10;
  };
  explicit RecordingQueue(Options options);
  ~RecordingQueue();
  RecordingQueue(const RecordingQueue&) = delete;
  RecordingQueue& operator=(const RecordingQueue&) = delete;

  /// Queues `task`, which carries `bytes` of data. A task must not throw.
  void push(std::size_t bytes, std::function<void()> task);

  /// Returns once every task pushed before the call has run: what the proxy has streamed so far
  /// is in the cache (offline answers, the inspection endpoint, tests).
  void settle();

 private:
  struct Task {
    std::size_t bytes;
    std::function<void()> run;
  };
  void run();
  void lower_priority() const;

  const Options options_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Task> tasks_;
  std::size_t backlog_ = 0;
  std::uint64_t pushed_ = 0;  // tasks pushed so far
  std::uint64_t done_ = 0;    // tasks run so far
  bool idle_due_ = false;     // tasks ran since on_idle last did
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace yurt::hub
