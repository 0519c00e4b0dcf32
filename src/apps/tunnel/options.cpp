#include "src/apps/tunnel/options.hpp"

#include <charconv>

#include <boost/asio/ip/address.hpp>

#include "yurt/base/strings.hpp"
#include "yurt/tunnel/frame.hpp"

#include "src/apps/tunnel/errc.hpp"

namespace yurt::tunnel_app {

namespace {

class Problems {
 public:
  void add(std::string message) { list_.push_back(std::move(message)); }
  [[nodiscard]] std::vector<std::string> take() { return std::move(list_); }

  void port(std::string_view flag, int value, bool zero_ok = false) {
    if (value < (zero_ok ? 0 : 1) || value > 65535) {
      add(std::string(flag) + ": " + std::to_string(value) + " is not a port (" +
          (zero_ok ? "0" : "1") + "-65535)");
    }
  }
  void ip(std::string_view flag, const std::string& value) {
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address(value, ec);
    if (ec) {
      add(std::string(flag) + ": " + quote(value) + " is not an IP address");
    }
  }
  std::chrono::milliseconds duration(std::string_view flag, const std::string& value) {
    auto d = parse_duration(value);
    if (!d || d->count() <= 0) {
      add(std::string(flag) + ": " +
          (d ? quote(value) + " must be positive" : d.error().message()));
      return std::chrono::milliseconds(1);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  std::vector<std::uint16_t> ports(std::string_view flag, const std::vector<std::string>& values) {
    std::vector<std::uint16_t> out;
    for (const auto& value : values) {
      for (auto item : split(value, ',')) {
        item = trim(item);
        if (item.empty()) {
          continue;
        }
        int p = 0;
        auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), p);
        if (ec != std::errc() || end != item.data() + item.size() || p < 1 || p > 65535) {
          add(std::string(flag) + ": " + quote(item) + " is not a port (1-65535)");
          continue;
        }
        out.push_back(static_cast<std::uint16_t>(p));
      }
    }
    return out;
  }
  void log(int verbosity, const std::string& format) {
    if (verbosity < 0 || verbosity > 10) {
      add("--v: " + std::to_string(verbosity) + " is outside 0-10");
    }
    if (format != "text" && format != "json") {
      add("--log-format: " + quote(format) + " is not text or json");
    }
  }

 private:
  std::vector<std::string> list_;
};

std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    for (auto item : split(v, ',')) {
      item = trim(item);
      if (!item.empty()) {
        out.emplace_back(item);
      }
    }
  }
  return out;
}

struct ServerBuild {
  ServerSettings settings;
  std::vector<std::string> problems;
};

ServerBuild build(const ServerOptions& o) {
  Problems p;
  ServerSettings s;
  p.ip("--bind-address", o.bind_address);
  p.port("--tunnel-agent-connect-port", o.tunnel_agent_connect_port);
  s.agents = {o.bind_address, static_cast<std::uint16_t>(o.tunnel_agent_connect_port)};
  p.port("--egress-port", o.egress_port, true);
  s.egress_tcp = o.egress_port != 0;
  if (s.egress_tcp) {
    p.ip("--egress-bind-address", o.egress_bind_address);
  }
  s.egress = {o.egress_bind_address, static_cast<std::uint16_t>(o.egress_port)};
  s.egress_uds = o.egress_uds;
  if (!o.egress_uds.empty() && o.egress_uds.front() != '/') {
    p.add("--egress-uds: " + quote(o.egress_uds) + " must be an absolute path");
  }
  s.egress_client_names = split_list(o.egress_client_cn);
  if (s.egress_tcp && s.egress_client_names.empty()) {
    p.add("--egress-client-cn: at least one name is needed for the TCP egress entry");
  }
  s.iptables.enabled = o.enable_iptables;
  if (o.enable_iptables) {
    p.ip("--dnat-address", o.dnat_address);
    p.port("--secure-bind-port", o.secure_bind_port);
    p.port("--insecure-bind-port", o.insecure_bind_port);
    if (o.iptables_sync_period < 5) {
      p.add("--iptables-sync-period: " + std::to_string(o.iptables_sync_period) +
            " s is below the minimum of 5 s");
    }
  }
  s.dnat_address = o.dnat_address;
  s.secure_port = static_cast<std::uint16_t>(o.secure_bind_port);
  s.insecure_port = static_cast<std::uint16_t>(o.insecure_bind_port);
  s.iptables.iptables = o.iptables;
  s.iptables.iptables_restore = o.iptables_restore;
  s.iptables.sync_period = std::chrono::seconds(o.iptables_sync_period);
  p.ip("--meta-bind-address", o.meta_bind_address);
  p.port("--meta-port", o.meta_port, true);
  s.meta = {o.meta_bind_address, static_cast<std::uint16_t>(o.meta_port)};
  if (o.cert_file.empty()) {
    p.add("--cert-file: required (the serving certificate agents and the apiserver verify)");
  }
  if (o.ca_file.empty()) {
    p.add("--ca-file: required (the cluster CA that verifies agents)");
  }
  s.tls = {o.cert_file, o.key_file, o.ca_file};
  s.extra_ports = p.ports("--allowed-ports", o.allowed_ports);
  s.kubeconfig = o.kubeconfig;
  s.dial_timeout = p.duration("--dial-timeout", o.dial_timeout);
  s.drain_timeout = p.duration("--drain-timeout", o.drain_timeout);
  s.session.drain_timeout = s.drain_timeout;
  if (!s.egress_tcp && o.egress_uds.empty() && !o.enable_iptables) {
    p.add("no entry for the apiserver: set --egress-port, --egress-uds or --enable-iptables");
  }
  p.log(o.verbosity, o.log_format);
  return {std::move(s), p.take()};
}

