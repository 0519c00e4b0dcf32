#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "yurt/base/clock.hpp"

namespace yurt {

/// Shape of a retry backoff. Defaults follow client-go's reflector (`NewReflector`:
/// 800ms initial, 30s max, 2m reset, factor 2) because our reconnect loops face the same problem:
/// thousands of edge nodes retrying against one apiserver after an outage.
struct BackoffPolicy {
  /// First delay; also the delay after a reset.
  std::chrono::nanoseconds initial{std::chrono::milliseconds(800)};
  /// Growth per attempt; >= 1.
  double factor = 2.0;
  /// Upper bound of every delay, jitter included; >= initial.
  std::chrono::nanoseconds cap{std::chrono::seconds(30)};
  /// Fraction in [0, 1] taken off at random: a delay is uniform in [base·(1−jitter), base]. Half
  /// ("equal jitter") spreads nodes that failed together while still waiting at least base/2.
  /// Unlike client-go (which adds jitter on top) the cap stays a hard bound and delays at the cap
  /// remain spread out.
  double jitter = 0.5;
  /// When at least this much monotonic time passed since the previous next(), the failure is
  /// taken as new and the delay starts again from `initial` (client-go's resetDuration). Should
  /// exceed `cap`. Zero disables the automatic reset.
  std::chrono::nanoseconds reset_after{std::chrono::minutes(2)};
};

/// Jittered exponential backoff for one retry loop:
///
///     Backoff backoff(policy, clock, seed);
///     while (!co_await try_connect()) { timer.expires_after(backoff.next()); co_await ... }
///     backoff.reset();  // optional: after a success known to be real
///
/// Base delays go initial, initial·factor, … up to cap; each returned delay is the base minus a
/// random fraction (see BackoffPolicy::jitter).
///
/// @par Thread Safety
/// Not thread-safe: one Backoff per retry loop. The Clock must outlive the Backoff.
class Backoff {
 public:
  /// @throws std::invalid_argument if the policy breaks the constraints documented on its fields
  /// (programming or configuration error, caught at start-up).
  Backoff(const BackoffPolicy& policy, const Clock& clock, std::uint64_t seed);

  /// Delay to wait before the next attempt.
  [[nodiscard]] std::chrono::nanoseconds next();

  /// Starts over from `initial`.
  void reset() noexcept;

 private:
  BackoffPolicy policy_;
  const Clock& clock_;
  std::mt19937_64 random_;
  std::chrono::nanoseconds base_;
  std::chrono::steady_clock::time_point last_{};
  bool started_ = false;
};

}  // namespace yurt
