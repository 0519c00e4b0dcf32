#include "src/apps/hub/cert_manager.hpp"

#include <algorithm>
#include <system_error>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/chrono.h>
#include <nlohmann/json.hpp>

#include "yurt/base/fs.hpp"
#include "yurt/base/log.hpp"
#include "yurt/certs/bootstrap.hpp"
#include "yurt/certs/csr.hpp"
#include "yurt/certs/csr_object.hpp"
#include "yurt/kube/rest_client.hpp"

#include "src/apps/hub/errc.hpp"
#include "src/apps/hub/version.hpp"

namespace yurt::hub {

namespace asio = boost::asio;
namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
// A CSR nobody decided on within this long is abandoned and made again (it may have been
// garbage-collected: the apiserver deletes unapproved CSRs after 24 h, approved ones after 1 h).
constexpr std::chrono::minutes kCsrPatience{15};
constexpr std::size_t kMaxPemFile = std::size_t{1} << 20U;

spdlog::logger& logger() {
  return log::get("hub");
}

kube::GroupVersionResource csr_resource() {
  return {"certificates.k8s.io", "v1", "certificatesigningrequests"};
}

certs::Lifetime lifetime_of(const certs::KeyPair& pair) {
  return {pair.leaf.not_before, pair.leaf.not_after};
}

}  // namespace

CertManager::CertManager(CertSettings settings,
                         UpstreamTls& tls,
                         UpstreamClients& clients,
                         const Clock& clock)
    : settings_(std::move(settings)),
      tls_(tls),
      clients_(clients),
      clock_(clock),
      client_store_(settings_.pki_dir, "yurthub-client", clock),
      serving_store_(settings_.pki_dir, "yurthub-server", clock),
      client_rotation_(clock, std::random_device{}()),
      serving_rotation_(clock, std::random_device{}()) {}

CertManager::~CertManager() = default;

Result<void> CertManager::install_client(const certs::KeyPair& pair, const std::string& ca_pem) {
  net::TlsCredentials creds{pair.cert_chain_pem, pair.key.pem(), ca_pem};
  if (auto node = tls_.node()) {
    if (auto r = node->update(creds); !r) {
      return r.error();
    }
    clients_.close_idle_all();
  } else {
    net::TlsClientOptions options;
    options.credentials = creds;
    auto ctx = net::TlsContext::client(std::move(options));
    if (!ctx) {
      return ctx.error();
    }
    tls_.set_node(*ctx);
  }
  if (ca_pem != ca_pem_ || !tls_.anonymous()) {
    net::TlsClientOptions options;
    options.credentials.ca_bundle = ca_pem;
    auto ctx = net::TlsContext::client(std::move(options));
    if (!ctx) {
      return ctx.error();
    }
    tls_.set_anonymous(*ctx);
  }
  ca_pem_ = ca_pem;
  client_pair_ = pair;
  client_ready_ = true;
  std::scoped_lock lock(expiry_mutex_);
  client_not_after_ = pair.leaf.not_after;
  return {};
}

Result<void> CertManager::install_serving(const certs::KeyPair& pair) {
  net::TlsCredentials creds{pair.cert_chain_pem, pair.key.pem(), {}};
  if (auto current = serving_tls_.load()) {
    if (auto r = current->update(creds); !r) {
      return r.error();
    }
  } else {
    net::TlsServerOptions options;
    options.credentials = creds;
    auto ctx = net::TlsContext::server(std::move(options));
    if (!ctx) {
      return ctx.error();
    }
    serving_tls_.store(*ctx);
  }
  serving_pair_ = pair;
  std::scoped_lock lock(expiry_mutex_);
  serving_not_after_ = pair.leaf.not_after;
  return {};
}

std::string CertManager::file_identity() const {
  std::string id;
  for (const auto& path : {settings_.kubelet_client_cert, settings_.kubelet_client_key}) {
    std::error_code ec;
    auto real = std::filesystem::canonical(path, ec);
    if (ec) {
      return {};
    }
    auto mtime = std::filesystem::last_write_time(real, ec);
    auto size = std::filesystem::file_size(real, ec);
    if (ec) {
      return {};
    }
    id += real.string() + "@" + std::to_string(mtime.time_since_epoch().count()) + "#" +
          std::to_string(size) + ";";
  }
  return id;
}

