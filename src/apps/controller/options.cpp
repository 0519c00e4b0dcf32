#include "src/apps/controller/options.hpp"

#include <array>
#include <cstdio>
#include <random>
#include <utility>

#include <boost/asio/ip/address.hpp>

#include "yurt/base/strings.hpp"
#include "yurt/kube/errors.hpp"

#include <unistd.h>

namespace yurt::controller {

namespace {

bool is_ip(const std::string& s) {
  boost::system::error_code ec;
  (void)boost::asio::ip::make_address(s, ec);
  return !ec;
}

struct Controllers {
  bool lifecycle = false;
  bool approver = false;
  std::string problem;
};

// kube-controller-manager's --controllers semantics: "*" = every default one, "name" turns one
// on, "-name" turns it off.
Controllers parse_controllers(const std::vector<std::string>& list) {
  Controllers c;
  bool star = false;
  for (const auto& raw : list) {
    const std::string_view item = trim(raw);
    if (item == "*") {
      star = true;
    }
  }
  c.lifecycle = star;
  c.approver = star;
  for (const auto& raw : list) {
    std::string_view item = trim(raw);
    if (item == "*" || item.empty()) {
      continue;
    }
    const bool off = item.starts_with('-');
    if (off) {
      item.remove_prefix(1);
    }
    if (item == "nodelifecycle" || item == "node-lifecycle-controller") {
      c.lifecycle = !off;
    } else if (item == "csrapprover" || item == "csr-approver-controller") {
      c.approver = !off;
    } else {
      c.problem = "--controllers: unknown controller " + quote(item) +
                  " (known: nodelifecycle, csrapprover)";
    }
  }
  return c;
}

std::string identity(const std::string& pod_name) {
  std::array<char, 256> host{};
  if (!pod_name.empty()) {
    pod_name.copy(host.data(), host.size() - 1);
  } else if (::gethostname(host.data(), host.size() - 1) != 0) {
    host[0] = '\0';
  }
  std::random_device rd;
  std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  std::array<char, 17> hex{};
  std::snprintf(hex.data(), hex.size(), "%016llx", static_cast<unsigned long long>(rng()));
  std::string h = host.data();
  return (h.empty() ? std::string("yurt-controller-manager") : h) + "_" + hex.data();
}

}  // namespace

std::vector<std::string> ControllerOptions::validate() const {
  std::vector<std::string> errors;
  const auto duration = [&](const char* flag, const std::string& value) {
    auto d = parse_duration(value);
    if (!d) {
      errors.push_back(std::string(flag) + ": " + d.error().message());
      return std::chrono::nanoseconds::zero();
    }
    if (d->count() <= 0) {
      errors.push_back(std::string(flag) + ": must be positive, got " + quote(value));
    }
    return *d;
  };
  const auto period = duration("--node-monitor-period", node_monitor_period);
  const auto grace = duration("--node-monitor-grace-period", node_monitor_grace_period);
  (void)duration("--node-startup-grace-period", node_startup_grace_period);
  if (period.count() > 0 && grace.count() > 0 && period >= grace) {
    errors.push_back("--node-monitor-period (" + node_monitor_period +
                     ") must be shorter than --node-monitor-grace-period (" +
                     node_monitor_grace_period + ")");
  }
  if (!(node_eviction_rate >= 0)) {
    errors.push_back("--node-eviction-rate must be ≥ 0");
  }
  if (!(secondary_node_eviction_rate >= 0)) {
    errors.push_back("--secondary-node-eviction-rate must be ≥ 0");
  }
  if (!(unhealthy_zone_threshold > 0 && unhealthy_zone_threshold <= 1)) {
    errors.push_back("--unhealthy-zone-threshold must be in (0, 1]");
  }
  if (large_cluster_size_threshold < 0) {
    errors.push_back("--large-cluster-size-threshold must be ≥ 0");
  }
  for (const auto& a : hub_addresses) {
    if (!is_ip(a)) {
      errors.push_back("--hub-addresses: " + quote(a) + " is not an IP address");
    }
  }
  for (const auto& a : tunnel_server_ips) {
    if (!is_ip(a)) {
      errors.push_back("--tunnel-server-ips: " + quote(a) + " is not an IP address");
    }
  }
  for (const auto& d : tunnel_server_dns_names) {
    if (d.empty() || d.find('*') != std::string::npos) {
      errors.push_back("--tunnel-server-dns-names: " + quote(d) + " is not a plain DNS name");
    }
  }
  if (tunnel_server_name.empty()) {
    errors.push_back("--tunnel-server-name must not be empty");
  }
  if (cluster_domain.empty()) {
    errors.push_back("--cluster-domain must not be empty");
  }
  if (auto c = parse_controllers(controllers); !c.problem.empty()) {
    errors.push_back(c.problem);
  }
  const auto lease = duration("--leader-elect-lease-duration", leader_elect_lease_duration);
  const auto renew = duration("--leader-elect-renew-deadline", leader_elect_renew_deadline);
  const auto retry = duration("--leader-elect-retry-period", leader_elect_retry_period);
  if (leader_elect && lease.count() > 0 && renew.count() > 0 && retry.count() > 0) {
    kube::LeaderElectionConfig config;
    config.identity = "x";
    config.lease_duration = std::chrono::duration_cast<std::chrono::seconds>(lease);
    config.renew_deadline = std::chrono::duration_cast<std::chrono::seconds>(renew);
    config.retry_period = std::chrono::duration_cast<std::chrono::seconds>(retry);
    if (config.retry_period.count() == 0) {
      errors.push_back("--leader-elect-retry-period must be at least 1s");
    } else if (auto v = config.validate(); !v) {
      errors.push_back("leader election: " + v.error().message());
    }
  }
  if (leader_elect &&
      (leader_elect_resource_namespace.empty() || leader_elect_resource_name.empty())) {
    errors.push_back(
        "--leader-elect-resource-namespace and --leader-elect-resource-name must be set");
  }
  if (!is_ip(bind_address)) {
    errors.push_back("--bind-address: " + quote(bind_address) + " is not an IP address");
  }
  if (port < 0 || port > 65535) {
    errors.push_back("--port: " + std::to_string(port) + " is not a port (0-65535)");
  }
  if (verbosity < 0) {
    errors.push_back("-v must be ≥ 0");
  }
  if (log_format != "text" && log_format != "json") {
    errors.push_back("--log-format: " + quote(log_format) + " is not text or json");
  }
  return errors;
}

Result<ControllerSettings> ControllerOptions::complete() const {
  if (auto errors = validate(); !errors.empty()) {
    return fail(kube::Errc::InvalidConfig, errors.front());
  }
  ControllerSettings s;
  s.kubeconfig = kubeconfig;
  const auto c = parse_controllers(controllers);
  s.run_lifecycle = c.lifecycle;
  s.run_approver = c.approver;
  s.lifecycle.monitor_period = *parse_duration(node_monitor_period);
  s.lifecycle.grace_period = *parse_duration(node_monitor_grace_period);
  s.lifecycle.startup_grace_period = *parse_duration(node_startup_grace_period);
  s.lifecycle.eviction_rate = node_eviction_rate;
  s.lifecycle.secondary_eviction_rate = secondary_node_eviction_rate;
  s.lifecycle.unhealthy_zone_threshold = unhealthy_zone_threshold;
  s.lifecycle.large_cluster_size_threshold = large_cluster_size_threshold;
  s.approver.hub_addresses = hub_addresses;
  s.approver.cluster_domain = cluster_domain;
  s.approver.tunnel_server_identity = tunnel_server_identity;
  s.approver.tunnel_server_name = tunnel_server_name;
  s.approver.tunnel_server_dns_names = tunnel_server_dns_names;
  s.approver.tunnel_server_ips = tunnel_server_ips;
  s.leader_elect = leader_elect;
  s.election.identity = identity(pod_name);
  s.election.lease_duration = std::chrono::duration_cast<std::chrono::seconds>(
      *parse_duration(leader_elect_lease_duration));
  s.election.renew_deadline = std::chrono::duration_cast<std::chrono::seconds>(
      *parse_duration(leader_elect_renew_deadline));
  s.election.retry_period =
      std::chrono::duration_cast<std::chrono::seconds>(*parse_duration(leader_elect_retry_period));
  s.election_namespace = leader_elect_resource_namespace;
  s.election_name = leader_elect_resource_name;
  s.bind_address = bind_address;
  s.port = static_cast<std::uint16_t>(port);
  s.seed = std::random_device{}();
  return s;
}

}  // namespace yurt::controller
