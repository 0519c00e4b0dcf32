#include "src/apps/tunnel/server.hpp"

#include <atomic>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/base/log.hpp"
#include "yurt/base/memory.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/kube/informer.hpp"
#include "yurt/kube/sleep.hpp"
#include "yurt/net/any_stream.hpp"
#include "yurt/net/server.hpp"
#include "yurt/net/splice.hpp"
#include "yurt/net/task_group.hpp"
#include "yurt/net/tls_context.hpp"
#include "yurt/tunnel/errc.hpp"
#include "yurt/tunnel/session.hpp"

#include "src/apps/tunnel/credentials.hpp"
#include "src/apps/tunnel/errc.hpp"
#include "src/apps/tunnel/routing.hpp"
#include "src/apps/tunnel/tcp_dial.hpp"

#include <sys/stat.h>

namespace yurt::tunnel_app {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using uds = asio::local::stream_protocol;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

spdlog::logger& logger() {
  return log::get("tunnel-server");
}

// Metric names (docs/yurt-tunnel.md, "Metrics").
constexpr std::string_view kAgents = "yurt_tunnel_server_agents_connected";
constexpr std::string_view kNodes = "yurt_tunnel_server_nodes_known";
constexpr std::string_view kStreamsOpen = "yurt_tunnel_server_streams_open";
constexpr std::string_view kStreams = "yurt_tunnel_server_streams_total";
constexpr std::string_view kBytes = "yurt_tunnel_server_bytes_total";
constexpr std::string_view kDialFailures = "yurt_tunnel_server_dial_failures_total";
constexpr std::string_view kAgentRejections = "yurt_tunnel_server_agent_rejections_total";
constexpr std::string_view kIptablesSyncs = "yurt_tunnel_server_iptables_syncs_total";
constexpr std::string_view kIptablesRules = "yurt_tunnel_server_iptables_rules";

Result<tcp::endpoint> endpoint_of(const Endpoint& e) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(e.address, ec);
  if (ec) {
    return fail(Errc::InvalidConfig, quote(e.address) + " is not an IP address");
  }
  return tcp::endpoint(address, e.port);
}

/// At most `burst` lines per minute per key; the rest are counted and summarised. Refusals come
/// from outside (a misconfigured client retrying in a loop must not flood the log).
class LogLimiter {
 public:
  explicit LogLimiter(const Clock& clock) : clock_(clock) {}
  /// True when a line for `key` may be written now; `suppressed` gets the count skipped before.
  bool allow(const std::string& key, std::uint64_t& suppressed) {
    auto now = clock_.monotonic();
    auto& s = state_[key];
    if (now - s.window_start >= std::chrono::minutes(1)) {
      s.window_start = now;
      s.lines = 0;
    }
    if (s.lines < kBurst) {
      ++s.lines;
      suppressed = std::exchange(s.suppressed, 0);
      return true;
    }
    ++s.suppressed;
    return false;
  }

 private:
  static constexpr int kBurst = 10;
  struct State {
    std::chrono::steady_clock::time_point window_start{};
    int lines = 0;
    std::uint64_t suppressed = 0;
  };
  const Clock& clock_;
  std::map<std::string, State> state_;
};

net::Response text_response(int status, std::string body) {
  net::Response r;
  r.status = status;
  r.headers.set("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  if (!r.body.empty() && r.body.back() != '\n') {
    r.body += '\n';
  }
  return r;
}

bool credentials_equal(const net::TlsCredentials& a, const net::TlsCredentials& b) {
  return a.cert_chain == b.cert_chain && a.private_key == b.private_key &&
         a.ca_bundle == b.ca_bundle;
}

}  // namespace

struct TunnelServer::Impl {
  /// One net::Handler per entry, forwarding to the Impl.
  class AgentHandler final : public net::Handler {
   public:
    explicit AgentHandler(Impl& impl) : impl_(impl) {}
    asio::awaitable<void> handle(net::ServerExchange& exchange) override {
      co_await impl_.handle_agent(exchange);
    }

   private:
    Impl& impl_;
  };
  class EgressHandler final : public net::Handler {
   public:
    EgressHandler(Impl& impl, bool tls) : impl_(impl), tls_(tls) {}
    asio::awaitable<void> handle(net::ServerExchange& exchange) override {
      co_await impl_.handle_egress(exchange, tls_);
    }

   private:
    Impl& impl_;
    bool tls_;
  };
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

  Impl(net::Executor e, ServerSettings s, const Clock& c, kube::ListerWatcher& nodes, ServerHooks h)
      : ex(std::move(e)),
        settings(std::move(s)),
        clock(c),
        hooks(std::move(h)),
        ports(settings.extra_ports),
        informer(ex, nodes, clock, kube::steady_sleep(), reflector_options()),
        limiter(clock),
        tasks(ex),
        listener_tasks(ex),
        stop_timer(ex),
        iptables_kick(ex),
        agent_handler(*this),
        egress_tls_handler(*this, true),
        egress_uds_handler(*this, false),
        meta_handler(*this) {
    stop_timer.expires_at(asio::steady_timer::time_point::max());
    iptables_kick.expires_at(asio::steady_timer::time_point::max());
    if (!hooks.original_destination) {
      hooks.original_destination = [](tcp::socket& socket) {
        return original_destination(socket.native_handle(),
                                    socket.local_endpoint().address().is_v6());
      };
    }
    describe_metrics();
  }

  static kube::ReflectorOptions reflector_options() {
    kube::ReflectorOptions o;
    o.name = "nodes";
    o.seed = std::random_device{}();
    return o;
  }

