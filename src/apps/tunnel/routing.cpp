#include "src/apps/tunnel/routing.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/ip/address.hpp>

#include "yurt/base/strings.hpp"

#include "src/apps/tunnel/errc.hpp"
#include "src/apps/tunnel/settings.hpp"

namespace yurt::tunnel_app {

namespace {

class Category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "yurt.tunnel_app"; }
  [[nodiscard]] std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
      case Errc::InvalidConfig:
        return "invalid configuration";
      case Errc::InvalidNode:
        return "unusable node object";
      case Errc::Unauthorized:
        return "unauthorized";
      case Errc::NotAllowed:
        return "destination not allowed";
      case Errc::NotRedirected:
        return "not a redirected connection";
      case Errc::Iptables:
        return "iptables failed";
      case Errc::Handshake:
        return "tunnel handshake failed";
    }
    return "unknown tunnel error " + std::to_string(code);
  }
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  for (auto label : split(s, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-') {
        return false;
      }
    }
  }
  return true;
}

void add_unique(std::vector<std::string>& v, std::string s) {
  if (!s.empty() && std::find(v.begin(), v.end(), s) == v.end()) {
    v.push_back(std::move(s));
  }
}

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

std::string normalise_host(std::string_view host) {
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (!ec) {
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
      return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6())
          .to_string();
    }
    return address.to_string();
  }
  if (is_dns_name(host)) {
    return lower(host);
  }
  return {};
}

Result<NodeRecord> node_from_json(const nlohmann::json& node) {
  NodeRecord record;
  const auto* meta = node.is_object() && node.contains("metadata") ? &node["metadata"] : nullptr;
  if (meta == nullptr || !meta->is_object() || !meta->contains("name") ||
      !(*meta)["name"].is_string()) {
    return fail(Errc::InvalidNode, "node object without metadata.name");
  }
  record.name = (*meta)["name"].get<std::string>();
  if (auto ok = tunnel::check_node_name(record.name); !ok) {
    return fail(Errc::InvalidNode, ok.error().message());
  }
  if (auto labels = meta->find("labels"); labels != meta->end() && labels->is_object()) {
    auto edge = labels->find(std::string(kEdgeWorkerLabel));
    record.edge = edge != labels->end() && edge->is_string() && edge->get<std::string>() == "true";
  }
  add_unique(record.addresses, record.name);
  std::vector<std::string> internal;
  std::vector<std::string> external;
  const auto status = node.find("status");
  if (status != node.end() && status->is_object()) {
    const auto addresses = status->find("addresses");
    if (addresses != status->end() && addresses->is_array()) {
      for (const auto& a : *addresses) {
        if (!a.is_object() || !a.contains("address") || !a["address"].is_string()) {
          continue;
        }
        auto host = normalise_host(a["address"].get<std::string>());
        if (host.empty()) {
          continue;
        }
        add_unique(record.addresses, host);
        const std::string type = a.contains("type") && a["type"].is_string() ? a["type"] : "";
        boost::system::error_code ec;
        auto ip = boost::asio::ip::make_address(host, ec);
        if (ec || !ip.is_v4()) {
          continue;
        }
        if (type == "InternalIP") {
          add_unique(internal, host);
        } else if (type == "ExternalIP") {
          add_unique(external, host);
        }
      }
    }
  }
  for (auto& ip : internal) {
    add_unique(record.ipv4, std::move(ip));
  }
  for (auto& ip : external) {
    add_unique(record.ipv4, std::move(ip));
  }
  return record;
}

// ---- NodeTable ----

void NodeTable::upsert(NodeRecord node) {
  if (auto it = nodes_.find(node.name); it != nodes_.end()) {
    unindex(it->second);
    it->second = std::move(node);
    index(it->second);
    return;
  }
  auto [it, inserted] = nodes_.emplace(node.name, std::move(node));
  index(it->second);
}

void NodeTable::remove(std::string_view name) {
  auto it = nodes_.find(name);
  if (it == nodes_.end()) {
    return;
  }
  unindex(it->second);
  nodes_.erase(it);
}

