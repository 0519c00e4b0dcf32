#include "src/apps/tunnel/agent.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/base/log.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/net/any_stream.hpp"
#include "yurt/net/client.hpp"
#include "yurt/net/server.hpp"
#include "yurt/net/splice.hpp"
#include "yurt/net/task_group.hpp"
#include "yurt/net/tls_context.hpp"
#include "yurt/tunnel/errc.hpp"
#include "yurt/tunnel/session.hpp"

#include "src/apps/tunnel/credentials.hpp"
#include "src/apps/tunnel/errc.hpp"
#include "src/apps/tunnel/tcp_dial.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>

namespace yurt::tunnel_app {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

spdlog::logger& logger() {
  return log::get("tunnel-agent");
}

constexpr std::string_view kConnected = "yurt_tunnel_agent_connected";
constexpr std::string_view kConnects = "yurt_tunnel_agent_connects_total";
constexpr std::string_view kStreamsOpen = "yurt_tunnel_agent_streams_open";
constexpr std::string_view kStreams = "yurt_tunnel_agent_streams_total";
constexpr std::string_view kBytes = "yurt_tunnel_agent_bytes_total";
constexpr std::string_view kDialFailures = "yurt_tunnel_agent_dial_failures_total";

#ifndef YURT_VERSION
#define YURT_VERSION "dev"
#endif
constexpr std::string_view kUserAgent = "yurt-tunnel-agent/" YURT_VERSION;

bool is_refused(const Error& e) {
  return e.code() == std::errc::connection_refused;
}

net::Response text_response(int status, std::string body) {
  net::Response r;
  r.status = status;
  r.headers.set("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body) + "\n";
  return r;
}

}  // namespace

// ---- policy ----

Result<tcp::endpoint> local_target(std::string_view destination,
                                   const AgentSettings& settings,
                                   const PortPolicy& ports,
                                   const std::vector<asio::ip::address>& local_addresses) {
  auto parsed = tunnel::parse_destination(destination);
  if (!parsed) {
    return fail(Errc::NotAllowed, parsed.error().message());
  }
  if (!ports.allows(parsed->port)) {
    return fail(Errc::NotAllowed, "port " + std::to_string(parsed->port) +
                                      " is not allowed on this node (allowed: " + ports.describe() +
                                      ")");
  }
  const auto host = normalise_host(parsed->host);
  boost::system::error_code ec;
  if (host == settings.node_name || host == "localhost") {
    auto kubelet = asio::ip::make_address(settings.kubelet_address, ec);
    if (ec) {
      return fail(Errc::InvalidConfig, "--kubelet-address " + quote(settings.kubelet_address));
    }
    return tcp::endpoint(kubelet, parsed->port);
  }
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    return fail(Errc::NotAllowed,
                quote(parsed->host) + " is not this node (" + settings.node_name + ")");
  }
  if (address.is_loopback() ||
      std::find(local_addresses.begin(), local_addresses.end(), address) != local_addresses.end()) {
    return tcp::endpoint(address, parsed->port);
  }
  return fail(Errc::NotAllowed, host + " is not an address of this node");
}

std::vector<asio::ip::address> interface_addresses() {
  std::vector<asio::ip::address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return out;
  }
  for (auto* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) {
      continue;
    }
    if (a->ifa_addr->sa_family == AF_INET) {
      sockaddr_in in{};
      std::memcpy(&in, a->ifa_addr, sizeof in);
      asio::ip::address_v4::bytes_type bytes{};
      std::memcpy(bytes.data(), &in.sin_addr, bytes.size());
      out.emplace_back(asio::ip::address_v4(bytes));
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      sockaddr_in6 in6{};
      std::memcpy(&in6, a->ifa_addr, sizeof in6);
      asio::ip::address_v6::bytes_type bytes{};
      std::memcpy(bytes.data(), &in6.sin6_addr, bytes.size());
      out.emplace_back(asio::ip::address_v6(bytes));
    }
  }
  ::freeifaddrs(list);
  return out;
}

// ---- ReconnectDelay ----

