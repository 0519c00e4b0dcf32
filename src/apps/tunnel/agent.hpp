#pragma once

// yurt-tunnel-agent (docs/yurt-tunnel.md): keeps one tunnel connection to every configured
// server, and for each stream a server opens, connects to the local destination it names —
// the kubelet or another allowed port of this node — and splices the bytes.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "yurt/base/backoff.hpp"
#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"
#include "yurt/net/asio.hpp"

#include "src/apps/tunnel/metrics.hpp"
#include "src/apps/tunnel/routing.hpp"
#include "src/apps/tunnel/settings.hpp"

namespace yurt::tunnel_app {

/// Where the agent connects for a stream's destination "host:port": the port must be allowed;
/// the host must be this node — its name (→ settings.kubelet_address), "localhost", a loopback
/// address, or one of `local_addresses`. Anything else is refused (Errc::NotAllowed): an agent
/// is never a proxy into the edge network.
[[nodiscard]] Result<boost::asio::ip::tcp::endpoint> local_target(
    std::string_view destination,
    const AgentSettings& settings,
    const PortPolicy& ports,
    const std::vector<boost::asio::ip::address>& local_addresses);

/// The addresses of this host's interfaces (getifaddrs).
[[nodiscard]] std::vector<boost::asio::ip::address> interface_addresses();

/// Reconnect delays: exponential with equal jitter from settings.reconnect_initial up to
/// reconnect_cap; after a refused TCP connection (the server's host answers, its process is
/// restarting) at most reconnect_refused_cap, so agents are back within moments of a restart.
///
/// @par Thread Safety
/// Not thread-safe: one per reconnect loop. `clock` outlives it.
class ReconnectDelay {
 public:
  ReconnectDelay(const AgentSettings& settings, const Clock& clock, std::uint64_t seed);
  [[nodiscard]] std::chrono::milliseconds next(bool refused);
  /// After a connection that worked: the next failure starts from the initial delay again.
  void reset() noexcept { backoff_.reset(); }

 private:
  Backoff backoff_;
  std::chrono::milliseconds refused_cap_;
  std::mt19937_64 random_;
};

/// State of the link to one server (Chromium-style explicit state machine).
enum class LinkState { Idle, Dialling, Handshaking, Connected, BackingOff, Stopped };

[[nodiscard]] std::string_view to_string(LinkState state) noexcept;

/// The agent.
///
/// @par Thread Safety
/// All members on the executor's thread, except stop() (any thread).
/// @par Lifetime
/// `clock` outlives the agent; destroy it after run() returned.
class TunnelAgent {
 public:
  TunnelAgent(net::Executor ex, AgentSettings settings, const Clock& clock);
  ~TunnelAgent();
  TunnelAgent(const TunnelAgent&) = delete;
  TunnelAgent& operator=(const TunnelAgent&) = delete;

  /// Binds the meta listener (/healthz, /readyz, /metrics). Certificates are read at each
  /// connection attempt, so a node whose kubelet has no certificate yet still starts.
  [[nodiscard]] Result<void> start();

  /// Connects to every server and serves streams until stop(), reconnecting with backoff. Then
  /// sends GOAWAY, lets streams drain for settings.drain_timeout and returns.
  net::asio::awaitable<void> run();

  /// Makes run() return. Safe from any thread.
  void stop();

  [[nodiscard]] LinkState state(std::string_view server) const;
  /// Servers with an open session.
  [[nodiscard]] std::size_t connected() const;
  [[nodiscard]] std::uint16_t meta_port() const noexcept;
  [[nodiscard]] const Metrics& metrics() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace yurt::tunnel_app