const NodeRecord* NodeTable::find(std::string_view name) const {
  auto it = nodes_.find(name);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<std::string> NodeTable::owners(std::string_view host) const {
  auto it = by_address_.find(normalise_host(host));
  if (it == by_address_.end()) {
    return {};
  }
  return {it->second.begin(), it->second.end()};
}

void NodeTable::index(const NodeRecord& node) {
  for (const auto& a : node.addresses) {
    by_address_[a].insert(node.name);
  }
}

void NodeTable::unindex(const NodeRecord& node) {
  for (const auto& a : node.addresses) {
    auto it = by_address_.find(a);
    if (it == by_address_.end()) {
      continue;
    }
    it->second.erase(node.name);
    if (it->second.empty()) {
      by_address_.erase(it);
    }
  }
}

// ---- PortPolicy ----

PortPolicy::PortPolicy(const std::vector<std::uint16_t>& extra) {
  ports_.insert(kKubeletPort);
  ports_.insert(kKubeletReadOnlyPort);
  for (auto p : extra) {
    if (p != 0) {
      ports_.insert(p);
    }
  }
}

std::string PortPolicy::describe() const {
  std::string out;
  for (auto p : ports_) {
    if (!out.empty()) {
      out += ", ";
    }
    out += std::to_string(p);
  }
  return out;
}

// ---- route ----

std::string_view to_string(Entry entry) noexcept {
  return entry == Entry::Egress ? "egress" : "dnat";
}

std::string_view to_string(RefuseReason reason) noexcept {
  switch (reason) {
    case RefuseReason::BadRequest:
      return "bad_request";
    case RefuseReason::PortNotAllowed:
      return "port_not_allowed";
    case RefuseReason::NotANode:
      return "not_a_node";
    case RefuseReason::Ambiguous:
      return "ambiguous_address";
    case RefuseReason::NoAgent:
      return "no_agent";
    case RefuseReason::NotRedirected:
      return "not_redirected";
    case RefuseReason::AgentRefused:
      return "agent_refused";
    case RefuseReason::Timeout:
      return "timeout";
    case RefuseReason::DialFailed:
      return "dial_failed";
    case RefuseReason::Unauthorized:
      return "unauthorized";
  }
  return "unknown";
}

int http_status(RefuseReason reason) noexcept {
  switch (reason) {
    case RefuseReason::BadRequest:
      return 400;
    case RefuseReason::PortNotAllowed:
    case RefuseReason::NotANode:
    case RefuseReason::Ambiguous:
    case RefuseReason::NotRedirected:
    case RefuseReason::Unauthorized:
      return 403;
    case RefuseReason::NoAgent:
      return 503;
    case RefuseReason::AgentRefused:
    case RefuseReason::DialFailed:
      return 502;
    case RefuseReason::Timeout:
      return 504;
  }
  return 500;
}

Route route(const tunnel::Destination& destination,
            Entry entry,
            const NodeTable& nodes,
            const PortPolicy& ports,
            const std::function<bool(std::string_view node)>& has_agent) {
  const auto host = normalise_host(destination.host);
  const bool v6 = host.find(':') != std::string::npos;
  const auto target = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(destination.port);
  auto refuse = [&](RefuseReason reason, std::string message) {
    Route r;
    r.kind = Route::Kind::Refuse;
    r.reason = reason;
    r.message = std::move(message);
    return r;
  };
  if (!ports.allows(destination.port)) {
    return refuse(RefuseReason::PortNotAllowed,
                  "port " + std::to_string(destination.port) +
                      " is not allowed (allowed: " + ports.describe() + ")");
  }
  auto owners = nodes.owners(host);
  if (owners.empty()) {
    return refuse(RefuseReason::NotANode,
                  quote(destination.host) + " is not an address of any node");
  }
  if (owners.size() > 1) {
    std::string names;
    for (const auto& o : owners) {
      names += (names.empty() ? "" : ", ") + o;
    }
    return refuse(RefuseReason::Ambiguous,
                  quote(destination.host) + " is claimed by several nodes (" + names + ")");
  }
  const auto& name = owners.front();
  const auto* node = nodes.find(name);
  if (has_agent(name)) {
    Route r;
    r.kind = Route::Kind::Tunnel;
    r.node = name;
    r.destination = target;
    return r;
  }
  if (entry == Entry::Egress && node != nullptr && !node->edge) {
    // A cloud node: the server sits beside the apiserver and dials it as the apiserver would:
    // the IP it asked for, or the node's first IPv4 address when it asked by name.
    std::string dial = host;
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(dial, ec);
    if (ec) {
      if (node->ipv4.empty()) {
        return refuse(
            RefuseReason::NotANode,
            "cloud node " + name + " has no IPv4 address to dial for " + quote(destination.host));
      }
      dial = node->ipv4.front();
    }
    Route r;
    r.kind = Route::Kind::Direct;
    r.node = name;
    r.destination = dial;
    return r;
  }
  if (node != nullptr && node->edge) {
    return refuse(RefuseReason::NoAgent, "edge node " + name + " has no tunnel agent connected");
  }
  return refuse(RefuseReason::NoAgent, "node " + name + " has no tunnel agent connected");
}

// ---- AgentRegistry ----

std::vector<AgentRegistry::SessionPtr> AgentRegistry::add(const std::string& node,
                                                          SessionPtr session) {
  auto& list = sessions_[node];
  std::vector<SessionPtr> older = list;
  list.push_back(std::move(session));
  return older;
}

void AgentRegistry::remove(const std::string& node, const tunnel::Session* session) {
  auto it = sessions_.find(node);
  if (it == sessions_.end()) {
    return;
  }
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [&](const SessionPtr& s) { return s.get() == session; }),
             list.end());
  if (list.empty()) {
    sessions_.erase(it);
  }
}

AgentRegistry::SessionPtr AgentRegistry::find(std::string_view node) const {
  auto it = sessions_.find(node);
  if (it == sessions_.end()) {
    return nullptr;
  }
  for (auto s = it->second.rbegin(); s != it->second.rend(); ++s) {
    if ((*s)->state() == tunnel::SessionState::Open) {
      return *s;
    }
  }
  return nullptr;
}

std::vector<std::string> AgentRegistry::nodes() const {
  std::vector<std::string> out;
  for (const auto& [node, list] : sessions_) {
    out.push_back(node);
  }
  return out;
}

std::vector<AgentRegistry::SessionPtr> AgentRegistry::all() const {
  std::vector<SessionPtr> out;
  for (const auto& [node, list] : sessions_) {
    out.insert(out.end(), list.begin(), list.end());
  }
  return out;
}

Result<std::string> node_from_common_name(std::string_view common_name) {
  constexpr std::string_view kPrefix = "system:node:";
  if (!common_name.starts_with(kPrefix)) {
    return fail(Errc::Unauthorized, "certificate CN " + quote(common_name) +
                                        " is not a node identity (system:node:<name>)");
  }
  auto name = common_name.substr(kPrefix.size());
  if (auto ok = tunnel::check_node_name(name); !ok) {
    return fail(Errc::Unauthorized,
                "certificate CN " + quote(common_name) + ": " + ok.error().message());
  }
  return std::string(name);
}

}  // namespace yurt::tunnel_app