namespace {

BackoffPolicy reconnect_policy(const AgentSettings& s) {
  BackoffPolicy p;
  p.initial = s.reconnect_initial;
  p.factor = 2.0;
  p.cap = s.reconnect_cap;
  p.jitter = 0.5;
  p.reset_after = std::chrono::nanoseconds::zero();  // reset() after a session that worked
  return p;
}

}  // namespace

ReconnectDelay::ReconnectDelay(const AgentSettings& settings,
                               const Clock& clock,
                               std::uint64_t seed)
    : backoff_(reconnect_policy(settings), clock, seed),
      refused_cap_(settings.reconnect_refused_cap),
      random_(seed ^ 0x9e3779b97f4a7c15ULL) {}

std::chrono::milliseconds ReconnectDelay::next(bool refused) {
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(backoff_.next());
  if (refused && delay > refused_cap_) {
    // Equal jitter within the refused cap too: agents refused together retry spread out.
    std::uniform_int_distribution<std::int64_t> spread(refused_cap_.count() / 2,
                                                       refused_cap_.count());
    delay = std::chrono::milliseconds(spread(random_));
  }
  return delay;
}

std::string_view to_string(LinkState state) noexcept {
  switch (state) {
    case LinkState::Idle:
      return "idle";
    case LinkState::Dialling:
      return "dialling";
    case LinkState::Handshaking:
      return "handshaking";
    case LinkState::Connected:
      return "connected";
    case LinkState::BackingOff:
      return "backing off";
    case LinkState::Stopped:
      return "stopped";
  }
  return "unknown";
}

// ---- TunnelAgent ----

struct TunnelAgent::Impl {
  class MetaHandler final : public net::Handler {
   public:
    explicit MetaHandler(Impl& impl) : impl_(impl) {}
    asio::awaitable<void> handle(net::ServerExchange& exchange) override {
      auto response = impl_.handle_meta(exchange.request());
      co_await exchange.respond(std::move(response));
    }

   private:
    Impl& impl_;
  };

  Impl(net::Executor e, AgentSettings s, const Clock& c)
      : ex(std::move(e)),
        settings(std::move(s)),
        clock(c),
        ports(settings.extra_ports),
        tasks(ex),
        stop_timer(ex),
        meta_handler(*this) {
    stop_timer.expires_at(asio::steady_timer::time_point::max());
    net::ClientSettings cs;
    cs.connect_timeout = settings.dial_timeout;
    cs.response_header_timeout = settings.dial_timeout;
    cs.direct_tls = true;  // the tunnel: one long-lived bulk connection per server
    client = std::make_unique<net::HttpClient>(ex, cs);
    for (const auto& server : settings.servers) {
      links[server] = LinkState::Idle;
    }
    metrics.describe(kConnected, "gauge", "1 while the tunnel to a server is open.");
    metrics.describe(kConnects, "counter", "Connection attempts to a server, by result.");
    metrics.describe(kStreamsOpen, "gauge", "Streams being carried now.");
    metrics.describe(kStreams, "counter", "Streams accepted from servers.");
    metrics.describe(kBytes, "counter", "Bytes carried by finished streams, by direction.");
    metrics.describe(kDialFailures, "counter", "Streams refused or not connected, by reason.");
    for (const auto& server : settings.servers) {
      metrics.set(kConnected, {{"server", server}}, 0);
    }
  }

  asio::awaitable<void> run();
  asio::awaitable<void> connection_loop(std::string server, std::uint64_t seed);
  asio::awaitable<Result<net::AnyStream>> dial(std::string server);
  asio::awaitable<void> mark_open(std::shared_ptr<tunnel::Session> session, std::string server);
  asio::awaitable<void> accept_loop(std::shared_ptr<tunnel::Session> session);
  asio::awaitable<void> serve_stream(tunnel::Stream stream, std::uint64_t session_id);
  net::Response handle_meta(const net::Request& request);
  void set_state(const std::string& server, LinkState state) { links[server] = state; }