  void describe_metrics() {
    metrics.describe(kAgents, "gauge", "Nodes with a connected tunnel agent.");
    metrics.describe(kNodes, "gauge", "Node objects known to the router.");
    metrics.describe(kStreamsOpen, "gauge", "Connections being carried now, by entry.");
    metrics.describe(kStreams, "counter", "Connections carried, by entry and route.");
    metrics.describe(kBytes, "counter",
                     "Bytes carried by finished connections, by entry and direction.");
    metrics.describe(kDialFailures, "counter",
                     "Connections refused or failed before carrying data, by entry and reason.");
    metrics.describe(kAgentRejections, "counter", "Agent connections refused, by reason.");
    metrics.describe(kIptablesSyncs, "counter", "iptables rule syncs, by result.");
    metrics.describe(kIptablesRules, "gauge", "DNAT rules installed.");
  }

  // ---- start / run / stop ----

  Result<void> start();
  asio::awaitable<void> run();
  asio::awaitable<void> drain();

  // ---- entries ----

  asio::awaitable<void> handle_agent(net::ServerExchange& exchange);
  asio::awaitable<void> serve_agent(net::AnyStream stream,
                                    std::string node,
                                    std::uint64_t connection,
                                    std::string remote);
  asio::awaitable<void> register_agent(std::shared_ptr<tunnel::Session> session,
                                       std::string node,
                                       std::string remote);
  asio::awaitable<void> handle_egress(net::ServerExchange& exchange, bool tls);
  asio::awaitable<void> uds_accept_loop();
  asio::awaitable<void> serve_uds(uds::socket socket);
  asio::awaitable<void> dnat_accept_loop(tcp::acceptor* acceptor);
  asio::awaitable<void> serve_dnat(tcp::socket socket, std::uint64_t id);
  net::Response handle_meta(const net::Request& request);

  /// The other end for `route`: a tunnel stream (OPEN acknowledged: the agent reached the
  /// destination) or a direct TCP connection. Errors carry the refusal reason.
  struct Connected {
    net::AnyStream stream;
    std::string label;  // "[C3][S5]" or "direct"
  };
  struct Failure {
    RefuseReason reason = RefuseReason::DialFailed;
    std::string message;
  };
  asio::awaitable<std::optional<Connected>> connect(const Route& route, Failure& failure);
  /// route() for a connection; within the reconnect grace a refusal that an agent coming back
  /// (or the first node list) would lift waits for that, rechecked every 100 ms.
  asio::awaitable<Route> route_or_await_agent(const tunnel::Destination& destination, Entry entry);
  bool in_grace() const { return clock.monotonic() < grace_end; }

  /// Refusals at warn, rate-limited per `key` (entry and reason).
  void refuse_log(const std::string& key, const std::string& line);
  void count_failure(Entry entry, RefuseReason reason) {
    metrics.add(kDialFailures, {{"entry", to_string(entry)}, {"reason", to_string(reason)}});
  }
  asio::awaitable<void> carry(
      Entry entry, std::string what, net::AnyStream client, Connected upstream, bool direct);

  // ---- nodes, iptables, certificates ----

  void on_node(const nlohmann::json& object);
  void on_node_deleted(const nlohmann::json& object);
  void agents_changed() {
    ++agent_changes;
    refresh_gauges();
    kick_iptables();
  }
  void kick_iptables() {
    iptables_dirty = true;
    iptables_kick.cancel();
  }
  asio::awaitable<void> iptables_loop();
  asio::awaitable<Result<void>> iptables_apply(std::vector<DnatRule> rules);
  asio::awaitable<Result<std::vector<DnatRule>>> iptables_current();
  asio::awaitable<Result<void>> iptables_remove();
  asio::awaitable<Result<void>> iptables_remove_blocking();
  asio::awaitable<void> informer_loop();
  asio::awaitable<void> certificate_loop();
  asio::awaitable<void> heap_loop();
  void refresh_gauges() {
    metrics.set(kAgents, {}, static_cast<double>(registry.size()));
    metrics.set(kNodes, {}, static_cast<double>(table.size()));
  }

  net::Executor ex;
  ServerSettings settings;
  const Clock& clock;
  ServerHooks hooks;
  PortPolicy ports;
  NodeTable table;
  AgentRegistry registry;
  kube::Informer informer;
  Metrics metrics;
  LogLimiter limiter;
  net::TaskGroup tasks;           // informer, loops, DNAT and UDS connections
  net::TaskGroup listener_tasks;  // Listener::run()s
  asio::steady_timer stop_timer;
  asio::steady_timer iptables_kick;
  std::atomic<bool> stop_requested{false};
  bool stopping = false;
  bool started = false;
  std::uint64_t agent_changes = 0;  // agents connected or gone, ever (heap_loop watches it)
  std::chrono::steady_clock::time_point grace_end{};  // start + reconnect_grace

  AgentHandler agent_handler;
  EgressHandler egress_tls_handler;
  EgressHandler egress_uds_handler;
  MetaHandler meta_handler;

  LoadedCredentials credentials;
  std::shared_ptr<net::TlsContext> agent_tls;
  std::shared_ptr<net::TlsContext> egress_tls;
  std::unique_ptr<net::Listener> agent_listener;
  std::unique_ptr<net::Listener> egress_listener;
  std::unique_ptr<net::Listener> meta_listener;
  std::unique_ptr<uds::acceptor> uds_acceptor;
  std::unique_ptr<tcp::acceptor> secure_acceptor;
  std::unique_ptr<tcp::acceptor> insecure_acceptor;
  std::uint64_t next_dnat_id = 1;

