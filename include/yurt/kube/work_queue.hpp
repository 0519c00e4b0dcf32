#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/kube/sleep.hpp"
#include "yurt/net/asio.hpp"

namespace yurt::kube {

/// How WorkQueue::add_rate_limited() spaces retries: the larger of a per-item exponential delay
/// and an overall token bucket. Defaults are client-go's DefaultControllerRateLimiter.
struct RateLimiterOptions {
  /// Per item: base_delay × 2^(failures so far), at most max_delay. 5 ms → 1000 s as client-go:
  /// a quick first retry for transient conflicts, ~17 min between attempts for a hopeless item.
  std::chrono::nanoseconds base_delay{std::chrono::milliseconds(5)};
  std::chrono::nanoseconds max_delay{std::chrono::seconds(1000)};
  /// Overall: `qps` retries per second with bursts of `burst` (client-go: 10 qps, burst 100), so
  /// many items failing at once (apiserver down) cannot flood it when it returns. qps <= 0
  /// disables the bucket.
  double qps = 10.0;
  int burst = 100;
};

/// The rate limiter behind WorkQueue::add_rate_limited(). Time comes from the injected Clock
/// (monotonic).
///
/// @par Thread Safety
/// Not thread-safe.
template <class Key, class Hash = std::hash<Key>>
class RateLimiter {
 public:
  RateLimiter(const Clock& clock, RateLimiterOptions options)
      : clock_(clock),
        options_(options),
        tokens_(static_cast<double>(options.burst)),
        last_refill_(clock.monotonic()) {}

  /// The delay before `key` may be retried; counts one more failure of `key` and takes a token.
  [[nodiscard]] std::chrono::nanoseconds when(const Key& key) {
    const int failures = failures_[key]++;
    // 2^failures in floating point: no overflow however often an item fails.
    const double item_ns = static_cast<double>(options_.base_delay.count()) *
                           std::pow(2.0, static_cast<double>(std::min(failures, 1023)));
    auto delay = item_ns >= static_cast<double>(options_.max_delay.count())
                     ? options_.max_delay
                     : std::chrono::nanoseconds(static_cast<std::int64_t>(item_ns));
    return std::max(delay, take_token());
  }

  /// Stops tracking `key` (it succeeded): its next failure starts again at base_delay.
  void forget(const Key& key) { failures_.erase(key); }

  /// How many times when() was called for `key` since it was last forgotten.
  [[nodiscard]] int num_requeues(const Key& key) const {
    auto it = failures_.find(key);
    return it == failures_.end() ? 0 : it->second;
  }

 private:
  // A reservation on a token bucket, as golang.org/x/time/rate's Reserve(): the bucket may go
  // negative, and the delay is how long until the reserved token exists.
  std::chrono::nanoseconds take_token() {
    if (options_.qps <= 0) {
      return std::chrono::nanoseconds::zero();
    }
    const auto now = clock_.monotonic();
    const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
    last_refill_ = now;
    tokens_ = std::min(static_cast<double>(options_.burst), tokens_ + elapsed * options_.qps);
    tokens_ -= 1.0;
    if (tokens_ >= 0) {
      return std::chrono::nanoseconds::zero();
    }
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(-tokens_ / options_.qps));
  }

  const Clock& clock_;
  RateLimiterOptions options_;
  std::unordered_map<Key, int, Hash> failures_;
  double tokens_;
  std::chrono::steady_clock::time_point last_refill_;
};

/// A work queue for controllers with client-go's semantics:
///
/// - **Fair and stingy.** Keys are handed out in the order added; a key already queued is not
///   queued twice (add() of a queued key is a no-op).
/// - **Dirty while processing.** A key being processed (between get() and done()) is never
///   handed to a second worker; if it is added meanwhile it is queued again by done(), so the
///   change that arrived during processing is not lost and is processed once more, later.
/// - **Delays and rate limiting.** add_after() queues a key once a delay has passed (the
///   earliest of several pending delays for one key wins); add_rate_limited() takes the delay
///   from a RateLimiter (per-item exponential + overall bucket); forget() resets an item's
///   failures after a success.
/// - **Shutdown.** shut_down() drops delayed keys and refuses new ones; get() keeps handing out
///   the keys already queued, then returns nullopt to every worker.
///
/// Lives on its owning io_context: get() is an awaitable that waits (without a thread) until a
/// key is ready; several workers may wait at once.
///
/// @par Thread Safety
/// Not thread-safe: every call from the executor given at construction (a single-threaded
/// io_context or a strand).
/// @par Lifetime
/// Must outlive every pending get(); call shut_down() and let the workers return first.
/// @par Errors
/// get() throws boost::system::system_error(operation_aborted) when the awaiting coroutine is
/// cancelled (as any Asio operation with use_awaitable).
template <class Key, class Hash = std::hash<Key>>
class WorkQueue {
 public:
  WorkQueue(net::Executor ex,
            const Clock& clock,
            SleepFunction sleep,
            RateLimiterOptions limiter = {})
      : clock_(clock), sleep_(std::move(sleep)), limiter_(clock, limiter), wake_(std::move(ex)) {
    wake_.expires_at(boost::asio::steady_timer::time_point::max());
  }
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  /// Queues `key` unless it is already queued; if it is being processed, marks it to be queued
  /// again when done() is called. Ignored after shut_down().
  void add(Key key) {
    if (shutting_down_ || dirty_.contains(key)) {
      return;
    }
    dirty_.insert(key);
    if (processing_.contains(key)) {
      return;
    }
    queue_.push_back(std::move(key));
    wake_.cancel_one();
  }

