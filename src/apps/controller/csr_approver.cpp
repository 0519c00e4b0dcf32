#include "src/apps/controller/csr_approver.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include <boost/asio/ip/address.hpp>

#include "yurt/base/strings.hpp"
#include "yurt/certs/csr.hpp"
#include "yurt/certs/csr_object.hpp"
#include "yurt/certs/key.hpp"
#include "yurt/certs/x509.hpp"

#include "src/apps/controller/node_model.hpp"

namespace yurt::controller {

using nlohmann::json;

namespace {

CsrDecision leave(CsrShape shape, std::string code, std::string reason) {
  return CsrDecision{CsrVerdict::LeaveAlone, shape, std::move(code), std::move(reason)};
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    out += (i != 0 ? ", " : "") + quote(v[i]);
  }
  return out + "]";
}

// Canonical text of an IP ("" when it is not one), so "::1" and "0:0::1" compare equal.
std::string canonical_ip(std::string_view text) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(text), ec);
  return ec ? std::string() : a.to_string();
}

bool is_dns_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// A lower-case RFC 1123 subdomain: what a Node name must be.
bool is_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  for (auto label : split(s, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), is_dns_label_char)) {
      return false;
    }
  }
  return true;
}

// What a Node object tells about the names and addresses that are its own.
struct NodeFacts {
  std::set<std::string> dns;
  std::set<std::string> ips;
};

NodeFacts facts_of(const json& node) {
  NodeFacts f;
  f.dns.insert(name_of(node));
  auto status = node.find("status");
  if (!node.is_object() || status == node.end() || !status->is_object()) {
    return f;
  }
  auto addresses = status->find("addresses");
  if (addresses == status->end() || !addresses->is_array()) {
    return f;
  }
  for (const auto& a : *addresses) {
    const std::string type = string_at(a, "type");
    const std::string address = string_at(a, "address");
    if (address.empty()) {
      continue;
    }
    if (type == "InternalIP" || type == "ExternalIP") {
      if (auto ip = canonical_ip(address); !ip.empty()) {
        f.ips.insert(ip);
      }
    } else if (type == "Hostname" || type == "InternalDNS" || type == "ExternalDNS") {
      f.dns.insert(address);
    }
  }
  return f;
}

struct Usages {
  bool ok = false;
  std::string problem;
};

// Exactly digital signature + the extended usage, plus key encipherment for RSA keys only
// (upstream's signers' rules; ECDSA keys cannot encipher).
Usages check_usages(const std::vector<std::string>& usages, certs::Usage eku, bool rsa) {
  std::vector<certs::Usage> parsed;
  for (const auto& u : usages) {
    auto p = certs::parse_usage(u);
    if (!p) {
      return {false, "unknown usage " + quote(u)};
    }
    if (std::find(parsed.begin(), parsed.end(), *p) != parsed.end()) {
      return {false, "usage " + quote(u) + " listed twice"};
    }
    parsed.push_back(*p);
  }
  const auto has = [&](certs::Usage u) {
    return std::find(parsed.begin(), parsed.end(), u) != parsed.end();
  };
  std::string expected = "\"digital signature\", " + quote(certs::to_string(eku)) +
                         (rsa ? " (and \"key encipherment\" for this RSA key)" : "");
  for (auto u : parsed) {
    const bool allowed = u == certs::Usage::DigitalSignature || u == eku ||
                         (rsa && u == certs::Usage::KeyEncipherment);
    if (!allowed) {
      return {false,
              "usage " + quote(certs::to_string(u)) + " is not allowed; expected " + expected};
    }
  }
  if (!has(certs::Usage::DigitalSignature) || !has(eku)) {
    return {false, "usages " + join(usages) + " lack one of " + expected};
  }
  return {true, {}};
}

bool is_self(const certs::CsrSpec& spec, std::string_view node) {
  return spec.username == std::string(kNodeUserPrefix) + std::string(node) &&
         contains(spec.groups, kNodesGroup);
}