  std::optional<ProcessRunner> own_runner;
  std::unique_ptr<IptablesManager> iptables;
  std::unique_ptr<asio::thread_pool> iptables_thread;  // iptables blocks: never on our executor
  bool iptables_dirty = true;
  std::optional<std::vector<DnatRule>> iptables_applied;

  std::atomic<std::uint16_t> agent_port{0};
  std::atomic<std::uint16_t> egress_port{0};
  std::atomic<std::uint16_t> secure_port{0};
  std::atomic<std::uint16_t> insecure_port{0};
  std::atomic<std::uint16_t> meta_port{0};
};

// ---- start ----

Result<void> TunnelServer::Impl::start() {
  auto loaded = load_credentials(settings.tls);
  if (!loaded) {
    return Error(loaded.error().code(), "serving certificate: " + loaded.error().message());
  }
  credentials = std::move(*loaded);
  {
    net::TlsServerOptions o;
    o.credentials = credentials.tls;
    o.client_auth = net::ClientAuth::Require;
    o.require_tls13 = true;
    auto ctx = net::TlsContext::server(std::move(o));
    if (!ctx) {
      return ctx.error();
    }
    agent_tls = std::move(*ctx);
  }
  auto bind = [&](const Endpoint& where, net::Handler& handler,
                  std::shared_ptr<net::TlsContext> tls, std::string_view what,
                  bool direct_tls) -> Result<std::unique_ptr<net::Listener>> {
    auto ep = endpoint_of(where);
    if (!ep) {
      return Error(ep.error().code(), std::string(what) + ": " + ep.error().message());
    }
    net::ListenerConfig config;
    config.endpoint = *ep;
    config.tls = std::move(tls);
    config.direct_tls = direct_tls;
    auto l = net::Listener::bind(ex, handler, config);
    if (!l) {
      return Error(l.error().code(), std::string(what) + ": " + l.error().message());
    }
    return std::move(*l);
  };
  // Agents hold one mostly idle connection each, by the thousand: TLS without Asio's
  // per-connection buffers (issue 5: <= 50 KB per idle agent).
  auto al = bind(settings.agents, agent_handler, agent_tls, "agent listener", true);
  if (!al) {
    return al.error();
  }
  agent_listener = std::move(*al);
  agent_port = agent_listener->local_endpoint().port();

  if (settings.egress_tcp) {
    net::TlsServerOptions o;
    o.credentials = credentials.tls;
    o.client_auth = net::ClientAuth::Require;
    auto ctx = net::TlsContext::server(std::move(o));
    if (!ctx) {
      return ctx.error();
    }
    egress_tls = std::move(*ctx);
    auto l = bind(settings.egress, egress_tls_handler, egress_tls, "egress listener", false);
    if (!l) {
      return l.error();
    }
    egress_listener = std::move(*l);
    egress_port = egress_listener->local_endpoint().port();
  }

  if (!settings.egress_uds.empty()) {
    const auto& path = settings.egress_uds;
    std::error_code fec;
    std::filesystem::create_directories(path.parent_path(), fec);
    // A socket left by a previous instance would make bind() fail; anything else at that path
    // is not ours to delete.
    if (std::filesystem::is_socket(std::filesystem::symlink_status(path, fec))) {
      std::filesystem::remove(path, fec);
    }
    uds_acceptor = std::make_unique<uds::acceptor>(ex);
    boost::system::error_code ec;
    const auto where = "egress socket " + path.string();
    if (uds_acceptor->open(uds(), ec); ec) {
      return Error(ec, where);
    }
    if (uds_acceptor->bind(uds::endpoint(path.string()), ec); ec) {
      return Error(ec, where);
    }
    if (::chmod(path.c_str(), 0600) != 0) {
      return Error(std::error_code(errno, std::generic_category()), "chmod " + path.string());
    }
    if (uds_acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
      return Error(ec, where);
    }
  }

  if (settings.iptables.enabled) {
    auto open_dnat = [&](std::uint16_t port, std::unique_ptr<tcp::acceptor>& acceptor,
                         std::atomic<std::uint16_t>& bound) -> Result<void> {
      auto ep = endpoint_of({settings.dnat_address, port});
      if (!ep) {
        return Error(ep.error().code(), "--dnat-address: " + ep.error().message());
      }
      acceptor = std::make_unique<tcp::acceptor>(ex);
      boost::system::error_code ec;
      const auto where = "listen " + to_string(*ep);
      if (acceptor->open(ep->protocol(), ec); ec) {
        return Error(ec, where);
      }
      acceptor->set_option(asio::socket_base::reuse_address(true), ec);
      if (acceptor->bind(*ep, ec); ec) {
        return Error(ec, where);
      }
      if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
        return Error(ec, where);
      }
      bound = acceptor->local_endpoint().port();
      return {};
    };
    if (auto r = open_dnat(settings.secure_port, secure_acceptor, secure_port); !r) {
      return r;
    }
    if (auto r = open_dnat(settings.insecure_port, insecure_acceptor, insecure_port); !r) {
      return r;
    }
    // The rules redirect to the ports actually bound (tests bind port 0).
    settings.secure_port = secure_port;
    settings.insecure_port = insecure_port;
    CommandRunner* runner = hooks.runner;
    if (runner == nullptr) {
      own_runner.emplace();
      runner = &*own_runner;
    }
    iptables = std::make_unique<IptablesManager>(settings.iptables, settings.dnat_address, *runner);
    iptables_thread = std::make_unique<asio::thread_pool>(1);
  }

  auto ml = bind(settings.meta, meta_handler, nullptr, "meta listener", false);
  if (!ml) {
    return ml.error();
  }
  meta_listener = std::move(*ml);
  meta_port = meta_listener->local_endpoint().port();

  informer.add_handlers(kube::ResourceEventHandlers{
      [this](const nlohmann::json& n) { on_node(n); },
      [this](const nlohmann::json&, const nlohmann::json& n) { on_node(n); },
      [this](const nlohmann::json& n) { on_node_deleted(n); }});
  started = true;
  logger().info(
      "serving agents on {}:{} (TLS 1.3, client certificate CN system:node:<node>, CA {}); "
      "egress CONNECT {}{}; DNAT {}; allowed ports {}; identity {}",
      settings.agents.address, agent_port.load(), settings.tls.ca_file.string(),
      egress_listener ? "tls " + settings.egress.address + ":" + std::to_string(egress_port.load())
                      : std::string("tcp off"),
      uds_acceptor ? ", uds " + settings.egress_uds.string() : std::string(),
      settings.iptables.enabled ? settings.dnat_address + ":" + std::to_string(secure_port.load()) +
                                      "/" + std::to_string(insecure_port.load())
                                : std::string("off"),
      ports.describe(), credentials.subject);
  return {};
}

