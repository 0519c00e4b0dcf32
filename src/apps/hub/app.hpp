#pragma once

// yurthub's wiring: the cache store and manager, the upstream endpoints and their probes, the
// certificates, the three listeners, worker threads, and the graceful stop on SIGTERM.

#include <atomic>
#include <cstdint>
#include <memory>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"

#include "src/apps/hub/settings.hpp"

namespace yurt::hub {

/// @par Thread Safety
/// start() and run() from one thread (run() blocks it); request_stop() and the port accessors
/// from any thread.
/// @par Lifetime
/// `clock` outlives the App.
class App {
 public:
  /// `handle_signals`: SIGTERM/SIGINT end run() (false in tests, which call request_stop()).
  App(HubSettings settings, const Clock& clock, bool handle_signals = true);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  /// Opens the cache (fails if its directory is unusable or in use by another hub), loads the
  /// certificates on disk and binds the hub server and the HTTP proxy. Errors name what failed.
  [[nodiscard]] Result<void> start();

  /// Serves until a signal or request_stop(), then drains (listeners stop accepting, requests in
  /// flight get settings.drain_timeout, then everything is cancelled). Returns the exit code.
  int run();

  /// Makes run() return after draining. Safe from any thread and before run().
  void request_stop();

  /// Bound ports (0 until bound; the secure proxy binds once its certificate exists).
  [[nodiscard]] std::uint16_t proxy_port() const noexcept;
  [[nodiscard]] std::uint16_t secure_port() const noexcept;
  [[nodiscard]] std::uint16_t serve_port() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yurt::hub
