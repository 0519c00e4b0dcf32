#pragma once

// yurt-controller-manager's wiring: one io_context running the informers (nodes, node leases,
// CSRs), leader election on a Lease, the node lifecycle controller and the CSR approver while
// leading, the /healthz /readyz /metrics listener, and the graceful stop on SIGTERM.

#include <cstdint>
#include <memory>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"

#include "src/apps/controller/settings.hpp"

namespace yurt::controller {

/// @par Thread Safety
/// start() and run() from one thread (run() blocks it); request_stop() and the accessors from
/// any thread.
/// @par Lifetime
/// `clock` outlives the App.
class App {
 public:
  /// `handle_signals`: SIGTERM/SIGINT end run() (false in tests, which call request_stop()).
  App(ControllerSettings settings, const Clock& clock, bool handle_signals = true);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  /// Loads the client configuration (kubeconfig or in-cluster) and builds the client. Errors
  /// name what failed.
  [[nodiscard]] Result<void> start();

  /// Runs until a signal or request_stop(); a leader releases its Lease on the way out so a
  /// standby takes over at once. Returns the exit code.
  int run();

  /// Makes run() return. Safe from any thread and before run().
  void request_stop();

  /// The bound /metrics port (0 until bound).
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] bool is_leader() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yurt::controller