// ---- run / drain ----

asio::awaitable<void> TunnelServer::Impl::run() {
  if (!started) {
    co_return;
  }
  grace_end = clock.monotonic() + settings.reconnect_grace;
  listener_tasks.spawn(ex, agent_listener->run(), "agent-listener");
  if (egress_listener) {
    listener_tasks.spawn(ex, egress_listener->run(), "egress-listener");
  }
  listener_tasks.spawn(ex, meta_listener->run(), "meta-listener");
  if (uds_acceptor) {
    tasks.spawn(ex, uds_accept_loop(), "egress-uds");
  }
  if (secure_acceptor) {
    tasks.spawn(ex, dnat_accept_loop(secure_acceptor.get()), "dnat-secure");
    tasks.spawn(ex, dnat_accept_loop(insecure_acceptor.get()), "dnat-insecure");
    tasks.spawn(ex, iptables_loop(), "iptables");
  }
  tasks.spawn(ex, informer_loop(), "node-informer");
  tasks.spawn(ex, certificate_loop(), "certificates");
  tasks.spawn(ex, heap_loop(), "heap");
  while (!stop_requested) {
    co_await stop_timer.async_wait(kUse);
  }
  co_await drain();
}

asio::awaitable<void> TunnelServer::Impl::drain() {
  stopping = true;
  logger().info("stopping: connections get {} ms", settings.drain_timeout.count());
  boost::system::error_code ec;
  for (auto* a : {secure_acceptor.get(), insecure_acceptor.get()}) {
    if (a != nullptr) {
      a->close(ec);
    }
  }
  if (uds_acceptor) {
    uds_acceptor->close(ec);
  }
  iptables_kick.cancel();
  {
    net::TaskGroup stops(ex);
    for (auto* l : {agent_listener.get(), egress_listener.get(), meta_listener.get()}) {
      if (l != nullptr) {
        stops.spawn(ex, l->stop(settings.drain_timeout), "listener-stop");
      }
    }
    tasks.emit(asio::cancellation_type::total);
    co_await stops.async_wait();
  }
  if (!co_await tasks.wait_for(settings.drain_timeout)) {
    tasks.emit(asio::cancellation_type::terminal);
    co_await tasks.async_wait();
  }
  co_await listener_tasks.async_wait();
  if (iptables) {
    if (auto r = co_await iptables_remove(); !r) {
      logger().error("removing iptables rules: {}", r.error().what());
    } else {
      logger().info("iptables rules removed");
    }
    iptables_thread->join();
  }
  if (uds_acceptor) {
    std::error_code fec;
    std::filesystem::remove(settings.egress_uds, fec);
  }
  logger().info("stopped");
}

// ---- agents ----

asio::awaitable<void> TunnelServer::Impl::handle_agent(net::ServerExchange& exchange) {
  const auto& info = exchange.connection();
  const auto& request = exchange.request();
  const auto remote = info.remote;
  if (!info.tls || !info.tls->peer) {
    // Cannot happen with ClientAuth::Require; refuse rather than trust.
    metrics.add(kAgentRejections, {{"reason", "no_certificate"}});
    co_await exchange.respond(text_response(401, "a client certificate is required"));
    co_return;
  }
  auto node = node_from_common_name(info.tls->peer->common_name);
  if (!node) {
    metrics.add(kAgentRejections, {{"reason", "identity"}});
    refuse_log("agent/identity", "[C" + std::to_string(info.id) + "] agent from " + remote +
                                     " refused: " + node.error().message());
    co_await exchange.respond(text_response(403, node.error().message()));
    co_return;
  }
  if (request.method != "GET" || request.target != kTunnelPath ||
      !net::has_token(request.headers.get("Connection"), "upgrade") ||
      !net::iequals(request.headers.get("Upgrade"), kUpgradeToken)) {
    metrics.add(kAgentRejections, {{"reason", "bad_request"}});
    co_await exchange.respond(text_response(
        400, "expected GET " + std::string(kTunnelPath) +
                 " with Connection: Upgrade and Upgrade: " + std::string(kUpgradeToken)));
    co_return;
  }
  if (stopping) {
    co_await exchange.respond(text_response(503, "the tunnel server is stopping"));
    co_return;
  }
  net::Response head;
  head.status = 101;
  head.headers.set("Upgrade", std::string(kUpgradeToken));
  head.headers.set("Connection", "Upgrade");
  auto stream = co_await exchange.upgrade(std::move(head));
  if (!stream) {
    logger().debug("[C{}] upgrade for node {} failed: {}", info.id, *node, stream.error().what());
    co_return;
  }
  // The session runs on in our task group and this handler returns, so that the HTTP
  // connection's parser and buffers are freed: an idle agent costs only its TLS stream and
  // session. The drain of run() stops it.
  tasks.spawn(ex, serve_agent(std::move(*stream), *node, info.id, remote), "agent " + *node);
}

