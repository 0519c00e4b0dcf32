#pragma once

// yurt-tunnel-server (docs/yurt-tunnel.md): agents dial in over TLS 1.3 with their node's client
// certificate; the apiserver's connections to kubelets come in through HTTP CONNECT (egress
// selector, TCP with mTLS or a Unix socket) or iptables DNAT, and are carried as tunnel streams
// to the agent of the node that owns the destination address.

#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/ip/tcp.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"
#include "yurt/kube/lister_watcher.hpp"
#include "yurt/net/asio.hpp"

#include "src/apps/tunnel/metrics.hpp"
#include "src/apps/tunnel/netfilter.hpp"
#include "src/apps/tunnel/settings.hpp"

namespace yurt::tunnel_app {

/// What tests replace.
struct ServerHooks {
  /// The original destination of a connection accepted on a DNAT port (default:
  /// SO_ORIGINAL_DST).
  std::function<Result<boost::asio::ip::tcp::endpoint>(boost::asio::ip::tcp::socket&)>
      original_destination;
  /// Runs iptables (default: a ProcessRunner). Must outlive the server.
  CommandRunner* runner = nullptr;
};

/// The tunnel server. Everything runs on one executor (single-threaded): the data path is byte
/// splicing with TLS on the agent side only, which one core carries at the link speeds of edge
/// nodes; sessions, streams and the routing table then need no locks.
///
/// @par Thread Safety
/// All members on the executor's thread, except stop(), which may be called from any thread.
/// @par Lifetime
/// `clock` and `nodes` outlive the server; destroy it after run() returned.
class TunnelServer {
 public:
  TunnelServer(net::Executor ex,
               ServerSettings settings,
               const Clock& clock,
               kube::ListerWatcher& nodes,
               ServerHooks hooks = {});
  ~TunnelServer();
  TunnelServer(const TunnelServer&) = delete;
  TunnelServer& operator=(const TunnelServer&) = delete;

  /// Loads the certificates and binds every listener; errors name the one that failed.
  [[nodiscard]] Result<void> start();

  /// Serves until stop(): watches Node objects, keeps the iptables rules in sync (DNAT mode).
  /// Then stops accepting, lets connections drain for settings.drain_timeout, aborts the rest
  /// and removes the iptables rules.
  net::asio::awaitable<void> run();

  /// Makes run() return after draining. Safe from any thread, before or during run().
  void stop();

  /// Bound ports (0 when that listener is off).
  [[nodiscard]] std::uint16_t agent_port() const noexcept;
  [[nodiscard]] std::uint16_t egress_port() const noexcept;
  [[nodiscard]] std::uint16_t secure_port() const noexcept;
  [[nodiscard]] std::uint16_t insecure_port() const noexcept;
  [[nodiscard]] std::uint16_t meta_port() const noexcept;

  /// Nodes with a connected agent.
  [[nodiscard]] std::size_t agents() const;
  /// Node objects known (after the first list).
  [[nodiscard]] bool ready() const;
  /// Counters as served on /metrics (gauges refreshed).
  [[nodiscard]] const Metrics& metrics();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace yurt::tunnel_app
