#include "yurt/base/backoff.hpp"

#include <algorithm>
#include <stdexcept>

namespace yurt {

Backoff::Backoff(const BackoffPolicy& policy, const Clock& clock, std::uint64_t seed)
    : policy_(policy), clock_(clock), random_(seed), base_(policy.initial) {
  if (policy.initial <= std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument("backoff: initial delay must be positive");
  }
  if (!(policy.factor >= 1.0)) {  // also rejects NaN
    throw std::invalid_argument("backoff: factor must be at least 1");
  }
  if (policy.cap < policy.initial) {
    throw std::invalid_argument("backoff: cap must not be below the initial delay");
  }
  if (!(policy.jitter >= 0.0 && policy.jitter <= 1.0)) {
    throw std::invalid_argument("backoff: jitter must be within [0, 1]");
  }
  if (policy.reset_after < std::chrono::nanoseconds::zero()) {
    throw std::invalid_argument("backoff: reset_after must not be negative");
  }
}

std::chrono::nanoseconds Backoff::next() {
  const auto now = clock_.monotonic();
  if (started_ && policy_.reset_after > std::chrono::nanoseconds::zero() &&
      now - last_ >= policy_.reset_after) {
    base_ = policy_.initial;
  }
  started_ = true;
  last_ = now;

  const auto base = base_;
  // Grow in floating point: base·factor can overflow int64 nanoseconds long before the cap is
  // compared against it.
  const double grown = static_cast<double>(base.count()) * policy_.factor;
  base_ = grown >= static_cast<double>(policy_.cap.count())
              ? policy_.cap
              : std::chrono::nanoseconds(static_cast<std::int64_t>(grown));

  if (policy_.jitter == 0.0) {
    return base;
  }
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double cut = static_cast<double>(base.count()) * policy_.jitter * unit(random_);
  const auto delay = base - std::chrono::nanoseconds(static_cast<std::int64_t>(cut));
  return std::clamp(delay, std::chrono::nanoseconds::zero(), base);
}

void Backoff::reset() noexcept {
  base_ = policy_.initial;
  started_ = false;
}

}  // namespace yurt