  net::Executor ex;
  AgentSettings settings;
  const Clock& clock;
  PortPolicy ports;
  Metrics metrics;
  net::TaskGroup tasks;
  asio::steady_timer stop_timer;
  std::atomic<bool> stop_requested{false};
  bool stopping = false;
  MetaHandler meta_handler;
  std::unique_ptr<net::Listener> meta_listener;
  std::atomic<std::uint16_t> meta_port{0};
  std::unique_ptr<net::HttpClient> client;
  std::shared_ptr<net::TlsContext> tls;
  net::TlsCredentials tls_loaded;
  std::map<std::string, LinkState, std::less<>> links;
  std::map<std::string, std::shared_ptr<tunnel::Session>, std::less<>> sessions;
};

asio::awaitable<Result<net::AnyStream>> TunnelAgent::Impl::dial(std::string server) {
  auto destination = tunnel::parse_destination(server);
  if (!destination) {
    co_return fail(Errc::InvalidConfig, "server address " + destination.error().message());
  }
  auto credentials = load_agent_credentials(settings, clock);
  if (!credentials) {
    co_return Error(credentials.error().code(),
                    "client certificate: " + credentials.error().message());
  }
  const auto& loaded = credentials->tls;
  if (!tls || loaded.cert_chain != tls_loaded.cert_chain ||
      loaded.private_key != tls_loaded.private_key || loaded.ca_bundle != tls_loaded.ca_bundle) {
    net::TlsClientOptions options;
    options.credentials = loaded;
    options.server_name = settings.server_name;
    options.require_tls13 = true;
    auto context = net::TlsContext::client(std::move(options));
    if (!context) {
      co_return context.error();
    }
    tls = std::move(*context);
    tls_loaded = loaded;
    logger().info("client certificate {} (serial {})", credentials->subject, credentials->serial);
  }
  net::Origin origin;
  origin.host = destination->host;
  origin.port = destination->port;
  origin.tls = tls;
  net::Request request;
  request.method = "GET";
  request.target = std::string(kTunnelPath);
  request.headers.set("Host", origin.authority());
  request.headers.set("Connection", "Upgrade");
  request.headers.set("Upgrade", std::string(kUpgradeToken));
  request.headers.set("User-Agent", std::string(kUserAgent));
  auto call = co_await client->open(origin, std::move(request));
  if (!call) {
    co_return call.error();
  }
  if (call->response().status != 101) {
    const int status = call->response().status;
    auto body = co_await call->read_all(1024);
    co_return fail(Errc::Handshake, "server " + server + " answered " + std::to_string(status) +
                                        (body ? ": " + std::string(trim(*body)) : std::string()));
  }
  auto stream = call->take_stream();
  if (!stream) {
    co_return stream.error();
  }
  co_return std::move(*stream);
}

asio::awaitable<void> TunnelAgent::Impl::connection_loop(std::string server, std::uint64_t seed) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  co_await asio::this_coro::throw_if_cancelled(false);
  ReconnectDelay delay(settings, clock, seed);
  std::string last_warning;
  auto last_warning_at = clock.monotonic();
  asio::steady_timer timer(ex);
  while (!stopping) {
    set_state(server, LinkState::Dialling);
    auto transport = co_await dial(server);
    if (stopping) {
      break;
    }
    bool refused = false;
    if (!transport) {
      refused = is_refused(transport.error());
      metrics.add(kConnects, {{"server", server}, {"result", "failed"}});
      auto message = transport.error().what();
      // The first failure and any new reason at warn; repeats at debug, a reminder per minute.
      if (message != last_warning ||
          clock.monotonic() - last_warning_at > std::chrono::minutes(1)) {
        logger().warn("cannot connect to tunnel server {}: {}", server, message);
        last_warning = message;
        last_warning_at = clock.monotonic();
      } else {
        logger().debug("cannot connect to tunnel server {}: {}", server, message);
      }
    } else {
      set_state(server, LinkState::Handshaking);
      auto session_settings = settings.session;
      session_settings.role = tunnel::Role::Agent;
      session_settings.node_name = settings.node_name;
      auto session = std::make_shared<tunnel::Session>(std::move(*transport),
                                                       std::move(session_settings), clock);
      sessions[server] = session;
      tasks.spawn(ex, mark_open(session, server), "open " + server);
      tasks.spawn(ex, accept_loop(session), "accept " + server);
      const auto began = clock.monotonic();
      auto result = co_await session->run();
      sessions.erase(server);
      metrics.set(kConnected, {{"server", server}}, 0);
      if (result) {
        logger().info("[C{}] tunnel to {} closed", session->id(), server);
      } else if (result.error().code() == tunnel::Errc::Refused) {
        // The server refused our HELLO: wrong certificate for this node, or an unsupported
        // version. An operator has to act.
        logger().error("[C{}] tunnel server {} refused this agent: {}", session->id(), server,
                       result.error().what());
      } else {
        logger().warn("[C{}] tunnel to {} lost: {}", session->id(), server, result.error().what());
      }
      // A tunnel that lived a while worked: the next failure starts from a short delay again.
      if (clock.monotonic() - began >= std::chrono::seconds(10)) {
        delay.reset();
      }
      last_warning.clear();
    }
    if (stopping) {
      break;
    }
    set_state(server, LinkState::BackingOff);
    timer.expires_after(delay.next(refused));
    co_await timer.async_wait(kUse);
  }
  set_state(server, LinkState::Stopped);
}

