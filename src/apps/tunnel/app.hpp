#pragma once

// The processes around TunnelServer and TunnelAgent: an io_context, SIGTERM/SIGINT, the
// apiserver client for Node objects. cmd/ mains build one from settings and run it.

#include <memory>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"

#include "src/apps/tunnel/settings.hpp"

namespace yurt::tunnel_app {

/// yurt-tunnel-server as a process.
///
/// @par Thread Safety
/// start() and run() from one thread (run() blocks it).
class ServerApp {
 public:
  ServerApp(ServerSettings settings, const Clock& clock);
  ~ServerApp();
  ServerApp(const ServerApp&) = delete;
  ServerApp& operator=(const ServerApp&) = delete;

  /// Loads the kubeconfig (or in-cluster config), the certificates, binds the listeners.
  [[nodiscard]] Result<void> start();
  /// Serves until SIGTERM/SIGINT, then drains. Returns the exit code.
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// yurt-tunnel-agent as a process.
class AgentApp {
 public:
  AgentApp(AgentSettings settings, const Clock& clock);
  ~AgentApp();
  AgentApp(const AgentApp&) = delete;
  AgentApp& operator=(const AgentApp&) = delete;

  [[nodiscard]] Result<void> start();
  int run();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace yurt::tunnel_app
