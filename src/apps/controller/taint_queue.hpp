#pragma once

// The per-zone rate limit on NoExecute tainting (upstream's RateLimitedTimedQueue with a token
// bucket of burst 1): adding a NoExecute taint is what starts evictions, so a controller that
// suddenly sees many nodes die — usually its own network problem — must not evict everything at
// once.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace yurt::controller {

using SteadyTime = std::chrono::steady_clock::time_point;

/// A token bucket of `qps` tokens per second holding at most `burst` (client-go's
/// flowcontrol.NewTokenBucketRateLimiter; upstream uses burst 1). Starts full. qps <= 0 never
/// accepts (upstream's "never" limiter, which stops tainting). Kept as the theoretical arrival
/// time of the next token in integer nanoseconds (GCRA), so that ten polls 1 s apart at 0.1/s
/// grant exactly one token — summing 0.1 ten times in floating point would not.
///
/// @par Thread Safety
/// Not thread-safe.
class TokenBucket {
 public:
  TokenBucket(double qps, int burst, SteadyTime now)
      : qps_(qps),
        interval_(qps > 0 ? std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 / qps))
                          : std::chrono::nanoseconds::zero()),
        tolerance_(interval_ * std::max(burst - 1, 0)),
        next_(now) {}

  [[nodiscard]] bool try_accept(SteadyTime now) {
    if (qps_ <= 0 || now < next_ - tolerance_) {
      return false;
    }
    next_ = std::max(next_, now) + interval_;
    return true;
  }

  [[nodiscard]] double qps() const noexcept { return qps_; }

 private:
  double qps_;
  std::chrono::nanoseconds interval_;
  std::chrono::nanoseconds tolerance_;
  SteadyTime next_;
};

/// Nodes waiting for their NoExecute taint in one zone, each once, handed out oldest first and
/// no faster than the zone's limiter allows. A node handed out stays "in flight" until done():
/// meanwhile add() does not queue it again.
///
/// @par Thread Safety
/// Not thread-safe.
class TaintQueue {
 public:
  /// Upstream's EvictionRateLimiterBurst.
  static constexpr int kBurst = 1;

  TaintQueue(double qps, SteadyTime now) : limiter_(qps, kBurst, now) {}

  /// Queues `name` to be due at `now`; false when it is queued or in flight already.
  bool add(const std::string& name, SteadyTime now) {
    if (index_.contains(name) || in_flight_.contains(name)) {
      return false;
    }
    insert(name, now);
    return true;
  }

  /// Forgets `name` (queued or in flight); true when it was known.
  bool remove(const std::string& name) {
    bool known = in_flight_.erase(name) > 0;
    if (auto it = index_.find(name); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
      known = true;
    }
    return known;
  }

  [[nodiscard]] bool contains(const std::string& name) const {
    return index_.contains(name) || in_flight_.contains(name);
  }
  [[nodiscard]] std::size_t size() const noexcept { return index_.size() + in_flight_.size(); }

  /// The nodes due by `now`, oldest first, one per token the limiter grants; they are in flight
  /// until done().
  [[nodiscard]] std::vector<std::string> take_due(SteadyTime now) {
    std::vector<std::string> due;
    while (!order_.empty()) {
      auto it = order_.begin();
      if (std::get<0>(it->first) > now || !limiter_.try_accept(now)) {
        break;
      }
      std::string name = it->second;
      index_.erase(name);
      order_.erase(it);
      in_flight_.insert(name);
      due.push_back(std::move(name));
    }
    return due;
  }

  /// The outcome of a node handed out by take_due(): on failure it is due again after `retry`
  /// (upstream retries at once; a short pause spares a failing apiserver).
  void done(const std::string& name, bool ok, SteadyTime now, std::chrono::nanoseconds retry) {
    if (in_flight_.erase(name) == 0 || ok) {
      return;
    }
    insert(name, now + retry);
  }

  /// Replaces the limiter when the rate changes (upstream's SwapLimiter): a limiter that has no
  /// token now hands its successor none either, so a rate change never buys an extra taint.
  void set_rate(double qps, SteadyTime now) {
    if (limiter_.qps() == qps) {
      return;
    }
    const bool exhausted = !limiter_.try_accept(now);
    limiter_ = TokenBucket(qps, kBurst, now);
    if (exhausted) {
      (void)limiter_.try_accept(now);
    }
  }

  [[nodiscard]] double rate() const noexcept { return limiter_.qps(); }

 private:
  using Key = std::tuple<SteadyTime, std::uint64_t>;

  void insert(const std::string& name, SteadyTime at) {
    auto [it, inserted] = order_.emplace(Key{at, next_seq_++}, name);
    index_.emplace(name, it);
  }

  TokenBucket limiter_;
  std::map<Key, std::string> order_;
  std::map<std::string, std::map<Key, std::string>::iterator, std::less<>> index_;
  std::set<std::string, std::less<>> in_flight_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace yurt::controller