void CertManager::load_kubelet_pair() {
  const auto id = file_identity();
  auto pair =
      certs::load_key_pair_files(settings_.kubelet_client_cert, settings_.kubelet_client_key);
  if (!pair) {
    logger().error("kubelet client certificate: {}", pair.error().what());
    return;
  }
  auto ca = fs::read_file(settings_.kubelet_ca_file, kMaxPemFile);
  if (!ca) {
    logger().error("cluster CA {}: {}", settings_.kubelet_ca_file.string(), ca.error().what());
    return;
  }
  if (auto r = install_client(*pair, *ca); !r) {
    logger().error("kubelet client certificate {}: {}", settings_.kubelet_client_cert.string(),
                   r.error().what());
    return;
  }
  kubelet_files_ = id;
  logger().info("using the kubelet's client certificate {} ({}, valid until {:%F %T})",
                settings_.kubelet_client_cert.string(), pair->leaf.subject.str(),
                pair->leaf.not_after);
}

bool CertManager::serving_matches(const certs::KeyPair& pair) const {
  const auto& sans = pair.leaf.extensions.sans;
  for (const auto& ip : settings_.serving_ips) {
    if (std::find(sans.ip_addresses.begin(), sans.ip_addresses.end(), ip) ==
        sans.ip_addresses.end()) {
      return false;
    }
  }
  return pair.leaf.subject.common_name == "system:node:" + settings_.node_name;
}

void CertManager::load() {
  if (auto r = fs::create_dirs(settings_.pki_dir); !r) {
    logger().error("pki directory: {}", r.error().what());
  }
  if (settings_.mode == BootstrapMode::KubeletCertificate) {
    load_kubelet_pair();
  } else {
    auto pair = client_store_.load();
    auto ca = fs::read_file(settings_.pki_dir / "ca.crt", kMaxPemFile);
    if (pair && ca) {
      if (auto r = install_client(*pair, *ca); !r) {
        logger().error("stored client certificate: {}", r.error().what());
      } else {
        logger().info("client certificate {} ({}, valid until {:%F %T})",
                      client_store_.current_path().string(), pair->leaf.subject.str(),
                      pair->leaf.not_after);
      }
    } else if (!pair && pair.error().code() != certs::Errc::NotFound) {
      logger().error("stored client certificate: {}", pair.error().what());
    } else {
      logger().info("no client certificate yet: bootstrapping with the token once online");
    }
  }
  if (auto pair = serving_store_.load()) {
    if (auto r = install_serving(*pair); !r) {
      logger().error("stored serving certificate: {}", r.error().what());
    }
  } else if (pair.error().code() != certs::Errc::NotFound) {
    logger().error("stored serving certificate: {}", pair.error().what());
  }
}

kube::RestConfig CertManager::rest_config(const ServerAddress& server, Identity identity) const {
  kube::RestConfig c;
  c.server = server.url;
  c.ca_pem = ca_pem_;
  if (identity == Identity::Node && client_pair_) {
    c.client_cert_pem = client_pair_->cert_chain_pem;
    c.client_key_pem = client_pair_->key.pem();
  } else {
    c.bearer_token = bootstrap_token_;
  }
  c.user_agent = std::string(kUserAgent);
  c.connect_timeout = std::chrono::seconds(10);
  c.request_timeout = std::chrono::seconds(30);
  return c;
}

