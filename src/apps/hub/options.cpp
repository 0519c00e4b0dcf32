#include "src/apps/hub/options.hpp"

#include <charconv>
#include <set>
#include <string_view>
#include <utility>

#include <boost/asio/ip/address.hpp>

#include "yurt/base/strings.hpp"
#include "yurt/certs/bootstrap.hpp"
#include "yurt/kube/selectors.hpp"

#include "src/apps/hub/errc.hpp"

namespace yurt::hub {
namespace {

bool is_ip(std::string_view s) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(s), ec);
  return !ec;
}

bool is_unspecified(const std::string& s) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(s, ec);
  return !ec && a.is_unspecified();
}

/// "https://host[:port][/]" → ServerAddress; the error text completes "--server-addr …".
Result<ServerAddress> parse_server(std::string_view text) {
  constexpr std::string_view kScheme = "https://";
  if (!text.starts_with(kScheme)) {
    return fail(Errc::InvalidConfig, quote(text) + " must be an https:// URL");
  }
  std::string_view rest = text.substr(kScheme.size());
  if (rest.ends_with('/')) {
    rest.remove_suffix(1);
  }
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return fail(Errc::InvalidConfig, quote(text) + " must be scheme://host[:port] only");
  }
  ServerAddress out;
  std::string_view port_text;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) {
      return fail(Errc::InvalidConfig, quote(text) + " has an unterminated IPv6 literal");
    }
    out.host = std::string(rest.substr(1, close - 1));
    if (!is_ip(out.host)) {
      return fail(Errc::InvalidConfig, quote(text) + " has an invalid IPv6 address");
    }
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return fail(Errc::InvalidConfig, quote(text) + ": expected ':port' after ']'");
      }
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = rest.rfind(':');
    out.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
    }
    if (out.host.empty()) {
      return fail(Errc::InvalidConfig, quote(text) + " has no host");
    }
    if (!is_ip(out.host) && !kube::is_dns1123_subdomain(out.host)) {
      return fail(Errc::InvalidConfig, quote(text) + ": host is neither an IP nor a DNS name");
    }
  }
  if (!port_text.empty() || rest.ends_with(':')) {
    int port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      return fail(Errc::InvalidConfig, quote(text) + ": port must be 1-65535");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  const bool v6 = out.host.find(':') != std::string::npos;
  out.url = std::string(kScheme) + (v6 ? "[" + out.host + "]" : out.host) + ":" +
            std::to_string(out.port);
  return out;
}

std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    for (auto part : split(v, ',')) {
      out.emplace_back(trim(part));
    }
  }
  return out;
}

void check_port(std::vector<std::string>& errors, std::string_view flag, int port) {
  if (port < 1 || port > 65535) {
    errors.push_back(std::string(flag) + ": " + std::to_string(port) + " is not a port (1-65535)");
  }
}

void check_ip(std::vector<std::string>& errors, std::string_view flag, const std::string& ip) {
  if (!is_ip(ip)) {
    errors.push_back(std::string(flag) + ": " + quote(ip) + " is not an IP address");
  }
}

}  // namespace

