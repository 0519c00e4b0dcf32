#pragma once

// Which CertificateSigningRequests yurt-controller-manager approves (architecture D5): exactly
// the shapes the suite's components ask for — signer, subject, SANs, key, usages and requesting
// identity — and nothing else. Anything else is left alone, never denied: another approver (or
// an administrator) may legitimately want it. OpenYurt's approvers approved by organization
// alone, and at v0.2 approved a system:masters certificate for the tunnel; here every part of the
// request is checked. Pure logic: the async part is approver_controller.hpp.

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "yurt/kube/object_store.hpp"

namespace yurt::controller {

/// The suite's CSR shapes.
enum class CsrShape {
  None,
  NodeClient,  ///< yurthub's (or a kubelet's) node client cert: kube-apiserver-client-kubelet
  HubClient,   ///< yurthub's node client cert from the kube-apiserver-client signer
  HubServing,  ///< yurthub's (or a kubelet's) serving cert: kubelet-serving
  TunnelServerServing,  ///< yurt-tunnel-server's serving cert: kubelet-serving
  TunnelAgentClient,    ///< yurt-tunnel-agent's client cert: kube-apiserver-client
};
[[nodiscard]] std::string_view to_string(CsrShape s) noexcept;

/// Organizations and names of the suite's subjects.
inline constexpr std::string_view kNodesGroup = "system:nodes";
inline constexpr std::string_view kBootstrappersGroup = "system:bootstrappers";
inline constexpr std::string_view kNodeUserPrefix = "system:node:";
inline constexpr std::string_view kHubOrganization = "openyurt:yurthub";
/// The tunnel agent's own organization: its certificate names its node in the CN, but without
/// `system:nodes` the apiserver's node authorizer grants it nothing — it only proves to the
/// tunnel server which node it serves.
inline constexpr std::string_view kTunnelAgentOrganization = "openyurt:tunnel-agent";

struct ApproverSettings {
  /// Addresses of yurthub on every node: its serving cert may name them (127.0.0.1 for
  /// hostNetwork pods, 169.254.2.1 OpenYurt's dummy interface).
  std::vector<std::string> hub_addresses{"127.0.0.1", "169.254.2.1"};
  /// For the kubernetes.default.svc.<domain> name pods use in-cluster.
  std::string cluster_domain = "cluster.local";
  /// Who may request the tunnel server's serving cert (its ServiceAccount).
  std::string tunnel_server_identity = "system:serviceaccount:kube-system:yurt-tunnel-server";
  /// Its CN is system:node:<this> (the kubelet-serving signer issues only system:node: CNs).
  std::string tunnel_server_name = "yurt-tunnel-server";
  /// DNS names its cert may carry besides control-plane nodes' names; default: the Service
  /// x-tunnel-server-svc in kube-system (as OpenYurt names it), in all its spellings.
  std::vector<std::string> tunnel_server_dns_names;
  /// IPs its cert may carry besides control-plane nodes' addresses and 127.0.0.1.
  std::vector<std::string> tunnel_server_ips;

  /// tunnel_server_dns_names, or the default list when empty.
  [[nodiscard]] std::vector<std::string> tunnel_dns_names() const;
};

enum class CsrVerdict {
  Approve,
  LeaveAlone,
  AlreadyDecided,  ///< Approved, Denied or Failed already: not ours to look at
};

struct CsrDecision {
  CsrVerdict verdict = CsrVerdict::LeaveAlone;
  CsrShape shape = CsrShape::None;  ///< the shape approved, or the one the request fell short of
  /// A short, bounded word for metrics: "approved", "signer", "malformed", "extension", "ca",
  /// "key", "subject", "masters", "usages", "san", "requester", "node".
  std::string code;
  /// What and why, for the log and the approval message.
  std::string reason;
};

/// Decides on one CSR object. `nodes` holds Node objects (keyed by name): serving SANs must be
/// the node's own addresses and names; control-plane nodes' ones for the tunnel server.
[[nodiscard]] CsrDecision decide_csr(const nlohmann::json& csr,
                                     const kube::ObjectStore& nodes,
                                     const ApproverSettings& settings);

/// The CSR with an `Approved` condition appended (reason AutoApproved, message naming us and
/// the shape), to PUT to certificatesigningrequests/<name>/approval. `now` is RFC 3339.
[[nodiscard]] nlohmann::json approval_object(const nlohmann::json& csr,
                                             const CsrDecision& decision,
                                             const std::string& now);

/// The node name in a "system:node:<name>" user or CN, "" when it is not one (or the name is not
/// a valid lower-case DNS subdomain).
[[nodiscard]] std::string node_of(std::string_view user);

}  // namespace yurt::controller
