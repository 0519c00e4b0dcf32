#pragma once

#include <chrono>
#include <mutex>

#include "yurt/base/clock.hpp"

namespace yurt {

/// A Clock that moves only when the test says so. Starts at 2024-01-01T00:00:00Z (wall) and at an
/// arbitrary non-zero monotonic point, so code that treats a zero time_point as "unset" is not
/// fooled.
///
/// @par Thread Safety
/// All members are safe to call concurrently (code under test may read from its own threads).
class FakeClock final : public Clock {
 public:
  /// 2024-01-01T00:00:00Z as seconds since the Unix epoch.
  static constexpr std::chrono::seconds kStartWall{1704067200};
  static constexpr std::chrono::hours kStartMonotonic{1000};

  [[nodiscard]] std::chrono::system_clock::time_point now() const override {
    std::lock_guard lock(mutex_);
    return wall_;
  }

  [[nodiscard]] std::chrono::steady_clock::time_point monotonic() const override {
    std::lock_guard lock(mutex_);
    return steady_;
  }

  /// Moves both clocks forward by `d` (a negative `d` moves only the wall clock back, as a manual
  /// clock change would; the monotonic clock never goes backwards).
  template <class Rep, class Period>
  void advance(std::chrono::duration<Rep, Period> d) {
    std::lock_guard lock(mutex_);
    const auto delta = std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    wall_ += delta;
    if (delta > std::chrono::system_clock::duration::zero()) {
      steady_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
    }
  }

  /// Sets the wall clock (like an NTP step); the monotonic clock is unaffected.
  void set(std::chrono::system_clock::time_point t) {
    std::lock_guard lock(mutex_);
    wall_ = t;
  }

 private:
  mutable std::mutex mutex_;
  std::chrono::system_clock::time_point wall_{kStartWall};
  std::chrono::steady_clock::time_point steady_{kStartMonotonic};
};

}  // namespace yurt