asio::awaitable<Result<void>> CertManager::discover(ServerAddress server) {
  if (!settings_.bootstrap_file.empty()) {
    auto config = kube::RestConfig::from_kubeconfig(settings_.bootstrap_file);
    if (!config) {
      co_return fail(Errc::Bootstrap, "--bootstrap-file: " + config.error().what());
    }
    if (config->bearer_token.empty() || config->ca_pem.empty()) {
      co_return fail(Errc::Bootstrap, "--bootstrap-file " + settings_.bootstrap_file.string() +
                                          " needs a token and certificate-authority data");
    }
    ca_pem_ = config->ca_pem;
    bootstrap_token_ = config->bearer_token;
    co_return Result<void>{};
  }
  auto token = certs::parse_bootstrap_token(settings_.join_token);
  if (!token) {
    co_return fail(Errc::Bootstrap, "--join-token: " + token.error().message());
  }
  auto ex = co_await asio::this_coro::executor;
  // kubeadm's token discovery: read cluster-info without trusting the server yet; the JWS
  // signature (made with the token's secret) and the CA pins are what make it trustworthy.
  kube::RestConfig insecure;
  insecure.server = server.url;
  insecure.insecure_skip_tls_verify = true;
  insecure.user_agent = std::string(kUserAgent);
  insecure.connect_timeout = std::chrono::seconds(10);
  insecure.request_timeout = std::chrono::seconds(30);
  auto rc = kube::RestClient::create(ex, insecure);
  if (!rc) {
    co_return rc.error();
  }
  // Arguments named first: no temporaries inside co_await expressions (docs/net.md).
  kube::GroupVersionResource configmaps = kube::resources::config_maps();
  std::string ns(certs::kClusterInfoNamespace);
  std::string name(certs::kClusterInfoName);
  auto cm = co_await (*rc)->get(configmaps, ns, name);
  if (!cm) {
    co_return fail(Errc::Bootstrap, "read kube-public/cluster-info: " + cm.error().what());
  }
  auto info = certs::verify_cluster_info(*cm, *token, settings_.ca_pins);
  if (!info) {
    co_return fail(Errc::Bootstrap, "kube-public/cluster-info: " + info.error().what());
  }
  if (info->ca_pinned) {
    // The same document again, now over TLS verified with the CA it carried.
    kube::RestConfig verified = insecure;
    verified.insecure_skip_tls_verify = false;
    verified.ca_pem = info->ca_bundle_pem;
    auto rc2 = kube::RestClient::create(ex, verified);
    if (!rc2) {
      co_return rc2.error();
    }
    auto again = co_await (*rc2)->get(configmaps, ns, name);
    if (!again) {
      co_return fail(Errc::Bootstrap,
                     "read kube-public/cluster-info over verified TLS: " + again.error().what());
    }
    std::string seen;
    if (auto data = again->find("data"); data != again->end() && data->is_object()) {
      if (auto it = data->find(certs::kClusterInfoKubeconfigKey);
          it != data->end() && it->is_string()) {
        seen = it->get<std::string>();
      }
    }
    if (seen != info->kubeconfig) {
      co_return fail(Errc::Bootstrap,
                     "kube-public/cluster-info changed between the insecure and the verified read");
    }
  } else {
    logger().warn(
        "cluster CA taken from cluster-info without a pin "
        "(--discovery-token-unsafe-skip-ca-verification)");
  }
  ca_pem_ = info->ca_bundle_pem;
  bootstrap_token_ = token->str();
  co_return Result<void>{};
}

asio::awaitable<Result<CertManager::PendingCsr>> CertManager::create_csr(ServerAddress server,
                                                                         Identity identity,
                                                                         bool serving) {
  auto key = certs::PrivateKey::generate();
  if (!key) {
    co_return key.error();
  }
  certs::CsrOptions options;
  options.subject.common_name = "system:node:" + settings_.node_name;
  options.subject.organizations = {"system:nodes"};
  if (serving) {
    options.dns_names = {settings_.node_name};
    options.ip_addresses = settings_.serving_ips;
  }
  auto pem = certs::create_csr(*key, options);
  if (!pem) {
    co_return pem.error();
  }
  certs::CsrObjectOptions object;
  object.generate_name = serving ? "yurthub-serving-" : "yurthub-client-";
  object.signer_name =
      std::string(serving ? certs::kSignerKubeletServing : certs::kSignerKubeletClient);
  object.request_pem = *pem;
  // ECDSA keys: no key encipherment (the signers' rules, k8s-protocols.md §6.1).
  object.usages = {certs::Usage::DigitalSignature,
                   serving ? certs::Usage::ServerAuth : certs::Usage::ClientAuth};
  auto body = certs::build_csr_object(object);
  if (!body) {
    co_return body.error();
  }
  auto ex = co_await asio::this_coro::executor;
  auto rc = kube::RestClient::create(ex, rest_config(server, identity));
  if (!rc) {
    co_return rc.error();
  }
  kube::GroupVersionResource resource = csr_resource();
  std::string cluster_scope;
  auto created = co_await (*rc)->create(resource, cluster_scope, std::move(*body));
  if (!created) {
    co_return created.error();
  }
  auto name = created->value(nlohmann::json::json_pointer("/metadata/name"), std::string());
  if (name.empty()) {
    co_return fail(Errc::Bootstrap, "the created CSR has no name");
  }
  logger().info("requested a {} certificate: CSR {} (signer {})", serving ? "serving" : "client",
                name, object.signer_name);
  co_return PendingCsr{name, std::move(*key), std::chrono::steady_clock::now()};
}

