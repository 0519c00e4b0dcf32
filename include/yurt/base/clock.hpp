#pragma once

#include <chrono>

namespace yurt {

/// Source of time, injected wherever behaviour depends on it (backoff resets, lease renewals,
/// expiry checks) so tests drive time with FakeClock (test/fakes/fake_clock.hpp) instead of
/// sleeping.
///
/// @par Thread Safety
/// Implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  /// Wall-clock time: for timestamps that leave the process (object metadata, certificates, logs).
  [[nodiscard]] virtual std::chrono::system_clock::time_point now() const = 0;

  /// Monotonic time: for measuring intervals and deadlines; never jumps with NTP or the admin.
  [[nodiscard]] virtual std::chrono::steady_clock::time_point monotonic() const = 0;
};

/// The real clocks of the process. Stateless; construct one wherever needed.
class SystemClock final : public Clock {
 public:
  [[nodiscard]] std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::now();
  }
  [[nodiscard]] std::chrono::steady_clock::time_point monotonic() const override {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace yurt