  /// add() once `delay` has passed (by the Clock); at once when delay <= 0. If `key` is already
  /// waiting, the earlier of the two times is kept.
  void add_after(Key key, std::chrono::nanoseconds delay) {
    if (shutting_down_) {
      return;
    }
    if (delay <= std::chrono::nanoseconds::zero()) {
      add(std::move(key));
      return;
    }
    const auto ready_at = clock_.monotonic() + delay;
    if (auto it = waiting_index_.find(key); it != waiting_index_.end()) {
      if (it->second->first <= ready_at) {
        return;
      }
      waiting_.erase(it->second);
      waiting_index_.erase(it);
    }
    auto pos = waiting_.emplace(ready_at, key);
    waiting_index_.emplace(std::move(key), pos);
    wake_.cancel_one();  // a waiting worker re-arms for the new earliest time
  }

  /// add_after() with the rate limiter's delay for `key` (one more failure counted).
  void add_rate_limited(Key key) {
    auto delay = limiter_.when(key);
    add_after(std::move(key), delay);
  }

  /// Clears `key`'s failure count (call after it was processed successfully).
  void forget(const Key& key) { limiter_.forget(key); }
  [[nodiscard]] int num_requeues(const Key& key) const { return limiter_.num_requeues(key); }

  /// The next key to process; the caller must call done(key) when finished with it. Waits while
  /// nothing is ready. nullopt once shut down and drained.
  boost::asio::awaitable<std::optional<Key>> get() {
    using namespace boost::asio::experimental::awaitable_operators;
    for (;;) {
      promote_ready();
      if (!queue_.empty()) {
        Key key = std::move(queue_.front());
        queue_.pop_front();
        dirty_.erase(key);
        processing_.insert(key);
        co_return key;
      }
      if (shutting_down_) {
        co_return std::nullopt;
      }
      if (waiting_.empty()) {
        co_await wake_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      } else {
        const auto delay = waiting_.begin()->first - clock_.monotonic();
        auto woken = accept_all_cancellation(wait_wake());
        auto slept = accept_all_cancellation(sleep_(delay));
        co_await (std::move(woken) || std::move(slept));
      }
      // The wake timer completes with operation_aborted both when woken and when cancelled.
      auto cs = co_await boost::asio::this_coro::cancellation_state;
      if (cs.cancelled() != boost::asio::cancellation_type::none) {
        throw boost::system::system_error(boost::asio::error::operation_aborted, "WorkQueue::get");
      }
    }
  }

  /// Marks `key` as processed; if it was added while being processed, queues it again.
  void done(const Key& key) {
    processing_.erase(key);
    if (dirty_.contains(key) && !shutting_down_) {
      queue_.push_back(key);
      wake_.cancel_one();
    }
  }

  /// Stops accepting keys, drops delayed ones and wakes every waiting get().
  void shut_down() {
    shutting_down_ = true;
    waiting_.clear();
    waiting_index_.clear();
    wake_.cancel();
  }

  [[nodiscard]] bool shutting_down() const noexcept { return shutting_down_; }
  /// Keys queued and ready (delayed ones become ready on the next get()).
  [[nodiscard]] std::size_t len() const noexcept { return queue_.size(); }
  /// Keys waiting for their delay.
  [[nodiscard]] std::size_t delayed() const noexcept { return waiting_.size(); }
  [[nodiscard]] bool is_processing(const Key& key) const { return processing_.contains(key); }

 private:
  using WaitingMap = std::multimap<std::chrono::steady_clock::time_point, Key>;

  void promote_ready() {
    const auto now = clock_.monotonic();
    while (!waiting_.empty() && waiting_.begin()->first <= now) {
      Key key = waiting_.begin()->second;
      waiting_index_.erase(key);
      waiting_.erase(waiting_.begin());
      add(std::move(key));
    }
  }

  boost::asio::awaitable<void> wait_wake() {
    co_await wake_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

  // The two sides of the race above each run as their own coroutine, whose default filter lets
  // only terminal cancellation through; a worker stopped gracefully (total) must end too.
  static boost::asio::awaitable<void> accept_all_cancellation(boost::asio::awaitable<void> op) {
    co_await boost::asio::this_coro::reset_cancellation_state(
        boost::asio::enable_total_cancellation());
    co_await std::move(op);
  }

  const Clock& clock_;
  SleepFunction sleep_;
  RateLimiter<Key, Hash> limiter_;
  boost::asio::steady_timer wake_;  // never expires: cancel_one()/cancel() wake waiting getters
  std::deque<Key> queue_;
  std::unordered_set<Key, Hash> dirty_;       // queued, or added again while processing
  std::unordered_set<Key, Hash> processing_;  // handed out, done() not yet called
  WaitingMap waiting_;
  std::unordered_map<Key, typename WaitingMap::iterator, Hash> waiting_index_;
  bool shutting_down_ = false;
};

}  // namespace yurt::kube