asio::awaitable<Result<std::optional<std::string>>> CertManager::poll_csr(ServerAddress server,
                                                                          Identity identity,
                                                                          std::string name) {
  auto ex = co_await asio::this_coro::executor;
  auto rc = kube::RestClient::create(ex, rest_config(server, identity));
  if (!rc) {
    co_return rc.error();
  }
  kube::GroupVersionResource resource = csr_resource();
  std::string cluster_scope;
  auto csr = co_await (*rc)->get(resource, cluster_scope, name);
  if (!csr) {
    co_return csr.error();
  }
  auto status = certs::csr_status(*csr);
  if (!status) {
    co_return status.error();
  }
  switch (status->phase) {
    case certs::CsrPhase::Issued:
      co_return std::optional<std::string>(status->certificate_pem);
    case certs::CsrPhase::Denied:
    case certs::CsrPhase::Failed:
      co_return fail(Errc::Bootstrap, "CSR " + name + " " +
                                          std::string(certs::to_string(status->phase)) + ": " +
                                          status->reason + " " + status->message);
    default:
      co_return std::optional<std::string>();
  }
}

asio::awaitable<void> CertManager::client_step(Upstream& upstream) {
  if (settings_.mode == BootstrapMode::KubeletCertificate) {
    // The kubelet rotates its pair by replacing the -current.pem link: reload on any change.
    if (auto id = file_identity(); !id.empty() && id != kubelet_files_) {
      load_kubelet_pair();
    }
    co_return;
  }
  auto endpoint = upstream.pick();
  if (!endpoint) {
    co_return;
  }
  const auto& server = upstream.address(*endpoint);
  const bool expired = client_pair_ && clock_.now() >= client_pair_->leaf.not_after;
  // Renew with the current certificate while it is valid (the selfnodeclient approval); an
  // expired one — a node offline for its whole lifetime — starts over with the token.
  const Identity identity = client_pair_ && !expired ? Identity::Node : Identity::Bootstrap;

  if (client_csr_) {
    auto issued = co_await poll_csr(server, identity, client_csr_->name);
    if (!issued) {
      logger().error("client certificate: {}", issued.error().what());
      client_csr_.reset();
      co_return;
    }
    if (!*issued) {
      if (std::chrono::steady_clock::now() - client_csr_->created > kCsrPatience) {
        logger().warn("CSR {} still undecided; requesting again", client_csr_->name);
        client_csr_.reset();
      }
      co_return;
    }
    auto stored = client_store_.store(**issued, client_csr_->key);
    client_csr_.reset();
    if (!stored) {
      logger().error("store client certificate: {}", stored.error().what());
      co_return;
    }
    if (auto w =
            fs::atomic_write(settings_.pki_dir / "ca.crt", ca_pem_, std::filesystem::perms(0644));
        !w) {
      logger().error("store cluster CA: {}", w.error().what());
    }
    if (auto r = install_client(*stored, ca_pem_); !r) {
      logger().error("install client certificate: {}", r.error().what());
      co_return;
    }
    (void)client_store_.prune(2);
    logger().info("client certificate issued ({}, valid until {:%F %T})",
                  stored->leaf.subject.str(), stored->leaf.not_after);
    co_return;
  }

  if (client_pair_ && !client_rotation_.needs_rotation(lifetime_of(*client_pair_))) {
    co_return;
  }
  if (identity == Identity::Bootstrap && bootstrap_token_.empty()) {
    if (auto d = co_await discover(server); !d) {
      logger().error("bootstrap: {}", d.error().what());
      co_return;
    }
  }
  auto pending = co_await create_csr(server, identity, false);
  if (!pending) {
    logger().error("client certificate request: {}", pending.error().what());
    co_return;
  }
  client_csr_ = std::move(*pending);
}