asio::awaitable<void> TunnelServer::Impl::serve_agent(net::AnyStream stream,
                                                      std::string node,
                                                      std::uint64_t connection,
                                                      std::string remote) {
  // A graceful stop reaches the session (GOAWAY, streams drain) instead of waiting for the
  // drain deadline.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  auto session_settings = settings.session;
  session_settings.role = tunnel::Role::Server;
  session_settings.authorize = [node](const tunnel::Hello& hello) -> Result<void> {
    if (hello.node_name != node) {
      return fail(Errc::Unauthorized, "the client certificate names node " + node +
                                          " but HELLO says " + quote(hello.node_name));
    }
    return {};
  };
  auto session =
      std::make_shared<tunnel::Session>(std::move(stream), std::move(session_settings), clock);
  logger().debug("[C{}] tunnel connection from {} (certificate node {}) is session [C{}]",
                 connection, remote, node, session->id());
  tasks.spawn(ex, register_agent(session, node, remote), "register " + node);
  auto result = co_await session->run();
  registry.remove(node, session.get());
  if (const auto& hello = session->peer_hello(); hello && hello->node_name != node) {
    metrics.add(kAgentRejections, {{"reason", "node_mismatch"}});
    refuse_log("agent/node_mismatch", "[C" + std::to_string(session->id()) + "] agent from " +
                                          remote + " refused: its certificate is for node " + node +
                                          ", its HELLO claims " + quote(hello->node_name));
  } else if (session->peer_hello()) {
    logger().info("[C{}] agent of node {} ({}) disconnected: {}", session->id(), node, remote,
                  result ? std::string("closed") : result.error().what());
  } else {
    logger().debug("[C{}] connection from {} ended before the handshake: {}", session->id(), remote,
                   result ? std::string("closed") : result.error().what());
  }
  agents_changed();
}

asio::awaitable<void> TunnelServer::Impl::register_agent(std::shared_ptr<tunnel::Session> session,
                                                         std::string node,
                                                         std::string remote) {
  auto opened = co_await session->wait_open();
  // run() may have ended meanwhile (and already tried to unregister): only a live session counts.
  if (!opened || session->state() != tunnel::SessionState::Open || stopping) {
    co_return;
  }
  for (auto& older : registry.add(node, session)) {
    older->go_away(settings.drain_timeout, tunnel::WireCode::NoError,
                   "replaced by a newer connection of the same node");
  }
  logger().info("[C{}] agent of node {} connected from {}", session->id(), node, remote);
  agents_changed();
}

// ---- egress CONNECT ----

void TunnelServer::Impl::refuse_log(const std::string& key, const std::string& line) {
  std::uint64_t suppressed = 0;
  if (limiter.allow(key, suppressed)) {
    if (suppressed > 0) {
      logger().warn("{} ({} similar refusals not logged in the last minute)", line, suppressed);
    } else {
      logger().warn("{}", line);
    }
  }
}

asio::awaitable<std::optional<TunnelServer::Impl::Connected>> TunnelServer::Impl::connect(
    const Route& route, Failure& failure) {
  auto session = registry.find(route.node);
  if (!session) {
    failure = {RefuseReason::NoAgent, "no tunnel agent connected for node " + route.node};
    co_return std::nullopt;
  }
  auto stream = co_await session->open_stream(route.destination);
  if (!stream) {
    const auto code = stream.error().code();  // a copy: error() returns by value
    if (code == tunnel::Errc::Refused) {
      failure = {RefuseReason::AgentRefused,
                 "agent of node " + route.node + " refused: " + stream.error().message()};
    } else if (code == tunnel::Errc::Timeout) {
      failure = {RefuseReason::Timeout,
                 "agent of node " + route.node + " did not answer: " + stream.error().message()};
    } else {
      failure = {RefuseReason::DialFailed,
                 "tunnel to node " + route.node + ": " + stream.error().what()};
    }
    co_return std::nullopt;
  }
  Connected c;
  c.label = "[C" + std::to_string(session->id()) + "][S" + std::to_string(stream->id()) + "]";
  c.stream = net::AnyStream::wrap(std::move(*stream));
  co_return c;
}

asio::awaitable<Route> TunnelServer::Impl::route_or_await_agent(
    const tunnel::Destination& destination, Entry entry) {
  const auto has_agent = [this](std::string_view node) { return registry.has(node); };
  asio::steady_timer recheck(ex);
  for (;;) {
    auto decision = route(destination, entry, table, ports, has_agent);
    const bool may_lift = decision.kind == Route::Kind::Refuse &&
                          (decision.reason == RefuseReason::NoAgent ||
                           (decision.reason == RefuseReason::NotANode && !informer.has_synced()));
    if (!may_lift || !in_grace() || stopping) {
      co_return decision;
    }
    recheck.expires_after(std::chrono::milliseconds(100));
    co_await recheck.async_wait(kUse);
  }
}