asio::awaitable<void> TunnelAgent::Impl::mark_open(std::shared_ptr<tunnel::Session> session,
                                                   std::string server) {
  auto opened = co_await session->wait_open();
  if (!opened || session->state() != tunnel::SessionState::Open) {
    co_return;
  }
  set_state(server, LinkState::Connected);
  metrics.set(kConnected, {{"server", server}}, 1);
  metrics.add(kConnects, {{"server", server}, {"result", "connected"}});
  logger().info("[C{}] tunnel to {} open for node {}", session->id(), server, settings.node_name);
}

asio::awaitable<void> TunnelAgent::Impl::accept_loop(std::shared_ptr<tunnel::Session> session) {
  for (;;) {
    auto stream = co_await session->accept_stream();
    if (!stream) {
      co_return;  // going away or closed: run() reports why
    }
    tasks.spawn(ex, serve_stream(std::move(*stream), session->id()), "stream");
  }
}

asio::awaitable<void> TunnelAgent::Impl::serve_stream(tunnel::Stream stream,
                                                      std::uint64_t session_id) {
  const auto label = "[C" + std::to_string(session_id) + "][S" + std::to_string(stream.id()) + "]";
  const auto destination = stream.destination();
  metrics.add(kStreams);
  auto target = local_target(destination, settings, ports, interface_addresses());
  if (!target) {
    metrics.add(kDialFailures, {{"reason", "not_allowed"}});
    logger().warn("{} refused {}: {}", label, quote(destination), target.error().message());
    stream.refuse(tunnel::WireCode::NotAllowed, target.error().message());
    co_return;
  }
  auto socket = co_await dial_tcp(*target, settings.dial_timeout);
  if (!socket) {
    const bool timeout = socket.error().code() == std::errc::timed_out;
    metrics.add(kDialFailures, {{"reason", timeout ? "timeout" : "connect_failed"}});
    logger().warn("{} {}: {}", label, destination, socket.error().what());
    stream.refuse(timeout ? tunnel::WireCode::Timeout : tunnel::WireCode::ConnectFailed,
                  socket.error().what());
    co_return;
  }
  if (auto accepted = stream.accept(); !accepted) {
    logger().debug("{} {}: the server gave up: {}", label, destination, accepted.error().what());
    co_return;
  }
  logger().debug("{} {} → {}", label, destination, to_string(*target));
  metrics.add(kStreamsOpen, {}, 1);
  auto result =
      co_await net::splice(net::AnyStream::wrap(std::move(stream)),
                           net::AnyStream::wrap(std::move(*socket)), std::chrono::milliseconds(0));
  metrics.add(kStreamsOpen, {}, -1);
  metrics.add(kBytes, {{"direction", "to_local"}}, static_cast<double>(result.a_to_b));
  metrics.add(kBytes, {{"direction", "from_local"}}, static_cast<double>(result.b_to_a));
  logger().debug("{} {} closed: {} bytes in, {} out{}", label, destination, result.a_to_b,
                 result.b_to_a,
                 result.error.code() ? " (" + result.error.what() + ")" : std::string());
}