bool is_bootstrapper(const certs::CsrSpec& spec) {
  return contains(spec.groups, kBootstrappersGroup);
}

std::string requester(const certs::CsrSpec& spec) {
  return quote(spec.username) + " (groups " + join(spec.groups) + ")";
}

bool decided(const json& csr) {
  auto status = csr.find("status");
  if (!csr.is_object() || status == csr.end() || !status->is_object()) {
    return false;
  }
  auto conditions = status->find("conditions");
  if (conditions == status->end() || !conditions->is_array()) {
    return false;
  }
  return std::any_of(conditions->begin(), conditions->end(), [](const json& c) {
    const std::string type = string_at(c, "type");
    return type == "Approved" || type == "Denied" || type == "Failed";
  });
}

std::vector<std::string> organizations_of(const certs::CertificateRequest& req) {
  return req.subject.organizations;
}

// SANs of a serving request must all be in the allowed sets.
std::optional<std::string> check_sans(const certs::SubjectAltNames& sans,
                                      const std::set<std::string>& dns,
                                      const std::set<std::string>& ips,
                                      std::string_view whose) {
  if (sans.dns_names.empty() && sans.ip_addresses.empty()) {
    return "a serving certificate needs at least one DNS or IP SAN";
  }
  for (const auto& d : sans.dns_names) {
    if (d.find('*') != std::string::npos) {
      return "wildcard DNS SAN " + quote(d) + " is never approved";
    }
    if (!dns.contains(d)) {
      return "DNS SAN " + quote(d) + " is not a name of " + std::string(whose);
    }
  }
  for (const auto& ip : sans.ip_addresses) {
    if (!ips.contains(canonical_ip(ip))) {
      return "IP SAN " + quote(ip) + " is not an address of " + std::string(whose);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(CsrShape s) noexcept {
  switch (s) {
    case CsrShape::None:
      return "none";
    case CsrShape::NodeClient:
      return "node-client";
    case CsrShape::HubClient:
      return "hub-client";
    case CsrShape::HubServing:
      return "hub-serving";
    case CsrShape::TunnelServerServing:
      return "tunnel-server-serving";
    case CsrShape::TunnelAgentClient:
      return "tunnel-agent-client";
  }
  return "?";
}

std::vector<std::string> ApproverSettings::tunnel_dns_names() const {
  if (!tunnel_server_dns_names.empty()) {
    return tunnel_server_dns_names;
  }
  const std::string svc = "x-tunnel-server-svc";
  return {svc, svc + ".kube-system", svc + ".kube-system.svc",
          svc + ".kube-system.svc." + cluster_domain};
}

std::string node_of(std::string_view user) {
  if (!user.starts_with(kNodeUserPrefix)) {
    return {};
  }
  auto name = user.substr(kNodeUserPrefix.size());
  return is_dns_subdomain(name) ? std::string(name) : std::string();
}

CsrDecision decide_csr(const json& csr,
                       const kube::ObjectStore& nodes,
                       const ApproverSettings& settings) {
  if (decided(csr)) {
    return CsrDecision{CsrVerdict::AlreadyDecided, CsrShape::None, "decided", "already decided"};
  }
  auto spec = certs::csr_spec(csr);
  if (!spec) {
    return leave(CsrShape::None, "malformed", "unreadable CSR object: " + spec.error().message());
  }
  const bool kubelet_client = spec->signer_name == certs::kSignerKubeletClient;
  const bool apiserver_client = spec->signer_name == certs::kSignerKubeApiserverClient;
  const bool serving = spec->signer_name == certs::kSignerKubeletServing;
  if (!kubelet_client && !apiserver_client && !serving) {
    return leave(CsrShape::None, "signer",
                 "signer " + quote(spec->signer_name) + " is not one the suite uses");
  }
  auto req = certs::parse_csr(spec->request_pem);
  if (!req) {
    return leave(CsrShape::None, "malformed", "request: " + req.error().message());
  }

  // What every shape shares: a plain leaf request for an ECDSA or RSA key, CN and O only.
  const auto& ext = req->extensions;
  if (ext.is_ca()) {
    return leave(CsrShape::None, "ca", "the request asks for CA:TRUE");
  }
  for (const auto& e : ext.all) {
    if (e.name != "subjectAltName") {
      return leave(
          CsrShape::None, "extension",
          "the request carries extension " + e.name + " (only subjectAltName is expected)");
    }
  }
  if (!req->other_attributes.empty()) {
    return leave(CsrShape::None, "extension",
                 "the request carries attribute " + req->other_attributes.front());
  }
  const auto& key = req->public_key;
  const bool rsa = key.type == certs::KeyType::Rsa;
  if (!(rsa && key.bits >= 2048) &&
      !(key.type == certs::KeyType::Ecdsa &&
        (key.curve == "P-256" || key.curve == "P-384" || key.curve == "P-521"))) {
    return leave(CsrShape::None, "key", "key " + key.describe() + " is not ECDSA or RSA ≥ 2048");
  }
  const auto orgs = organizations_of(*req);
  if (contains(orgs, "system:masters")) {
    return leave(CsrShape::None, "masters", "subject asks for group system:masters");
  }
  for (const auto& a : req->subject.attributes) {
    if (a.type != "CN" && a.type != "O") {
      return leave(CsrShape::None, "subject",
                   "subject attribute " + a.type + "=" + quote(a.value) + " is not expected");
    }
  }
  const auto& sans = ext.sans;
  if (!sans.emails.empty() || !sans.uris.empty() || !sans.others.empty()) {
    return leave(CsrShape::None, "san",
                 "email, URI and other SANs are never part of the suite's "
                 "certificates");
  }
  const std::string node = node_of(req->subject.common_name);
  if (node.empty()) {
    return leave(CsrShape::None, "subject",
                 "CN " + quote(req->subject.common_name) + " is not system:node:<node name>");
  }
  const std::string cn = quote(req->subject.common_name);

  if (kubelet_client || apiserver_client) {
    // Client certificates: which one is decided by the organizations.
    CsrShape shape = CsrShape::NodeClient;
    if (apiserver_client) {
      if (contains(orgs, kNodesGroup)) {
        shape = CsrShape::HubClient;
      } else if (orgs == std::vector<std::string>{std::string(kTunnelAgentOrganization)}) {
        shape = CsrShape::TunnelAgentClient;
      } else {
        return leave(CsrShape::None, "subject",
                     "organizations " + join(orgs) + " are not a suite client's");
      }
    }
    if (shape == CsrShape::NodeClient &&
        orgs != std::vector<std::string>{std::string(kNodesGroup)}) {
      return leave(shape, "subject",
                   "organizations " + join(orgs) + " are not exactly [\"system:nodes\"]");
    }
    if (shape == CsrShape::HubClient) {
      for (const auto& o : orgs) {
        if (o != kNodesGroup && o != kHubOrganization) {
          return leave(shape, "subject",
                       "organization " + quote(o) + " is not system:nodes or " +
                           std::string(kHubOrganization));
        }
      }
    }
    if (!sans.empty()) {
      return leave(shape, "san", "a client certificate carries no SANs");
    }
    auto usages = check_usages(spec->usages, certs::Usage::ClientAuth, rsa);
    if (!usages.ok) {
      return leave(shape, "usages", usages.problem);
    }
    // The node itself renews; a bootstrap identity may ask for the node client and tunnel agent
    // certificates, as upstream's node-client bootstrap allows — but never for the hub's
    // apiserver-client certificate, which only a node's own identity may extend.
    const bool self = is_self(*spec, node);
    const bool bootstrap = is_bootstrapper(*spec) && shape != CsrShape::HubClient;
    if (!self && !bootstrap) {
      return leave(shape, "requester",
                   "requested by " + requester(*spec) + ", not by " + std::string(kNodeUserPrefix) +
                       node + (shape == CsrShape::HubClient ? "" : " or a bootstrap token"));
    }
    if (shape == CsrShape::TunnelAgentClient && !nodes.get(node)) {
      return leave(shape, "node", "no Node " + quote(node) + " for the tunnel agent");
    }
    return CsrDecision{CsrVerdict::Approve, shape, "approved",
                       std::string(to_string(shape)) + " certificate for " + cn +
                           ", requested by " + requester(*spec)};
  }

  // kubelet-serving: the hub's (or kubelet's) of a node, or the tunnel server's.
  const bool tunnel =
      node == settings.tunnel_server_name && spec->username == settings.tunnel_server_identity;
  const CsrShape shape = tunnel ? CsrShape::TunnelServerServing : CsrShape::HubServing;
  if (orgs != std::vector<std::string>{std::string(kNodesGroup)}) {
    return leave(shape, "subject",
                 "organizations " + join(orgs) + " are not exactly [\"system:nodes\"]");
  }
  auto usages = check_usages(spec->usages, certs::Usage::ServerAuth, rsa);
  if (!usages.ok) {
    return leave(shape, "usages", usages.problem);
  }
  std::set<std::string> dns;
  std::set<std::string> ips;
  std::string whose;
  if (tunnel) {
    for (const auto& d : settings.tunnel_dns_names()) {
      dns.insert(d);
    }
    ips.insert("127.0.0.1");
    for (const auto& ip : settings.tunnel_server_ips) {
      ips.insert(canonical_ip(ip));
    }
    // The server runs with hostNetwork on control-plane nodes: agents may dial those.
    for (const auto& n : nodes.list()) {
      if (n && label(*n, "node-role.kubernetes.io/control-plane")) {
        auto f = facts_of(*n);
        dns.insert(f.dns.begin(), f.dns.end());
        ips.insert(f.ips.begin(), f.ips.end());
      }
    }
    whose = "the tunnel server (its Service, control-plane nodes, configured extras)";
  } else {
    if (!is_self(*spec, node)) {
      return leave(
          shape, "requester",
          "requested by " + requester(*spec) + ", not by " + std::string(kNodeUserPrefix) + node);
    }
    auto n = nodes.get(node);
    if (!n) {
      return leave(shape, "node", "no Node " + quote(node) + " to check the SANs against");
    }
    auto f = facts_of(*n);
    dns = std::move(f.dns);
    ips = std::move(f.ips);
    for (const auto& ip : settings.hub_addresses) {
      ips.insert(canonical_ip(ip));
    }
    // Pods reach the hub's secure proxy in-cluster by these names.
    for (std::string d : {"kubernetes", "kubernetes.default", "kubernetes.default.svc"}) {
      dns.insert(d);
    }
    dns.insert("kubernetes.default.svc." + settings.cluster_domain);
    whose = "node " + quote(node) + " or its hub";
  }
  if (auto problem = check_sans(sans, dns, ips, whose)) {
    return leave(shape, "san", *problem);
  }
  return CsrDecision{CsrVerdict::Approve, shape, "approved",
                     std::string(to_string(shape)) + " certificate for " + cn + ", requested by " +
                         requester(*spec)};
}

json approval_object(const json& csr, const CsrDecision& decision, const std::string& now) {
  json out = csr;
  json& status = out["status"];
  if (!status.is_object()) {
    status = json::object();
  }
  json& conditions = status["conditions"];
  if (!conditions.is_array()) {
    conditions = json::array();
  }
  conditions.push_back({{"type", "Approved"},
                        {"status", "True"},
                        {"reason", "AutoApproved"},
                        {"message", "Approved by yurt-controller-manager: " + decision.reason},
                        {"lastUpdateTime", now}});
  return out;
}

}  // namespace yurt::controller