std::vector<std::string> HubOptions::validate() const {
  std::vector<std::string> errors;

  const auto servers = split_list(server_addr);
  if (servers.empty()) {
    errors.emplace_back("--server-addr: at least one apiserver address is required");
  }
  std::set<std::string> seen_servers;
  for (const auto& s : servers) {
    auto parsed = parse_server(s);
    if (!parsed) {
      errors.push_back("--server-addr: " + parsed.error().message());
    } else if (!seen_servers.insert(parsed->url).second) {
      errors.push_back("--server-addr: " + quote(s) + " is given twice");
    }
  }

  if (node_name.empty()) {
    errors.emplace_back("--node-name: required");
  } else if (!kube::is_dns1123_subdomain(node_name)) {
    errors.push_back("--node-name: " + quote(node_name) +
                     " is not a valid node name (lower-case DNS-1123 subdomain)");
  }

  check_ip(errors, "--bind-address", bind_address);
  if (!bind_proxy_address.empty()) {
    check_ip(errors, "--bind-proxy-address", bind_proxy_address);
  }
  check_ip(errors, "--proxy-secure-bind-address", proxy_secure_bind_address);
  check_port(errors, "--proxy-port", proxy_port);
  check_port(errors, "--proxy-secure-port", proxy_secure_port);
  check_port(errors, "--serve-port", serve_port);
  // The three listeners must not collide (they may share a port on different addresses).
  const std::string proxy_addr = bind_proxy_address.empty() ? bind_address : bind_proxy_address;
  const std::pair<std::string, int> listeners[] = {{bind_address, serve_port},
                                                   {proxy_addr, proxy_port},
                                                   {proxy_secure_bind_address, proxy_secure_port}};
  const char* names[] = {"--serve-port", "--proxy-port", "--proxy-secure-port"};
  for (int i = 0; i < 3; ++i) {
    for (int j = i + 1; j < 3; ++j) {
      const bool same_host = listeners[i].first == listeners[j].first ||
                             is_unspecified(listeners[i].first) ||
                             is_unspecified(listeners[j].first);
      if (same_host && listeners[i].second == listeners[j].second) {
        errors.push_back(std::string(names[i]) + " and " + names[j] + " both use port " +
                         std::to_string(listeners[i].second));
      }
    }
  }

  if (root_dir.empty() || root_dir.front() != '/') {
    errors.push_back("--root-dir: " + quote(root_dir) + " must be an absolute path");
  }
  if (!disk_cache_path.empty() && disk_cache_path.front() != '/') {
    errors.push_back("--disk-cache-path: " + quote(disk_cache_path) + " must be an absolute path");
  }

  if (bootstrap_mode == "token") {
    if (join_token.empty() == bootstrap_file.empty()) {
      errors.emplace_back(
          "--bootstrap-mode=token needs exactly one of --join-token and --bootstrap-file");
    }
    if (!join_token.empty()) {
      if (auto t = certs::parse_bootstrap_token(join_token); !t) {
        errors.push_back("--join-token: " + t.error().message());
      }
      if (discovery_token_ca_cert_hash.empty() && !discovery_token_unsafe_skip_ca_verification) {
        errors.emplace_back(
            "--join-token needs --discovery-token-ca-cert-hash (or "
            "--discovery-token-unsafe-skip-ca-verification to trust cluster-info unpinned)");
      }
    }
  } else if (bootstrap_mode == "kubeletcertificate") {
    if (kubelet_client_certificate.empty()) {
      errors.emplace_back(
          "--kubelet-client-certificate: required with --bootstrap-mode=kubeletcertificate");
    }
    if (kubelet_ca_file.empty()) {
      errors.emplace_back("--kubelet-ca-file: required with --bootstrap-mode=kubeletcertificate");
    }
  } else {
    errors.push_back("--bootstrap-mode: " + quote(bootstrap_mode) +
                     " is not one of token, kubeletcertificate");
  }
  for (const auto& pin : discovery_token_ca_cert_hash) {
    if (auto p = certs::parse_ca_pin(pin); !p) {
      errors.push_back("--discovery-token-ca-cert-hash: " + p.error().message());
    }
  }
  if (discovery_token_unsafe_skip_ca_verification && !discovery_token_ca_cert_hash.empty()) {
    errors.emplace_back(
        "--discovery-token-unsafe-skip-ca-verification contradicts "
        "--discovery-token-ca-cert-hash");
  }

  if (lb_mode != "rr" && lb_mode != "priority") {
    errors.push_back("--lb-mode: " + quote(lb_mode) + " is not one of rr, priority");
  }
  if (heartbeat_interval_seconds < 1 || heartbeat_interval_seconds > 3600) {
    errors.push_back("--heartbeat-interval-seconds: " + std::to_string(heartbeat_interval_seconds) +
                     " is not within 1-3600");
  }
  if (heartbeat_timeout_seconds < 1 || heartbeat_timeout_seconds > heartbeat_interval_seconds) {
    errors.push_back("--heartbeat-timeout-seconds: " + std::to_string(heartbeat_timeout_seconds) +
                     " must be at least 1 and at most --heartbeat-interval-seconds (" +
                     std::to_string(heartbeat_interval_seconds) + ")");
  }

  const auto agents = split_list(cache_agents);
  for (const auto& a : agents) {
    if (a.empty()) {
      errors.emplace_back("--cache-agents: empty component name");
    } else if (a == "*") {
      if (agents.size() != 1) {
        errors.emplace_back("--cache-agents: '*' (every component) cannot be combined with names");
      }
    } else if (a.find_first_of("/ \t") != std::string::npos) {
      errors.push_back("--cache-agents: " + quote(a) +
                       " is not a component name (the User-Agent up to its first '/')");
    }
  }

  if (max_requests_in_flight < 1) {
    errors.push_back("--max-requests-in-flight: " + std::to_string(max_requests_in_flight) +
                     " must be at least 1");
  }
  if (workers < 1 || workers > 64) {
    errors.push_back("--workers: " + std::to_string(workers) + " is not within 1-64");
  }
  if (verbosity < 0 || verbosity > 10) {
    errors.push_back("--v: " + std::to_string(verbosity) + " is not within 0-10");
  }
  if (log_format != "text" && log_format != "json") {
    errors.push_back("--log-format: " + quote(log_format) + " is not one of text, json");
  }
  return errors;
}