struct AgentBuild {
  AgentSettings settings;
  std::vector<std::string> problems;
};

AgentBuild build(const AgentOptions& o) {
  Problems p;
  AgentSettings s;
  s.node_name = o.node_name;
  if (o.node_name.empty()) {
    p.add("--node-name: required");
  } else if (auto ok = tunnel::check_node_name(o.node_name); !ok) {
    p.add("--node-name: " + ok.error().message());
  }
  s.servers = split_list(o.server_addr);
  if (s.servers.empty()) {
    p.add("--server-addr: at least one tunnel server host:port is required");
  }
  for (const auto& server : s.servers) {
    if (auto d = tunnel::parse_destination(server); !d) {
      p.add("--server-addr: " + d.error().message());
    }
  }
  if (!o.cert_file.empty() && !o.cert_dir.empty()) {
    p.add("--cert-file and --cert-dir: give one of them");
  }
  s.tls = {o.cert_file, o.key_file, o.ca_file};
  s.cert_dir = o.cert_file.empty() ? (o.cert_dir.empty() ? "/var/lib/kubelet/pki" : o.cert_dir)
                                   : std::string();
  s.cert_prefix = o.cert_prefix;
  if (o.ca_file.empty()) {
    p.add("--ca-file: required (the cluster CA that verifies the tunnel server)");
  }
  s.server_name = o.server_name;
  s.extra_ports = p.ports("--allowed-ports", o.allowed_ports);
  p.ip("--kubelet-address", o.kubelet_address);
  s.kubelet_address = o.kubelet_address;
  p.ip("--meta-bind-address", o.meta_bind_address);
  p.port("--meta-port", o.meta_port, true);
  s.meta = {o.meta_bind_address, static_cast<std::uint16_t>(o.meta_port)};
  s.dial_timeout = p.duration("--dial-timeout", o.dial_timeout);
  s.reconnect_initial = p.duration("--reconnect-initial", o.reconnect_initial);
  s.reconnect_cap = p.duration("--reconnect-max", o.reconnect_max);
  if (s.reconnect_cap < s.reconnect_initial) {
    p.add("--reconnect-max: " + o.reconnect_max + " is below --reconnect-initial " +
          o.reconnect_initial);
  }
  s.reconnect_refused_cap = std::min(s.reconnect_refused_cap, s.reconnect_cap);
  s.drain_timeout = p.duration("--drain-timeout", o.drain_timeout);
  s.session.drain_timeout = s.drain_timeout;
  p.log(o.verbosity, o.log_format);
  return {std::move(s), p.take()};
}

template <class Settings>
Result<Settings> finish(Settings settings, std::vector<std::string> problems) {
  if (!problems.empty()) {
    return fail(Errc::InvalidConfig, problems.front());
  }
  return settings;
}

}  // namespace

std::vector<std::string> ServerOptions::validate() const {
  return build(*this).problems;
}

Result<ServerSettings> ServerOptions::complete() const {
  auto b = build(*this);
  return finish(std::move(b.settings), std::move(b.problems));
}

std::vector<std::string> AgentOptions::validate() const {
  return build(*this).problems;
}

Result<AgentSettings> AgentOptions::complete() const {
  auto b = build(*this);
  return finish(std::move(b.settings), std::move(b.problems));
}

}  // namespace yurt::tunnel_app