asio::awaitable<void> TunnelServer::Impl::carry(
    Entry entry, std::string what, net::AnyStream client, Connected upstream, bool direct) {
  const Metrics::Labels entry_label{{"entry", to_string(entry)}};
  metrics.add(kStreams, {{"entry", to_string(entry)}, {"route", direct ? "direct" : "tunnel"}});
  metrics.add(kStreamsOpen, entry_label, 1);
  logger().debug("{} {} open", upstream.label, what);
  auto result = co_await net::splice(std::move(client), std::move(upstream.stream),
                                     std::chrono::milliseconds(0));
  metrics.add(kStreamsOpen, entry_label, -1);
  metrics.add(kBytes, {{"entry", to_string(entry)}, {"direction", "to_node"}},
              static_cast<double>(result.a_to_b));
  metrics.add(kBytes, {{"entry", to_string(entry)}, {"direction", "from_node"}},
              static_cast<double>(result.b_to_a));
  logger().debug("{} {} closed: {} bytes to the node, {} back{}", upstream.label, what,
                 result.a_to_b, result.b_to_a,
                 result.error.code() ? " (" + result.error.what() + ")" : std::string());
}

asio::awaitable<void> TunnelServer::Impl::handle_egress(net::ServerExchange& exchange, bool tls) {
  const auto& info = exchange.connection();
  const auto& request = exchange.request();
  const auto conn = "[C" + std::to_string(info.id) + "]";
  auto refuse = [&](RefuseReason reason, const std::string& message) {
    count_failure(Entry::Egress, reason);
    refuse_log("egress/" + std::string(to_string(reason)),
               conn + " CONNECT " + quote(request.target) + " refused (" +
                   std::to_string(http_status(reason)) + "): " + message);
    auto response = text_response(http_status(reason), "yurt-tunnel-server: " + message);
    // One CONNECT per connection (the apiserver's dialer): a refused one ends it.
    response.headers.set("Connection", "close");
    return response;
  };
  if (tls) {
    const auto& peer = info.tls ? info.tls->peer : std::nullopt;
    const auto& allowed = settings.egress_client_names;
    if (!peer || std::find(allowed.begin(), allowed.end(), peer->common_name) == allowed.end()) {
      auto response =
          refuse(RefuseReason::Unauthorized,
                 "client certificate " +
                     (peer ? "CN " + quote(peer->common_name) : std::string("missing")) +
                     " may not use the egress entry");
      co_await exchange.respond(std::move(response));
      co_return;
    }
  }
  if (request.method != "CONNECT") {
    auto response = refuse(RefuseReason::BadRequest,
                           "only CONNECT host:port is served here, not " + quote(request.method));
    response.status = 405;
    response.headers.set("Allow", "CONNECT");
    co_await exchange.respond(std::move(response));
    co_return;
  }
  auto destination = tunnel::parse_destination(request.target);
  if (!destination) {
    auto response = refuse(RefuseReason::BadRequest, destination.error().message());
    co_await exchange.respond(std::move(response));
    co_return;
  }
  auto decision = co_await route_or_await_agent(*destination, Entry::Egress);
  if (decision.kind == Route::Kind::Refuse) {
    auto response = refuse(decision.reason, decision.message);
    co_await exchange.respond(std::move(response));
    co_return;
  }
  std::optional<Connected> upstream;
  Failure failure;
  if (decision.kind == Route::Kind::Direct) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(decision.destination, ec);
    auto socket =
        co_await dial_tcp(tcp::endpoint(address, destination->port), settings.dial_timeout);
    if (!socket) {
      failure = {socket.error().code() == std::errc::timed_out ? RefuseReason::Timeout
                                                               : RefuseReason::DialFailed,
                 "cloud node " + decision.node + ": " + socket.error().what()};
    } else {
      upstream.emplace();
      upstream->label = conn + "[direct]";
      upstream->stream = net::AnyStream::wrap(std::move(*socket));
    }
  } else {
    upstream = co_await connect(decision, failure);
  }
  if (!upstream) {
    auto response = refuse(failure.reason, failure.message);
    co_await exchange.respond(std::move(response));
    co_return;
  }
  auto client = co_await exchange.accept_connect();
  if (!client) {
    logger().debug("{} CONNECT {}: answering 200 failed: {}", conn, request.target,
                   client.error().what());
    co_return;
  }
  co_await carry(Entry::Egress,
                 conn + " CONNECT " + request.target + " (node " + decision.node + ")",
                 std::move(*client), std::move(*upstream), decision.kind == Route::Kind::Direct);
}

asio::awaitable<void> TunnelServer::Impl::uds_accept_loop() {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  for (;;) {
    auto [ec, socket] = co_await uds_acceptor->async_accept(kUse);
    if (ec) {
      if (ec == asio::error::operation_aborted || !uds_acceptor->is_open() || stopping) {
        co_return;
      }
      logger().warn("accept on {}: {}", settings.egress_uds.string(), ec.message());
      continue;
    }
    tasks.spawn(ex, serve_uds(std::move(socket)), "egress-uds-connection");
  }
}

asio::awaitable<void> TunnelServer::Impl::serve_uds(uds::socket socket) {
  net::ServerSettings s;
  co_await net::serve_connection(net::AnyStream::wrap(std::move(socket)), egress_uds_handler, s);
}

// ---- DNAT ----