net::Response TunnelAgent::Impl::handle_meta(const net::Request& request) {
  auto path = std::string_view(request.target).substr(0, request.target.find('?'));
  if (request.method != "GET" && request.method != "HEAD") {
    return text_response(405, "method not allowed");
  }
  if (path == "/healthz" || path == "/livez") {
    return text_response(200, "ok");
  }
  if (path == "/readyz") {
    std::size_t open = 0;
    for (const auto& [server, state] : links) {
      open += state == LinkState::Connected ? 1 : 0;
    }
    if (open > 0 && !stopping) {
      return text_response(200, "ok");
    }
    return text_response(503, "no tunnel server connected");
  }
  if (path == "/metrics") {
    auto r = text_response(200, metrics.render());
    r.body.pop_back();
    r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return r;
  }
  return text_response(404, "not found: /healthz, /readyz, /metrics");
}

asio::awaitable<void> TunnelAgent::Impl::run() {
  if (meta_listener) {
    tasks.spawn(ex, meta_listener->run(), "meta-listener");
  }
  std::uint64_t seed = std::random_device{}();
  for (const auto& server : settings.servers) {
    tasks.spawn(ex, connection_loop(server, seed++), "link " + server);
  }
  while (!stop_requested) {
    co_await stop_timer.async_wait(kUse);
  }
  stopping = true;
  logger().info("stopping: streams get {} ms", settings.drain_timeout.count());
  if (meta_listener) {
    co_await meta_listener->stop(std::chrono::milliseconds(100));
  }
  tasks.emit(asio::cancellation_type::total);
  if (!co_await tasks.wait_for(settings.drain_timeout)) {
    tasks.emit(asio::cancellation_type::terminal);
    co_await tasks.async_wait();
  }
  logger().info("stopped");
}

TunnelAgent::TunnelAgent(net::Executor ex, AgentSettings settings, const Clock& clock)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(settings), clock)) {}

TunnelAgent::~TunnelAgent() = default;

Result<void> TunnelAgent::start() {
  auto& s = impl_->settings;
  if (s.meta.port == 0 && s.meta.address.empty()) {
    return {};
  }
  boost::system::error_code ec;
  auto address = asio::ip::make_address(s.meta.address, ec);
  if (ec) {
    return fail(Errc::InvalidConfig, "meta address " + quote(s.meta.address));
  }
  net::ListenerConfig config;
  config.endpoint = tcp::endpoint(address, s.meta.port);
  auto l = net::Listener::bind(impl_->ex, impl_->meta_handler, config);
  if (!l) {
    return Error(l.error().code(), "meta listener: " + l.error().message());
  }
  impl_->meta_listener = std::move(*l);
  impl_->meta_port = impl_->meta_listener->local_endpoint().port();
  std::string servers;
  for (const auto& server : s.servers) {
    servers += (servers.empty() ? "" : ", ") + server;
  }
  logger().info("agent for node {}: servers {}; allowed ports {}; meta http://{}:{}", s.node_name,
                servers, impl_->ports.describe(), s.meta.address, impl_->meta_port.load());
  return {};
}

net::asio::awaitable<void> TunnelAgent::run() {
  return impl_->run();
}

void TunnelAgent::stop() {
  impl_->stop_requested = true;
  asio::post(impl_->ex, [impl = impl_] { impl->stop_timer.cancel(); });
}

LinkState TunnelAgent::state(std::string_view server) const {
  auto it = impl_->links.find(server);
  return it == impl_->links.end() ? LinkState::Idle : it->second;
}

std::size_t TunnelAgent::connected() const {
  std::size_t n = 0;
  for (const auto& [server, state] : impl_->links) {
    n += state == LinkState::Connected ? 1 : 0;
  }
  return n;
}

std::uint16_t TunnelAgent::meta_port() const noexcept {
  return impl_->meta_port.load();
}

const Metrics& TunnelAgent::metrics() const {
  return impl_->metrics;
}

}  // namespace yurt::tunnel_app
