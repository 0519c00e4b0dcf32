#include "src/apps/hub/cache/recording_queue.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

#include "yurt/base/log.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

namespace yurt::hub {

RecordingQueue::RecordingQueue(Options options)
    : options_(std::move(options)), thread_([this] { run(); }) {}

RecordingQueue::~RecordingQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void RecordingQueue::push(std::size_t bytes, std::function<void()> task) {
  std::unique_lock lock(mutex_);
  // One task larger than the whole bound still goes in, once the queue has emptied.
  changed_.wait(lock,
                [&] { return backlog_ == 0 || backlog_ + bytes <= options_.max_backlog_bytes; });
  tasks_.push_back(Task{bytes, std::move(task)});
  backlog_ += bytes;
  ++pushed_;
  lock.unlock();
  changed_.notify_all();
}

void RecordingQueue::settle() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = pushed_;
  changed_.wait(lock, [&] { return done_ >= target; });
}

void RecordingQueue::lower_priority() const {
  // Lowering one's own priority is always allowed; should it fail, recording still works.
  const sched_param param{};
  if (options_.idle_policy && ::sched_setscheduler(0, SCHED_IDLE, &param) == 0) {
    return;
  }
  const auto tid = static_cast<id_t>(::gettid());
  errno = 0;
  const int inherited = ::getpriority(PRIO_PROCESS, tid);
  if (errno != 0 ||
      ::setpriority(PRIO_PROCESS, tid, std::min(19, inherited + options_.nice)) != 0) {
    log::get("hub").debug("cache: recording thread keeps its priority: {}", std::strerror(errno));
  }
}

void RecordingQueue::run() {
  ::pthread_setname_np(::pthread_self(), "yurt-recorder");
  lower_priority();
  std::unique_lock lock(mutex_);
  const auto has_work = [&] { return stopping_ || !tasks_.empty(); };
  for (;;) {
    if (idle_due_ && options_.on_idle && !changed_.wait_for(lock, options_.idle_delay, has_work)) {
      idle_due_ = false;
      lock.unlock();
      options_.on_idle();
      lock.lock();
      continue;
    }
    changed_.wait(lock, has_work);
    if (tasks_.empty()) {
      return;  // stopping, and everything queued has run
    }
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    try {
      task.run();
    } catch (const std::exception& e) {  // recorders catch their own; this is the last guard
      log::get("hub").error("cache: a recording task failed: {}", e.what());
    } catch (...) {
      log::get("hub").error("cache: a recording task failed");
    }
    task.run = nullptr;  // what it captured goes before the next wait, not at the next task
    lock.lock();
    backlog_ -= task.bytes;
    ++done_;
    idle_due_ = true;
    changed_.notify_all();
  }
}

}  // namespace yurt::hub
