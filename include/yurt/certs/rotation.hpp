#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "yurt/base/clock.hpp"

namespace yurt::certs {

/// The validity window of a certificate.
struct Lifetime {
  std::chrono::sys_seconds not_before{};
  std::chrono::sys_seconds not_after{};
  friend bool operator==(const Lifetime&, const Lifetime&) = default;
};

/// Fraction of the lifetime at which rotation is due: uniform in [kRotationMinFraction,
/// kRotationMaxFraction). This is client-go's certificate manager (`util/certificate/
/// certificate_manager.go`, `nextRotationDeadline` / `jitteryDuration`):
///
///     deadline = notBefore + wait.Jitter(total, 0.2) − 0.3·total
///              = notBefore + total·(0.7 + 0.2·r),   r uniform in [0, 1)
///
/// so nodes that joined together do not all rotate at the same moment.
inline constexpr double kRotationMinFraction = 0.7;
inline constexpr double kRotationMaxFraction = 0.9;

/// The rotation deadline for `lifetime` with jitter drawn from `random` (53 bits of one draw).
/// A lifetime with not_after ≤ not_before yields not_before (rotate at once).
[[nodiscard]] std::chrono::sys_seconds rotation_deadline(const Lifetime& lifetime,
                                                         std::mt19937_64& random);

/// Keeps one jittered deadline per certificate, so that asking again (after a restart of the
/// rotation loop, or every tick) does not re-roll the jitter, and answers "rotate now?".
///
///     RotationScheduler scheduler(clock, std::random_device{}());
///     if (scheduler.needs_rotation(lifetime)) { … CSR … }
///     timer.expires_after(scheduler.time_until_rotation(lifetime));
///
/// @par Thread Safety
/// Not thread-safe: one per certificate manager. The Clock must outlive it.
class RotationScheduler {
 public:
  RotationScheduler(const Clock& clock, std::uint64_t seed) : clock_(&clock), random_(seed) {}

  /// The deadline of `lifetime`; drawn on first use of this lifetime, then kept.
  [[nodiscard]] std::chrono::sys_seconds deadline(const Lifetime& lifetime);

  /// True when the clock is at or past the deadline (an expired certificate always needs it).
  [[nodiscard]] bool needs_rotation(const Lifetime& lifetime);

  /// Time left until the deadline; zero when due.
  [[nodiscard]] std::chrono::seconds time_until_rotation(const Lifetime& lifetime);

 private:
  const Clock* clock_;
  std::mt19937_64 random_;
  Lifetime cached_lifetime_{};
  std::chrono::sys_seconds cached_deadline_{};
  bool has_cached_ = false;
};

}  // namespace yurt::certs