asio::awaitable<void> CertManager::serving_step(Upstream& upstream,
                                                const ServingReady& on_serving) {
  if (serving_pair_ && !serving_announced_ && serving_matches(*serving_pair_)) {
    serving_announced_ = true;
    on_serving(serving_tls_.load());
  }
  const bool needed = !serving_pair_ || !serving_matches(*serving_pair_) ||
                      serving_rotation_.needs_rotation(lifetime_of(*serving_pair_));
  if (!needed && !serving_csr_) {
    co_return;
  }
  auto endpoint = upstream.pick();
  if (!endpoint) {
    co_return;
  }
  const auto& server = upstream.address(*endpoint);
  if (!serving_csr_) {
    auto pending = co_await create_csr(server, Identity::Node, true);
    if (!pending) {
      logger().error("serving certificate request: {}", pending.error().what());
      co_return;
    }
    serving_csr_ = std::move(*pending);
    serving_wait_logged_ = false;
    co_return;
  }
  auto issued = co_await poll_csr(server, Identity::Node, serving_csr_->name);
  if (!issued) {
    logger().error("serving certificate: {}", issued.error().what());
    serving_csr_.reset();
    co_return;
  }
  if (!*issued) {
    if (!serving_wait_logged_) {
      serving_wait_logged_ = true;
      logger().warn(
          "CSR {} (kubelet-serving) awaits approval: yurt-controller-manager approves "
          "it, or `kubectl certificate approve {}`; the secure proxy starts "
          "once it is issued",
          serving_csr_->name, serving_csr_->name);
    }
    if (std::chrono::steady_clock::now() - serving_csr_->created > kCsrPatience) {
      serving_csr_.reset();
    }
    co_return;
  }
  auto stored = serving_store_.store(**issued, serving_csr_->key);
  serving_csr_.reset();
  if (!stored) {
    logger().error("store serving certificate: {}", stored.error().what());
    co_return;
  }
  if (auto r = install_serving(*stored); !r) {
    logger().error("install serving certificate: {}", r.error().what());
    co_return;
  }
  (void)serving_store_.prune(2);
  logger().info("serving certificate issued (valid until {:%F %T})", stored->leaf.not_after);
  if (!serving_announced_) {
    serving_announced_ = true;
    on_serving(serving_tls_.load());
  }
}

asio::awaitable<void> CertManager::run(Upstream& upstream, ServingReady on_serving) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    co_await client_step(upstream);
    if (client_ready_) {
      co_await serving_step(upstream, on_serving);
    }
    const bool busy = !client_ready_ || client_csr_ || serving_csr_ || !serving_pair_;
    if (busy) {
      timer.expires_after(settings_.poll_interval);
    } else {
      timer.expires_after(settings_.reload_interval);
    }
    if (busy && !upstream.healthy()) {
      // Waiting for the cloud: go on as soon as it is back (the kubelet's files are still
      // looked at every poll interval). Only terminal cancellation reaches this task.
      co_await (upstream.wait_healthy() || timer.async_wait(asio::use_awaitable));
    } else {
      auto [ec] = co_await timer.async_wait(kUse);
      if (ec) {
        co_return;
      }
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      co_return;
    }
  }
}

void CertManager::render(PromWriter& w) const {
  std::scoped_lock lock(expiry_mutex_);
  const auto now = clock_.now();
  w.family("yurthub_certificate_expiry_seconds", "gauge",
           "Seconds until the certificate expires (negative: expired).");
  auto sample = [&](std::string_view which, const std::optional<std::chrono::sys_seconds>& t) {
    if (t) {
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(*t - now).count();
      w.sample("yurthub_certificate_expiry_seconds", {{"certificate", which}},
               static_cast<double>(left));
    }
  };
  sample("client", client_not_after_);
  sample("serving", serving_not_after_);
  w.family("yurthub_certificate_ready", "gauge", "1 when the certificate is installed.");
  w.sample("yurthub_certificate_ready", {{"certificate", "client"}}, client_not_after_ ? 1 : 0);
  w.sample("yurthub_certificate_ready", {{"certificate", "serving"}}, serving_not_after_ ? 1 : 0);
}

}  // namespace yurt::hub
