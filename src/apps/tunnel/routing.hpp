#pragma once

// Where a connection for "host:port" may go (architecture D6): only to the agent of the node that
// owns the address, only to allowed ports; cloud nodes directly (egress only); anything else is
// refused with a status and a reason. Pure: the server feeds it Node objects and its agents.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "yurt/base/result.hpp"
#include "yurt/tunnel/frame.hpp"
#include "yurt/tunnel/session.hpp"

namespace yurt::tunnel_app {

/// What routing needs of a Node object.
struct NodeRecord {
  std::string name;
  /// Label openyurt.io/is-edge-worker=true: reached only through its agent.
  bool edge = false;
  /// Every status.addresses[].address (IPs normalised, names lower-cased), and the name.
  std::vector<std::string> addresses;
  /// IPv4 InternalIP and ExternalIP addresses, in that order (DNAT rules, direct dials).
  std::vector<std::string> ipv4;

  friend bool operator==(const NodeRecord&, const NodeRecord&) = default;
};

/// Reads a Node object. Errors: Errc::InvalidNode when it has no valid name; addresses that are
/// neither IPs nor DNS names are skipped.
[[nodiscard]] Result<NodeRecord> node_from_json(const nlohmann::json& node);

/// IPs in canonical text ("::ffff:10.0.0.1" → "10.0.0.1", "FD00::1" → "fd00::1"); DNS names
/// lower-cased; "" when `host` is neither.
[[nodiscard]] std::string normalise_host(std::string_view host);

/// Nodes by name and by address. An address claimed by two nodes is ambiguous and routes
/// nowhere (never guess which kubelet gets the apiserver's request).
///
/// @par Thread Safety
/// Not synchronised: one owner (the server's executor).
class NodeTable {
 public:
  void upsert(NodeRecord node);
  void remove(std::string_view name);

  [[nodiscard]] const NodeRecord* find(std::string_view name) const;
  /// The node names that claim `host` (normalised by the caller or not).
  [[nodiscard]] std::vector<std::string> owners(std::string_view host) const;
  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  [[nodiscard]] const std::map<std::string, NodeRecord, std::less<>>& nodes() const noexcept {
    return nodes_;
  }

 private:
  void index(const NodeRecord& node);
  void unindex(const NodeRecord& node);

  std::map<std::string, NodeRecord, std::less<>> nodes_;
  std::map<std::string, std::set<std::string>, std::less<>> by_address_;
};

/// Ports that may be reached on nodes: 10250, 10255 and the configured extra ones.
class PortPolicy {
 public:
  explicit PortPolicy(const std::vector<std::uint16_t>& extra = {});
  [[nodiscard]] bool allows(std::uint16_t port) const noexcept { return ports_.contains(port); }
  [[nodiscard]] const std::set<std::uint16_t>& ports() const noexcept { return ports_; }
  /// "10250, 10255, 9100"
  [[nodiscard]] std::string describe() const;

 private:
  std::set<std::uint16_t> ports_;
};

/// How a connection arrived.
enum class Entry { Egress, Dnat };

[[nodiscard]] std::string_view to_string(Entry entry) noexcept;

/// Why a destination is refused; also the metrics label.
enum class RefuseReason {
  BadRequest,      ///< not a CONNECT, or a target that is not host:port
  PortNotAllowed,  ///< not 10250/10255/extra
  NotANode,        ///< no node has this address
  Ambiguous,       ///< several nodes claim the address
  NoAgent,         ///< an edge node (or, for DNAT, any node) without a connected agent
  NotRedirected,   ///< DNAT: the connection was not redirected by our rules
  AgentRefused,    ///< the agent answered OPEN_FAIL (its policy, or it could not dial)
  Timeout,         ///< no answer in time
  DialFailed,      ///< a direct dial to a cloud node failed, or the session ended
  Unauthorized,    ///< egress client without an allowed certificate
};

[[nodiscard]] std::string_view to_string(RefuseReason reason) noexcept;
/// The status line the apiserver gets for `reason` (403, 400, 503, 502, 504).
[[nodiscard]] int http_status(RefuseReason reason) noexcept;

struct Route {
  enum class Kind { Tunnel, Direct, Refuse };
  Kind kind = Kind::Refuse;
  std::string node;         ///< Tunnel/Direct: the node
  std::string destination;  ///< Tunnel: "host:port" for the agent; Direct: the address to dial
  RefuseReason reason = RefuseReason::NotANode;
  std::string message;  ///< Refuse: for the status body and the log
};

/// The routing decision for `destination`: the port must be allowed and the host must be one
/// node's; that node's agent if it has one (`has_agent`), else, for the egress entry and a node
/// that is not an edge node, a direct dial to its first IPv4 address; otherwise refused.
[[nodiscard]] Route route(const tunnel::Destination& destination,
                          Entry entry,
                          const NodeTable& nodes,
                          const PortPolicy& ports,
                          const std::function<bool(std::string_view node)>& has_agent);

/// The connected agents of this server, per node. A node whose agent reconnects may briefly
/// have two sessions: the newest is used and the older ones are asked to go away (their streams
/// finish).
///
/// @par Thread Safety
/// Not synchronised: one owner (the server's executor).
class AgentRegistry {
 public:
  using SessionPtr = std::shared_ptr<tunnel::Session>;

  /// Registers `session` as the newest for `node`; returns the sessions it supersedes.
  std::vector<SessionPtr> add(const std::string& node, SessionPtr session);
  /// Forgets `session` (no-op when it is not registered).
  void remove(const std::string& node, const tunnel::Session* session);
  /// The newest session of `node` still usable, or null.
  [[nodiscard]] SessionPtr find(std::string_view node) const;
  [[nodiscard]] bool has(std::string_view node) const { return find(node) != nullptr; }
  /// Nodes with at least one session.
  [[nodiscard]] std::vector<std::string> nodes() const;
  [[nodiscard]] std::size_t size() const noexcept { return sessions_.size(); }
  /// Every registered session (for shutdown).
  [[nodiscard]] std::vector<SessionPtr> all() const;

 private:
  std::map<std::string, std::vector<SessionPtr>, std::less<>> sessions_;
};

/// The node named by an agent's client certificate CN `system:node:<node>`. Errors
/// (Errc::Unauthorized) say what is wrong with the CN.
[[nodiscard]] Result<std::string> node_from_common_name(std::string_view common_name);

}  // namespace yurt::tunnel_app
