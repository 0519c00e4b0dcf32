#include "yurt/certs/rotation.hpp"

#include <algorithm>
#include <cmath>

namespace yurt::certs {

std::chrono::sys_seconds rotation_deadline(const Lifetime& lifetime, std::mt19937_64& random) {
  using std::chrono::seconds;
  if (lifetime.not_after <= lifetime.not_before) {
    return lifetime.not_before;
  }
  // 53 random bits → r uniform in [0, 1), the same on every platform (std::uniform_real_
  // distribution is not specified bit for bit).
  const double r = static_cast<double>(random() >> 11U) * 0x1.0p-53;
  const double fraction = kRotationMinFraction + (kRotationMaxFraction - kRotationMinFraction) * r;
  const auto total = (lifetime.not_after - lifetime.not_before).count();
  // Seconds, not nanoseconds: certificates valid until 9999 would overflow the latter.
  auto offset = static_cast<seconds::rep>(std::floor(static_cast<double>(total) * fraction));
  offset = std::min(offset, total - 1);  // stay strictly before notAfter, even for 1 s lifetimes
  return lifetime.not_before + seconds(offset);
}

std::chrono::sys_seconds RotationScheduler::deadline(const Lifetime& lifetime) {
  if (!has_cached_ || !(cached_lifetime_ == lifetime)) {
    cached_deadline_ = rotation_deadline(lifetime, random_);
    cached_lifetime_ = lifetime;
    has_cached_ = true;
  }
  return cached_deadline_;
}

bool RotationScheduler::needs_rotation(const Lifetime& lifetime) {
  return std::chrono::floor<std::chrono::seconds>(clock_->now()) >= deadline(lifetime);
}

std::chrono::seconds RotationScheduler::time_until_rotation(const Lifetime& lifetime) {
  const auto now = std::chrono::floor<std::chrono::seconds>(clock_->now());
  const auto due = deadline(lifetime);
  return now >= due ? std::chrono::seconds::zero() : due - now;
}

}  // namespace yurt::certs