asio::awaitable<void> TunnelServer::Impl::dnat_accept_loop(tcp::acceptor* acceptor) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  for (;;) {
    auto [ec, socket] = co_await acceptor->async_accept(kUse);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open() || stopping) {
        co_return;
      }
      logger().warn("accept on DNAT port: {}", ec.message());
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    tasks.spawn(ex, serve_dnat(std::move(socket), next_dnat_id++), "dnat-connection");
  }
}

asio::awaitable<void> TunnelServer::Impl::serve_dnat(tcp::socket socket, std::uint64_t id) {
  const auto conn = "[D" + std::to_string(id) + "]";
  boost::system::error_code ec;
  const auto local = socket.local_endpoint(ec);
  const auto peer = socket.remote_endpoint(ec);
  auto refuse = [&](RefuseReason reason, const std::string& message) {
    count_failure(Entry::Dnat, reason);
    refuse_log("dnat/" + std::string(to_string(reason)),
               conn + " redirected connection from " + to_string(peer) + " closed: " + message);
  };
  auto original = hooks.original_destination(socket);
  if (!original) {
    refuse(RefuseReason::NotRedirected, original.error().message());
    co_return;
  }
  if (*original == local) {
    refuse(RefuseReason::NotRedirected,
           "it was not redirected (dialled " + to_string(local) + " directly)");
    co_return;
  }
  const tunnel::Destination destination{original->address().to_string(), original->port()};
  auto decision = co_await route_or_await_agent(destination, Entry::Dnat);
  if (decision.kind != Route::Kind::Tunnel) {
    refuse(decision.kind == Route::Kind::Refuse ? decision.reason : RefuseReason::NoAgent,
           decision.kind == Route::Kind::Refuse
               ? decision.message
               : "node " + decision.node + " has no agent (DNAT never dials directly)");
    co_return;
  }
  Failure failure;
  auto upstream = co_await connect(decision, failure);
  if (!upstream) {
    refuse(failure.reason, failure.message);
    co_return;
  }
  co_await carry(Entry::Dnat, conn + " " + to_string(*original) + " (node " + decision.node + ")",
                 net::AnyStream::wrap(std::move(socket)), std::move(*upstream), false);
}

// ---- meta ----

net::Response TunnelServer::Impl::handle_meta(const net::Request& request) {
  auto path = std::string_view(request.target).substr(0, request.target.find('?'));
  if (request.method != "GET" && request.method != "HEAD") {
    return text_response(405, "method not allowed");
  }
  if (path == "/healthz" || path == "/livez") {
    return text_response(200, "ok");
  }
  if (path == "/readyz") {
    if (informer.has_synced() && !stopping) {
      return text_response(200, "ok");
    }
    return text_response(503, stopping ? "stopping" : "node list not synced yet");
  }
  if (path == "/metrics") {
    refresh_gauges();
    auto r = text_response(200, metrics.render());
    r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return r;
  }
  return text_response(404, "not found: /healthz, /readyz, /metrics");
}

// ---- nodes ----

void TunnelServer::Impl::on_node(const nlohmann::json& object) {
  auto record = node_from_json(object);
  if (!record) {
    logger().warn("ignoring node: {}", record.error().message());
    return;
  }
  const auto* known = table.find(record->name);
  if (known != nullptr && *known == *record) {
    return;
  }
  logger().debug("node {}: {} addresses {}", record->name, record->edge ? "edge" : "cloud",
                 record->addresses.size());
  table.upsert(std::move(*record));
  refresh_gauges();
  kick_iptables();
}

void TunnelServer::Impl::on_node_deleted(const nlohmann::json& object) {
  if (object.contains("metadata") && object["metadata"].contains("name") &&
      object["metadata"]["name"].is_string()) {
    table.remove(object["metadata"]["name"].get<std::string>());
    refresh_gauges();
    kick_iptables();
  }
}

asio::awaitable<void> TunnelServer::Impl::informer_loop() {
  co_await informer.run();
}

// ---- iptables ----

asio::awaitable<Result<void>> TunnelServer::Impl::iptables_apply(std::vector<DnatRule> rules) {
  // On the helper thread: iptables takes milliseconds to seconds (xtables lock).
  co_return iptables->apply(rules);
}

asio::awaitable<Result<std::vector<DnatRule>>> TunnelServer::Impl::iptables_current() {
  co_return iptables->current();
}

asio::awaitable<Result<void>> TunnelServer::Impl::iptables_remove_blocking() {
  co_return iptables->remove();
}

asio::awaitable<Result<void>> TunnelServer::Impl::iptables_remove() {
  co_return co_await asio::co_spawn(iptables_thread->get_executor(), iptables_remove_blocking(),
                                    asio::use_awaitable);
}

