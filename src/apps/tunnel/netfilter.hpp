#pragma once

// The DNAT entry's two system pieces: the original destination of a redirected connection
// (SO_ORIGINAL_DST), and the iptables rules that redirect the apiserver's connections to edge
// kubelets into the tunnel server (docs/yurt-tunnel.md, "DNAT mode").

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "yurt/base/result.hpp"

#include "src/apps/tunnel/routing.hpp"
#include "src/apps/tunnel/settings.hpp"

#include <sys/socket.h>

namespace yurt::tunnel_app {

/// Decodes the sockaddr SO_ORIGINAL_DST fills in (AF_INET or AF_INET6). Errors
/// (Errc::NotRedirected) for another family or a short length.
[[nodiscard]] Result<boost::asio::ip::tcp::endpoint> endpoint_from_sockaddr(
    const sockaddr_storage& address, socklen_t length);

/// The destination the client dialled before netfilter rewrote it: getsockopt SO_ORIGINAL_DST
/// (IP6T_SO_ORIGINAL_DST for IPv6 sockets) on an accepted socket. Errors: Errc::NotRedirected
/// with the system's reason (ENOENT: conntrack knows no such connection).
[[nodiscard]] Result<boost::asio::ip::tcp::endpoint> original_destination(int fd, bool ipv6);

/// One redirect: the apiserver's connections to ip:port go to the server's to_port.
struct DnatRule {
  std::string node;
  std::string ip;
  std::uint16_t port = 0;
  std::uint16_t to_port = 0;
  friend bool operator==(const DnatRule&, const DnatRule&) = default;
};

/// The redirects wanted now: for every node with a connected agent, each of its IPv4 addresses
/// and each allowed port (10250 → secure_port, the others → insecure_port). Nodes without an
/// agent (cloud nodes among them) get none: their traffic is not touched. Sorted.
[[nodiscard]] std::vector<DnatRule> plan_dnat(const NodeTable& nodes,
                                              const std::vector<std::string>& agent_nodes,
                                              const PortPolicy& ports,
                                              std::uint16_t secure_port,
                                              std::uint16_t insecure_port);

/// Our chain in the nat table, and the comment on the OUTPUT jump to it.
inline constexpr std::string_view kDnatChain = "YURT-TUNNEL";

/// iptables-restore input (used with --noflush) that atomically replaces our chain's rules with
/// `rules`, DNAT-ing to `to_address`.
[[nodiscard]] std::string restore_input(const std::vector<DnatRule>& rules,
                                        std::string_view to_address);

/// The inverse of restore_input for what `iptables -t nat -S YURT-TUNNEL` prints: our rules that
/// DNAT to `to_address`. Lines of any other shape are skipped (they are not ours to keep).
[[nodiscard]] std::vector<DnatRule> parse_listed_rules(std::string_view listing,
                                                       std::string_view to_address);

/// Rules the server wants now, plus those a predecessor installed that are not replaced: while
/// agents reconnect after a restart, their redirects stay (a redirected connection then waits for
/// the agent in the server instead of going to the node directly, which cannot work). Sorted like
/// plan_dnat; a wanted rule wins over an inherited one for the same address and port.
[[nodiscard]] std::vector<DnatRule> with_inherited(std::vector<DnatRule> wanted,
                                                   const std::vector<DnatRule>& inherited);

/// Runs a program. The seam that lets tests check the iptables commands without root.
///
/// @par Thread Safety
/// Implementations may block; the server calls them from a helper thread, one at a time.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  /// Runs `argv` (argv[0] found on PATH unless it has a '/') with `input` on stdin. Returns its
  /// stdout; a non-zero exit is an error whose message has the command and its stderr.
  [[nodiscard]] virtual Result<std::string> run(const std::vector<std::string>& argv,
                                                std::string_view input) = 0;
};

/// fork/exec with pipes; kills the child after 30 s.
class ProcessRunner final : public CommandRunner {
 public:
  [[nodiscard]] Result<std::string> run(const std::vector<std::string>& argv,
                                        std::string_view input) override;
};

/// Installs, replaces and removes our rules: a chain YURT-TUNNEL in the nat table holding one
/// DNAT rule per (edge address, port), and a jump to it from OUTPUT (the apiserver runs in the
/// host's network namespace, so its connections pass OUTPUT, not PREROUTING).
///
/// @par Thread Safety
/// Not synchronised; blocking (runs iptables).
class IptablesManager {
 public:
  IptablesManager(IptablesSettings settings, std::string to_address, CommandRunner& runner);

  /// Replaces the chain's rules (atomically, iptables-restore --noflush) and makes sure the
  /// OUTPUT jump exists.
  [[nodiscard]] Result<void> apply(const std::vector<DnatRule>& rules);
  /// Our rules in the chain now, as parse_listed_rules reads them; none when there is no chain.
  [[nodiscard]] Result<std::vector<DnatRule>> current();
  /// Removes the jump and the chain. Idempotent.
  [[nodiscard]] Result<void> remove();

 private:
  std::vector<std::string> jump_spec(std::string_view op) const;

  IptablesSettings settings_;
  std::string to_address_;
  CommandRunner& runner_;
};

}  // namespace yurt::tunnel_app