Result<HubSettings> HubOptions::complete() const {
  if (auto errors = validate(); !errors.empty()) {
    return fail(Errc::InvalidConfig, errors.front());
  }
  HubSettings s;
  s.node_name = node_name;
  for (const auto& text : split_list(server_addr)) {
    s.servers.push_back(*parse_server(text));
  }
  s.lb_mode = lb_mode == "priority" ? LbMode::Priority : LbMode::RoundRobin;
  s.heartbeat_interval = std::chrono::seconds(heartbeat_interval_seconds);
  s.heartbeat_timeout = std::chrono::seconds(heartbeat_timeout_seconds);
  s.bind_address = bind_address;
  s.proxy_bind_address = bind_proxy_address.empty() ? bind_address : bind_proxy_address;
  s.secure_bind_address = proxy_secure_bind_address;
  s.proxy_port = static_cast<std::uint16_t>(proxy_port);
  s.proxy_secure_port = static_cast<std::uint16_t>(proxy_secure_port);
  s.serve_port = static_cast<std::uint16_t>(serve_port);
  // Pods reach the secure proxy at its bind address; on "any address" loopback is the one we
  // can name without knowing the node's interfaces (hostNetwork pods).
  s.service_host =
      is_unspecified(proxy_secure_bind_address) ? "127.0.0.1" : proxy_secure_bind_address;
  s.root_dir = root_dir;
  s.disk_cache_path =
      disk_cache_path.empty() ? s.root_dir / "cache" : std::filesystem::path(disk_cache_path);

  s.certs.mode =
      bootstrap_mode == "token" ? BootstrapMode::Token : BootstrapMode::KubeletCertificate;
  s.certs.node_name = node_name;
  s.certs.pki_dir = s.root_dir / "pki";
  s.certs.join_token = join_token;
  s.certs.bootstrap_file = bootstrap_file;
  for (const auto& pin : discovery_token_ca_cert_hash) {
    s.certs.ca_pins.push_back(*certs::parse_ca_pin(pin));
  }
  s.certs.unsafe_skip_ca_verification = discovery_token_unsafe_skip_ca_verification;
  s.certs.kubelet_client_cert = kubelet_client_certificate;
  s.certs.kubelet_client_key =
      kubelet_client_key.empty() ? kubelet_client_certificate : kubelet_client_key;
  s.certs.kubelet_ca_file = kubelet_ca_file;
  s.certs.serving_ips = {"127.0.0.1"};
  if (s.service_host != "127.0.0.1") {
    s.certs.serving_ips.push_back(s.service_host);
  }

  if (auto agents = split_list(cache_agents); !agents.empty()) {
    s.cache.cache_agents = std::move(agents);
  }
  s.max_requests_in_flight = static_cast<std::size_t>(max_requests_in_flight);
  s.workers = static_cast<std::size_t>(workers);
  return s;
}

}  // namespace yurt::hub