asio::awaitable<void> TunnelServer::Impl::iptables_loop() {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  // What a predecessor left: kept while its agents reconnect (with_inherited).
  auto listed = co_await asio::co_spawn(iptables_thread->get_executor(), iptables_current(),
                                        asio::use_awaitable);
  std::vector<DnatRule> inherited;
  if (!listed) {
    logger().warn("iptables: cannot list the rules a previous server left: {}",
                  listed.error().what());
  } else {
    inherited = std::move(*listed);
    // Rules to ports this server does not listen on (another configuration) would refuse.
    std::erase_if(inherited, [this](const DnatRule& r) {
      return r.to_port != settings.secure_port && r.to_port != settings.insecure_port;
    });
    if (!inherited.empty()) {
      logger().info("iptables: keeping the {} DNAT rules found for {} ms while agents reconnect",
                    inherited.size(), settings.reconnect_grace.count());
    }
  }
  auto last_full = clock.monotonic();
  bool first = true;
  while (!stopping) {
    if (!iptables_dirty && !first) {
      std::chrono::steady_clock::duration wait = settings.iptables.sync_period;
      if (!inherited.empty()) {
        wait = std::min(wait, grace_end - clock.monotonic());  // the inherited rules go then
      }
      iptables_kick.expires_after(wait);
      co_await iptables_kick.async_wait(kUse);
      if (stopping) {
        co_return;
      }
      // Coalesce a burst of agents connecting at once into one iptables run.
      asio::steady_timer settle(ex, std::chrono::milliseconds(100));
      co_await settle.async_wait(kUse);
      if (stopping) {
        co_return;
      }
    }
    const bool periodic = clock.monotonic() - last_full >= settings.iptables.sync_period;
    iptables_dirty = false;
    auto rules =
        plan_dnat(table, registry.nodes(), ports, settings.secure_port, settings.insecure_port);
    if (!inherited.empty()) {
      if (in_grace()) {
        rules = with_inherited(std::move(rules), inherited);
      } else {
        inherited.clear();
      }
    }
    if (!first && !periodic && iptables_applied && *iptables_applied == rules) {
      continue;
    }
    first = false;
    last_full = clock.monotonic();
    auto result = co_await asio::co_spawn(iptables_thread->get_executor(), iptables_apply(rules),
                                          asio::use_awaitable);
    if (!result) {
      metrics.add(kIptablesSyncs, {{"result", "error"}});
      logger().error("iptables sync failed: {}", result.error().what());
      iptables_applied.reset();
      iptables_dirty = true;  // retry at the next kick or period
      asio::steady_timer retry(ex, std::chrono::seconds(5));
      co_await retry.async_wait(kUse);
      continue;
    }
    metrics.add(kIptablesSyncs, {{"result", "ok"}});
    metrics.set(kIptablesRules, {}, static_cast<double>(rules.size()));
    if (!iptables_applied || *iptables_applied != rules) {
      logger().info("iptables: {} DNAT rules for {} nodes with agents", rules.size(),
                    registry.size());
    }
    iptables_applied = std::move(rules);
  }
}

// ---- memory ----

asio::awaitable<void> TunnelServer::Impl::heap_loop() {
  // TLS handshakes leave their transient buffers as free heap that glibc keeps: ~22 KiB per agent
  // after a thousand reconnect at once (issue 5 budgets 50 KB per idle agent). Once the set of
  // agents has been still for a second, the pages go back to the system.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  asio::steady_timer tick(ex);
  std::uint64_t seen = agent_changes;
  std::uint64_t released = agent_changes;
  while (!stopping) {
    tick.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await tick.async_wait(kUse);
    if (ec || stopping) {
      co_return;
    }
    if (agent_changes == seen && seen != released) {
      release_free_heap();
      released = seen;
    }
    seen = agent_changes;
  }
}

// ---- certificates ----

asio::awaitable<void> TunnelServer::Impl::certificate_loop() {
  // The serving certificate is renewed on disk (a Secret update, a CSR flow): pick it up.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  asio::steady_timer timer(ex);
  while (!stopping) {
    timer.expires_after(std::chrono::minutes(1));
    auto [ec] = co_await timer.async_wait(kUse);
    if (ec || stopping) {
      co_return;
    }
    auto loaded = load_credentials(settings.tls);
    if (!loaded) {
      logger().warn("reloading certificates: {} (keeping the current ones)", loaded.error().what());
      continue;
    }
    if (credentials_equal(loaded->tls, credentials.tls)) {
      continue;
    }
    for (auto* ctx : {agent_tls.get(), egress_tls.get()}) {
      if (ctx != nullptr) {
        if (auto r = ctx->update(loaded->tls); !r) {
          logger().warn("reloading certificates: {}", r.error().what());
        }
      }
    }
    logger().info("serving certificate reloaded: {} serial {}", loaded->subject, loaded->serial);
    credentials = std::move(*loaded);
  }
}

// ---- TunnelServer ----

TunnelServer::TunnelServer(net::Executor ex,
                           ServerSettings settings,
                           const Clock& clock,
                           kube::ListerWatcher& nodes,
                           ServerHooks hooks)
    : impl_(std::make_shared<Impl>(
          std::move(ex), std::move(settings), clock, nodes, std::move(hooks))) {}

TunnelServer::~TunnelServer() = default;

Result<void> TunnelServer::start() {
  return impl_->start();
}

net::asio::awaitable<void> TunnelServer::run() {
  return impl_->run();
}

void TunnelServer::stop() {
  impl_->stop_requested = true;
  asio::post(impl_->ex, [impl = impl_] { impl->stop_timer.cancel(); });
}

std::uint16_t TunnelServer::agent_port() const noexcept {
  return impl_->agent_port.load();
}
std::uint16_t TunnelServer::egress_port() const noexcept {
  return impl_->egress_port.load();
}
std::uint16_t TunnelServer::secure_port() const noexcept {
  return impl_->secure_port.load();
}
std::uint16_t TunnelServer::insecure_port() const noexcept {
  return impl_->insecure_port.load();
}
std::uint16_t TunnelServer::meta_port() const noexcept {
  return impl_->meta_port.load();
}
std::size_t TunnelServer::agents() const {
  return impl_->registry.size();
}
bool TunnelServer::ready() const {
  return impl_->informer.has_synced();
}
const Metrics& TunnelServer::metrics() {
  impl_->refresh_gauges();
  return impl_->metrics;
}

}  // namespace yurt::tunnel_app
