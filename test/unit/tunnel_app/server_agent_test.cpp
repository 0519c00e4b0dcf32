// yurt-tunnel-server and yurt-tunnel-agent in one process over loopback: TLS 1.3 with client
// certificates made at test start, Node objects from a FakeListerWatcher, a TCP echo server
// playing the kubelet. Steps that do I/O run as coroutines returning values; the assertions are
// made outside them (GCC 12 and co_await inside gtest macros do not mix).

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "yurt/base/clock.hpp"
#include "yurt/base/fs.hpp"
#include "yurt/certs/authority.hpp"
#include "yurt/net/any_stream.hpp"
#include "yurt/net/client.hpp"
#include "yurt/net/tls_context.hpp"
#include "yurt/tunnel/frame.hpp"

#include "src/apps/tunnel/agent.hpp"
#include "src/apps/tunnel/netfilter.hpp"
#include "src/apps/tunnel/server.hpp"
#include "test/fakes/fake_lister_watcher.hpp"
#include "test/fakes/temp_dir.hpp"

namespace yurt::tunnel_app {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using uds = asio::local::stream_protocol;
using namespace std::chrono_literals;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// ---- driving the io_context ----

/// Runs `coro` while everything else on `io` (server, agents, echo) keeps running; throws when
/// it does not finish within `deadline`.
template <class T>
T run(asio::io_context& io, asio::awaitable<T> coro, std::chrono::milliseconds deadline = 10s) {
  std::optional<T> value;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, std::move(coro), [&](std::exception_ptr e, T v) {
    error = e;
    value.emplace(std::move(v));
    done = true;
  });
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!done && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_one_for(20ms);
  }
  if (!done) {
    throw std::runtime_error("test step did not finish within the deadline");
  }
  if (error) {
    std::rethrow_exception(error);
  }
  return std::move(*value);
}

/// Polls `condition` until it holds (true) or `timeout` passes (false).
asio::awaitable<bool> eventually(std::function<bool()> condition,
                                 std::chrono::milliseconds timeout = 8s) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) {
      co_return false;
    }
    timer.expires_after(10ms);
    co_await timer.async_wait(kUse);
  }
  co_return true;
}

bool wait_until(asio::io_context& io,
                std::function<bool()> condition,
                std::chrono::milliseconds timeout = 8s) {
  return run(io, eventually(std::move(condition), timeout), timeout + 2s);
}

// ---- certificates ----

struct Pki {
  explicit Pki(const std::filesystem::path& dir) : dir_(dir) {
    auto root = certs::CertificateAuthority::create_root({"yurt test cluster CA", {}}, 24h, clock_);
    auto other = certs::CertificateAuthority::create_root({"someone else's CA", {}}, 24h, clock_);
    if (!root || !other) {
      throw std::runtime_error("cannot create test CAs");
    }
    ca.emplace(std::move(*root));
    rogue.emplace(std::move(*other));
    ca_file = dir / "ca.crt";
    if (!fs::atomic_write(ca_file, ca->certificate_pem())) {
      throw std::runtime_error("cannot write the CA file");
    }
  }

  /// Issues a certificate and writes <name>.crt / <name>.key; returns the files.
  TlsFiles issue(const std::string& name,
                 const std::string& cn,
                 std::vector<std::string> orgs,
                 bool server,
                 bool from_rogue = false) {
    certs::IssueOptions o;
    o.subject = {cn, std::move(orgs)};
    if (server) {
      o.ip_addresses = {"127.0.0.1"};
      o.dns_names = {"localhost"};
    }
    o.usages = {certs::Usage::DigitalSignature, certs::Usage::KeyEncipherment,
                server ? certs::Usage::ServerAuth : certs::Usage::ClientAuth};
    auto issued = (from_rogue ? *rogue : *ca).issue(o);
    if (!issued) {
      throw std::runtime_error("issue " + name + ": " + issued.error().what());
    }
    TlsFiles f{dir_ / (name + ".crt"), dir_ / (name + ".key"), ca_file};
    if (!fs::atomic_write(f.cert_file, issued->certificate_pem) ||
        !fs::atomic_write(f.key_file, issued->key.pem())) {
      throw std::runtime_error("cannot write " + name);
    }
    return f;
  }

  net::TlsCredentials credentials(const TlsFiles& f) const {
    net::TlsCredentials c;
    c.cert_chain = *fs::read_file(f.cert_file);
    c.private_key = *fs::read_file(f.key_file);
    c.ca_bundle = ca->certificate_pem();
    return c;
  }

  SystemClock clock_;
  std::filesystem::path dir_;
  std::optional<certs::CertificateAuthority> ca;
  std::optional<certs::CertificateAuthority> rogue;
  std::filesystem::path ca_file;
};

// ---- the kubelet: an echo server ----

asio::awaitable<void> echo_connection(tcp::socket socket) {
  std::vector<char> buf(64 * 1024);
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), kUse);
    if (n > 0) {
      auto [wec, w] = co_await asio::async_write(socket, asio::buffer(buf.data(), n), kUse);
      if (wec) {
        co_return;
      }
    }
    if (ec) {
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
  }
}

asio::awaitable<void> echo_server(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUse);
    if (ec) {
      co_return;
    }
    asio::co_spawn(acceptor.get_executor(), echo_connection(std::move(socket)), asio::detached);
  }
}

// ---- clients ----

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((i * 31 + seed * 7) & 0xff);
  }
  return s;
}

/// What a CONNECT got: the exact response head, the body of a refusal, and for 200 what came
/// back for `payload` after a half-close.
struct ConnectOutcome {
  std::string head;
  std::string body;
  std::string echoed;
  bool connected = false;
};

template <class Stream>
asio::awaitable<std::string> read_to_eof(Stream& s) {
  std::string out;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), kUse);
    out.append(buf.data(), n);
    if (ec) {
      co_return out;
    }
  }
}

/// Sends `request` (a raw request head) over the Unix socket; reads the head; on 200 writes
/// `payload`, half-closes and reads the echo.
asio::awaitable<ConnectOutcome> uds_connect(std::filesystem::path path,
                                            std::string request,
                                            std::string payload) {
  ConnectOutcome out;
  uds::socket socket(co_await asio::this_coro::executor);
  auto [cec] = co_await socket.async_connect(uds::endpoint(path.string()), kUse);
  if (cec) {
    out.head = "connect failed: " + cec.message();
    co_return out;
  }
  co_await asio::async_write(socket, asio::buffer(request), kUse);
  // Byte by byte up to the blank line: any byte the server sent beyond it would then show up
  // in front of the echo (the apiserver refuses such answers).
  char c = 0;
  while (out.head.find("\r\n\r\n") == std::string::npos) {
    auto [ec, n] = co_await asio::async_read(socket, asio::buffer(&c, 1), kUse);
    if (ec) {
      co_return out;
    }
    out.head += c;
  }
  if (!out.head.starts_with("HTTP/1.1 200")) {
    // The body by its Content-Length: a refused request need not close the connection.
    auto at = out.head.find("Content-Length: ");
    if (at != std::string::npos) {
      out.body.resize(std::stoul(out.head.substr(at + 16)));
      co_await asio::async_read(socket, asio::buffer(out.body), kUse);
    }
    co_return out;
  }
  out.connected = true;
  co_await asio::async_write(socket, asio::buffer(payload), kUse);
  socket.shutdown(uds::socket::shutdown_send);
  out.echoed = co_await read_to_eof(socket);
  co_return out;
}

std::string connect_request(const std::string& target) {
  return "CONNECT " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

/// CONNECT over TLS through net::HttpClient (as the apiserver's egress dialer does).
asio::awaitable<ConnectOutcome> tls_connect(std::uint16_t port,
                                            std::shared_ptr<net::TlsContext> tls,
                                            std::string target,
                                            std::string payload) {
  ConnectOutcome out;
  net::HttpClient client(co_await asio::this_coro::executor);
  net::Origin origin;
  origin.host = "127.0.0.1";
  origin.port = port;
  origin.tls = std::move(tls);
  net::Request request;
  request.method = "CONNECT";
  request.target = target;
  request.headers.set("Host", "127.0.0.1");
  auto call = co_await client.open(origin, std::move(request));
  if (!call) {
    out.head = "error: " + call.error().what();
    co_return out;
  }
  out.head = std::to_string(call->response().status);
  if (call->response().status != 200) {
    auto body = co_await call->read_all(4096);
    out.body = body ? *body : body.error().what();
    co_return out;
  }
  auto stream = call->take_stream();
  if (!stream) {
    out.head = "take_stream: " + stream.error().what();
    co_return out;
  }
  out.connected = true;
  co_await asio::async_write(*stream, asio::buffer(payload), kUse);
  co_await stream->async_shutdown_send(kUse);
  out.echoed = co_await read_to_eof(*stream);
  co_return out;
}

/// GET with the agent's upgrade request, as a raw client (to try identities the agent would not).
asio::awaitable<std::string> try_tunnel_upgrade(std::uint16_t port,
                                                std::shared_ptr<net::TlsContext> tls) {
  net::HttpClient client(co_await asio::this_coro::executor);
  net::Origin origin;
  origin.host = "127.0.0.1";
  origin.port = port;
  origin.tls = std::move(tls);
  net::Request request;
  request.target = std::string(kTunnelPath);
  request.headers.set("Host", origin.authority());
  request.headers.set("Connection", "Upgrade");
  request.headers.set("Upgrade", std::string(kUpgradeToken));
  auto call = co_await client.open(origin, std::move(request));
  if (!call) {
    co_return "error: " + call.error().what();
  }
  auto status = std::to_string(call->response().status);
  auto body = co_await call->read_all(4096);
  co_return status + " " + (body ? *body : std::string());
}

asio::awaitable<std::string> http_get(std::uint16_t port, std::string target) {
  net::HttpClient client(co_await asio::this_coro::executor);
  net::Origin origin;
  origin.host = "127.0.0.1";
  origin.port = port;
  net::Request request;
  request.target = target;
  request.headers.set("Host", origin.authority());
  auto r = co_await client.request(origin, std::move(request));
  if (!r) {
    co_return "error: " + r.error().what();
  }
  co_return std::to_string(r->status) + " " + r->body;
}

/// A plain TCP client of a DNAT port: writes `payload`, half-closes, reads to EOF.
asio::awaitable<std::string> dnat_roundtrip(std::uint16_t port, std::string payload) {
  tcp::socket socket(co_await asio::this_coro::executor);
  auto [cec] =
      co_await socket.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kUse);
  if (cec) {
    co_return "connect failed";
  }
  co_await asio::async_write(socket, asio::buffer(payload), kUse);
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  co_return co_await read_to_eof(socket);
}

/// The agent's upgrade with `tls` (a valid node certificate), then `bytes` instead of the tunnel
/// protocol and a half-close; returns "closed" once the server has closed the connection (or
/// what went wrong before).
asio::awaitable<std::string> upgrade_then_send(std::uint16_t port,
                                               std::shared_ptr<net::TlsContext> tls,
                                               std::string bytes) {
  net::HttpClient client(co_await asio::this_coro::executor);
  net::Origin origin;
  origin.host = "127.0.0.1";
  origin.port = port;
  origin.tls = std::move(tls);
  net::Request request;
  request.target = std::string(kTunnelPath);
  request.headers.set("Host", origin.authority());
  request.headers.set("Connection", "Upgrade");
  request.headers.set("Upgrade", std::string(kUpgradeToken));
  auto call = co_await client.open(origin, std::move(request));
  if (!call) {
    co_return "error: " + call.error().what();
  }
  if (call->response().status != 101) {
    co_return "status " + std::to_string(call->response().status);
  }
  auto stream = call->take_stream();
  if (!stream) {
    co_return "take_stream: " + stream.error().what();
  }
  auto [wec, written] = co_await asio::async_write(*stream, asio::buffer(bytes), kUse);
  if (wec) {
    co_return "closed";  // the server already gave up on us
  }
  co_await stream->async_shutdown_send(kUse);
  auto rest = co_await read_to_eof(*stream);
  co_return "closed";
}

/// Raw bytes to a TCP port; returns once the server closed the connection.
asio::awaitable<std::string> tcp_send_until_closed(std::uint16_t port, std::string bytes) {
  tcp::socket socket(co_await asio::this_coro::executor);
  auto [cec] =
      co_await socket.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kUse);
  if (cec) {
    co_return "connect failed";
  }
  co_await asio::async_write(socket, asio::buffer(bytes), kUse);
  auto rest = co_await read_to_eof(socket);
  co_return "closed";
}

/// Records iptables commands (called from the server's helper thread).
class RecordingRunner final : public CommandRunner {
 public:
  Result<std::string> run(const std::vector<std::string>& argv, std::string_view input) override {
    std::lock_guard lock(mutex_);
    std::string line;
    for (const auto& a : argv) {
      line += (line.empty() ? "" : " ") + a;
    }
    commands_.push_back(line + (input.empty() ? "" : "\n" + std::string(input)));
    if (line.find(" -S ") != std::string::npos && listing) {
      return listing();
    }
    if (line.find(" -C ") != std::string::npos && !jump_) {
      return Error(std::make_error_code(std::errc::invalid_argument), "no such rule");
    }
    if (line.find(" -I ") != std::string::npos) {
      jump_ = true;
    }
    return std::string();
  }
  /// What `iptables -S` prints: the chain as a predecessor left it. Set before the server starts.
  std::function<std::string()> listing;

  std::vector<std::string> commands() const {
    std::lock_guard lock(mutex_);
    return commands_;
  }
  std::string last_restore() const {
    std::lock_guard lock(mutex_);
    for (auto it = commands_.rbegin(); it != commands_.rend(); ++it) {
      if (it->find("--noflush") != std::string::npos) {
        return *it;
      }
    }
    return {};
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> commands_;
  bool jump_ = false;
};

nlohmann::json node_object(const std::string& name, const std::string& ip, bool edge) {
  nlohmann::json n = {
      {"metadata", {{"name", name}}},
      {"status",
       {{"addresses",
         {{{"type", "InternalIP"}, {"address", ip}}, {{"type", "Hostname"}, {"address", name}}}}}}};
  if (edge) {
    n["metadata"]["labels"] = {{"openyurt.io/is-edge-worker", "true"}};
  }
  return n;
}

// ---- fixture ----

class TunnelTest : public ::testing::Test {
 protected:
  TunnelTest() : pki(dir.path()), nodes(io.get_executor()), echo(io) {
    server_files = pki.issue("server", "yurt-tunnel-server", {}, true);
    edge1_files = pki.issue("edge-1", "system:node:edge-1", {"system:nodes"}, false);
    apiserver_files = pki.issue("apiserver", "kube-apiserver-kubelet-client", {}, false);
    // Every loopback address reaches the echo server: 127.0.0.1 is edge-1, 127.0.0.2 cloud-1.
    echo.open(tcp::v4());
    echo.set_option(tcp::acceptor::reuse_address(true));
    echo.bind(tcp::endpoint(asio::ip::make_address("0.0.0.0"), 0));
    echo.listen();
    echo_port = echo.local_endpoint().port();
    asio::co_spawn(io, echo_server(echo), asio::detached);
    nodes.add(node_object("edge-1", "127.0.0.1", true));
    nodes.add(node_object("edge-2", "127.0.0.3", true));
    nodes.add(node_object("cloud-1", "127.0.0.2", false));
  }

  ~TunnelTest() override {
    for (auto& a : agents) {
      a.agent->stop();
    }
    for (auto& a : agents) {
      wait_until(
          io, [&] { return *a.done; }, 10s);
    }
    stop_server();
    boost::system::error_code ignored;
    echo.close(ignored);
    io.restart();
    io.poll();
  }

  ServerSettings server_settings() {
    ServerSettings s;
    s.agents = {"127.0.0.1", 0};
    s.egress = {"127.0.0.1", 0};
    s.egress_uds = dir.path() / "egress.sock";
    s.meta = {"127.0.0.1", 0};
    s.tls = server_files;
    s.extra_ports = {echo_port};
    s.drain_timeout = 500ms;
    s.session.drain_timeout = 500ms;
    s.dnat_address = "127.0.0.1";
    s.secure_port = 0;
    s.insecure_port = 0;
    s.reconnect_grace = 0ms;  // refusals at once; the grace has its own test
    return s;
  }

  AgentSettings agent_settings(const std::string& node, const TlsFiles& files) {
    AgentSettings s;
    s.node_name = node;
    s.servers = {"127.0.0.1:" + std::to_string(agent_port)};
    s.tls = files;
    s.extra_ports = {echo_port};
    s.meta = {"127.0.0.1", 0};
    s.reconnect_initial = 20ms;
    s.reconnect_cap = 100ms;
    s.reconnect_refused_cap = 50ms;
    s.drain_timeout = 500ms;
    s.session.drain_timeout = 500ms;
    return s;
  }

  void start_server(ServerSettings settings, ServerHooks hooks = {}) {
    server = std::make_unique<TunnelServer>(io.get_executor(), std::move(settings), clock, nodes,
                                            std::move(hooks));
    auto started = server->start();
    ASSERT_TRUE(started) << started.error().what();
    agent_port = server->agent_port();
    server_done = std::make_shared<bool>(false);
    asio::co_spawn(io, server->run(), [done = server_done](std::exception_ptr) { *done = true; });
    ASSERT_TRUE(wait_until(io, [&] { return server->ready(); }));
  }

  void stop_server() {
    if (!server) {
      return;
    }
    server->stop();
    EXPECT_TRUE(wait_until(
        io, [&] { return *server_done; }, 10s));
    server.reset();
  }

  TunnelAgent& start_agent(AgentSettings settings) {
    auto& a = agents.emplace_back();
    a.agent = std::make_unique<TunnelAgent>(io.get_executor(), std::move(settings), clock);
    auto started = a.agent->start();
    EXPECT_TRUE(started) << started.error().what();
    a.done = std::make_shared<bool>(false);
    asio::co_spawn(io, a.agent->run(), [done = a.done](std::exception_ptr) { *done = true; });
    return *a.agent;
  }

  std::shared_ptr<net::TlsContext> client_tls(const TlsFiles& files) {
    net::TlsClientOptions o;
    o.credentials = pki.credentials(files);
    return *net::TlsContext::client(std::move(o));
  }

  ConnectOutcome via_uds(const std::string& target, const std::string& payload = "hello") {
    return run(io, uds_connect(dir.path() / "egress.sock", connect_request(target), payload));
  }

  std::string echo_target(const std::string& host = "127.0.0.1") const {
    return host + ":" + std::to_string(echo_port);
  }

  double server_metric(std::string_view name, const Metrics::Labels& labels) {
    return server->metrics().value(name, labels);
  }

  asio::io_context io;
  SystemClock clock;
  TempDir dir;
  Pki pki;
  kube::FakeListerWatcher nodes;
  tcp::acceptor echo;
  std::uint16_t echo_port = 0;
  TlsFiles server_files, edge1_files, apiserver_files;
  std::unique_ptr<TunnelServer> server;
  std::shared_ptr<bool> server_done;
  std::uint16_t agent_port = 0;
  struct RunningAgent {
    std::unique_ptr<TunnelAgent> agent;
    std::shared_ptr<bool> done;
  };
  std::vector<RunningAgent> agents;
};

// ---- egress CONNECT ----

TEST_F(TunnelTest, EgressOverUnixSocketAnswersExactly200AndCarriesBothWays) {
  start_server(server_settings());
  auto& agent = start_agent(agent_settings("edge-1", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1 && agent.connected() == 1; }));
  EXPECT_EQ(agent.state(agent_settings("edge-1", edge1_files).servers[0]), LinkState::Connected);

  const auto payload = pattern(300 * 1024, 1);
  for (const auto& target : {echo_target(), "edge-1:" + std::to_string(echo_port)}) {
    auto out = via_uds(target, payload);
    EXPECT_EQ(out.head, "HTTP/1.1 200 Connection established\r\n\r\n") << target;
    EXPECT_TRUE(out.echoed == payload) << target << ": " << out.echoed.size() << " bytes back";
  }
  ASSERT_TRUE(wait_until(io, [&] {
    return server_metric("yurt_tunnel_server_streams_open", {{"entry", "egress"}}) == 0;
  }));
  EXPECT_EQ(
      server_metric("yurt_tunnel_server_streams_total", {{"entry", "egress"}, {"route", "tunnel"}}),
      2);
  EXPECT_EQ(server_metric("yurt_tunnel_server_bytes_total",
                          {{"entry", "egress"}, {"direction", "from_node"}}),
            2.0 * payload.size());
}

TEST_F(TunnelTest, EgressOverTlsOnlyForTheApiserversCertificate) {
  start_server(server_settings());
  start_agent(agent_settings("edge-1", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1; }));
  const auto port = server->egress_port();

  auto ok = run(io, tls_connect(port, client_tls(apiserver_files), echo_target(), "over tls"));
  EXPECT_EQ(ok.head, "200");
  EXPECT_EQ(ok.echoed, "over tls");

  // A node's certificate is from the same CA but may not reach other nodes' kubelets.
  auto node_cert = run(io, tls_connect(port, client_tls(edge1_files), echo_target(), "x"));
  EXPECT_EQ(node_cert.head, "403");
  EXPECT_NE(node_cert.body.find("CN \"system:node:edge-1\" may not use the egress entry"),
            std::string::npos)
      << node_cert.body;

  net::TlsClientOptions anonymous;
  anonymous.credentials.ca_bundle = pki.ca->certificate_pem();
  auto no_cert = run(
      io, tls_connect(port, *net::TlsContext::client(std::move(anonymous)), echo_target(), "x"));
  EXPECT_FALSE(no_cert.connected);
  EXPECT_TRUE(no_cert.head.starts_with("error")) << no_cert.head;
  EXPECT_EQ(server_metric("yurt_tunnel_server_dial_failures_total",
                          {{"entry", "egress"}, {"reason", "unauthorized"}}),
            1);
}

TEST_F(TunnelTest, RefusesEverythingThatIsNotAnAllowedPortOfAConnectedNode) {
  start_server(server_settings());
  start_agent(agent_settings("edge-1", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1; }));

  struct Case {
    std::string request;
    std::string status;
    std::string reason;  // in the body
  };
  const std::vector<Case> cases = {
      {connect_request("10.96.0.1:10250"), "HTTP/1.1 403", "is not an address of any node"},
      {connect_request("10.96.0.1:443"), "HTTP/1.1 403", "port 443 is not allowed"},
      {connect_request("192.0.2.1:10250"), "HTTP/1.1 403", "is not an address of any node"},
      {connect_request("127.0.0.1:22"), "HTTP/1.1 403", "port 22 is not allowed"},
      {connect_request("127.0.0.3:10250"), "HTTP/1.1 503", "edge node edge-2 has no tunnel agent"},
      {connect_request("no-port"), "HTTP/1.1 400", "destination"},
      {connect_request("127.0.0.1:99999"), "HTTP/1.1 400", "destination"},
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405", "only CONNECT"},
  };
  for (const auto& c : cases) {
    auto out = run(io, uds_connect(dir.path() / "egress.sock", c.request, "x"));
    EXPECT_FALSE(out.connected) << c.request;
    EXPECT_TRUE(out.head.starts_with(c.status)) << c.request << " → " << out.head;
    EXPECT_NE(out.body.find(c.reason), std::string::npos) << c.request << " → " << out.body;
  }
  // Malformed request lines: a 400 and a closed connection, never a crash.
  for (const std::string& garbage :
       {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15),
        std::string("CONNECT\r\n\r\n"), std::string("CONNECT a b c d\r\n\r\n"),
        std::string(70000, 'A') + "\r\n\r\n"}) {
    auto out = run(io, uds_connect(dir.path() / "egress.sock", garbage, "x"));
    EXPECT_FALSE(out.connected) << garbage.substr(0, 20);
    EXPECT_TRUE(out.head.empty() || out.head.starts_with("HTTP/1.1 4")) << out.head;
  }
  EXPECT_EQ(server_metric("yurt_tunnel_server_dial_failures_total",
                          {{"entry", "egress"}, {"reason", "not_a_node"}}),
            2);
  EXPECT_EQ(server_metric("yurt_tunnel_server_dial_failures_total",
                          {{"entry", "egress"}, {"reason", "port_not_allowed"}}),
            2);
  EXPECT_EQ(server_metric("yurt_tunnel_server_dial_failures_total",
                          {{"entry", "egress"}, {"reason", "no_agent"}}),
            1);
  // Still serving.
  EXPECT_EQ(via_uds(echo_target()).echoed, "hello");
}

TEST_F(TunnelTest, BadInputOnTheAgentEntryClosesThatConnectionOnly) {
  start_server(server_settings());
  auto& agent = start_agent(agent_settings("edge-1", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1 && agent.connected() == 1; }));
  const auto port = server->agent_port();

  // Not TLS at all: plain HTTP, random-looking bytes.
  EXPECT_EQ(run(io, tcp_send_until_closed(port, "GET /v1/tunnel HTTP/1.1\r\n\r\n")), "closed");
  EXPECT_EQ(run(io, tcp_send_until_closed(port, std::string(4096, '\xff'))), "closed");

  // TLS with a valid node certificate and the upgrade, then no tunnel protocol: garbage, another
  // protocol version, a frame cut off in its header, a frame cut off in its payload, a frame
  // longer than the protocol allows.
  const std::string preface(tunnel::preface());
  std::string newer = preface;
  newer[5] = static_cast<char>(newer[5] + 1);  // version, big-endian u16 after "YTUN"
  // Header: type, flags, stream id (u32), payload length (u32), big-endian.
  const std::string hello_of_32 = std::string("\x01\x00\x00\x00\x00\x00\x00\x00\x00\x20", 10);
  const std::string hello_of_1mib = std::string("\x01\x00\x00\x00\x00\x00\x00\x10\x00\x00", 10);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"garbage", std::string("\x00\x01garbage that is no preface\r\n", 30)},
      {"newer version", newer},
      {"truncated header", preface + std::string("\x01\x00", 2)},
      {"truncated payload", preface + hello_of_32 + "short"},
      {"oversized frame", preface + hello_of_1mib + std::string(1024, 'x')},
  };
  auto tls = client_tls(edge1_files);
  for (const auto& [what, bytes] : cases) {
    EXPECT_EQ(run(io, upgrade_then_send(port, tls, bytes)), "closed") << what;
  }

  // The real agent was not disturbed, and new connections are still served.
  EXPECT_EQ(server->agents(), 1U);
  EXPECT_EQ(via_uds(echo_target(), "after the garbage").echoed, "after the garbage");
}

TEST_F(TunnelTest, CloudNodesAreDialledDirectly) {
  start_server(server_settings());
  auto out = via_uds(echo_target("127.0.0.2"), "to the cloud");
  EXPECT_EQ(out.head, "HTTP/1.1 200 Connection established\r\n\r\n");
  EXPECT_EQ(out.echoed, "to the cloud");
  EXPECT_EQ(
      server_metric("yurt_tunnel_server_streams_total", {{"entry", "egress"}, {"route", "direct"}}),
      1);
}

TEST_F(TunnelTest, TheAgentRefusesDestinationsOutsideItsOwnPolicy) {
  auto settings = server_settings();
  settings.extra_ports.push_back(9);  // the server would allow it; the agent does not
  start_server(settings);
  start_agent(agent_settings("edge-1", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1; }));
  auto out = via_uds("127.0.0.1:9");
  EXPECT_TRUE(out.head.starts_with("HTTP/1.1 502")) << out.head;
  EXPECT_NE(out.body.find("port 9 is not allowed on this node"), std::string::npos) << out.body;
}

// ---- agent identity ----

TEST_F(TunnelTest, AnAgentWithACertificateForAnotherNodeCannotServeIt) {
  start_server(server_settings());
  start_agent(agent_settings("edge-1", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1; }));
  // edge-1's certificate, claiming to be edge-2.
  auto& impostor = start_agent(agent_settings("edge-2", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] {
    return server_metric("yurt_tunnel_server_agent_rejections_total",
                         {{"reason", "node_mismatch"}}) >= 2;
  }));
  EXPECT_EQ(impostor.connected(), 0U);
  EXPECT_EQ(server->agents(), 1U);
  auto out = via_uds("127.0.0.3:" + std::to_string(echo_port));
  EXPECT_TRUE(out.head.starts_with("HTTP/1.1 503")) << out.head;
}

TEST_F(TunnelTest, AgentsWithoutAValidNodeCertificateAreRejected) {
  start_server(server_settings());
  // A certificate from another CA: the TLS handshake fails.
  auto rogue = pki.issue("rogue", "system:node:edge-2", {"system:nodes"}, false, true);
  auto& a = start_agent(agent_settings("edge-2", rogue));
  ASSERT_TRUE(wait_until(io, [&] {
    return a.metrics().value(
               "yurt_tunnel_agent_connects_total",
               {{"server", "127.0.0.1:" + std::to_string(agent_port)}, {"result", "failed"}}) >= 2;
  }));
  EXPECT_EQ(a.connected(), 0U);
  // No certificate at all: also the handshake.
  net::TlsClientOptions anonymous;
  anonymous.credentials.ca_bundle = pki.ca->certificate_pem();
  auto none =
      run(io, try_tunnel_upgrade(agent_port, *net::TlsContext::client(std::move(anonymous))));
  EXPECT_TRUE(none.starts_with("error: ")) << none;
  // The cluster's CA, but not a node identity: refused before the upgrade.
  auto not_a_node = run(io, try_tunnel_upgrade(agent_port, client_tls(apiserver_files)));
  EXPECT_TRUE(not_a_node.starts_with("403 ")) << not_a_node;
  EXPECT_NE(not_a_node.find("is not a node identity"), std::string::npos);
  EXPECT_EQ(server->agents(), 0U);
}

// ---- faults ----

TEST_F(TunnelTest, AgentsComeBackAfterTheServerRestarts) {
  auto settings = server_settings();
  start_server(settings);
  auto& agent = start_agent(agent_settings("edge-1", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1; }));
  stop_server();
  ASSERT_TRUE(wait_until(io, [&] { return agent.connected() == 0; }));
  settings.agents.port = agent_port;  // the same address, as a restarted pod has
  start_server(settings);
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1 && agent.connected() == 1; }));
  EXPECT_EQ(via_uds(echo_target()).echoed, "hello");
}

TEST_F(TunnelTest, TwoHundredStreamsCompleteWhileOneReaderStalls) {
  start_server(server_settings());
  start_agent(agent_settings("edge-1", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1; }));
  const auto path = dir.path() / "egress.sock";
  // The stalled client sends 8 MiB and never reads the echo: the echo server blocks, then the
  // agent's and server's windows for that stream fill up.
  auto stalled = std::make_shared<uds::socket>(io);
  auto stall = [](std::shared_ptr<uds::socket> s, std::filesystem::path p,
                  std::string request) -> asio::awaitable<void> {
    co_await s->async_connect(uds::endpoint(p.string()), kUse);
    co_await asio::async_write(*s, asio::buffer(request), kUse);
    auto big = std::make_shared<std::string>(8 << 20, 's');
    co_await asio::async_write(*s, asio::buffer(*big), kUse);
  };
  asio::co_spawn(io, stall(stalled, path, connect_request(echo_target())), asio::detached);
  ASSERT_TRUE(wait_until(io, [&] {
    return server_metric("yurt_tunnel_server_streams_open", {{"entry", "egress"}}) == 1;
  }));
  int completed = 0;
  auto one = [](std::filesystem::path p, std::string request, std::string payload,
                int* done) -> asio::awaitable<void> {
    auto out = co_await uds_connect(p, std::move(request), payload);
    if (out.echoed == payload) {
      ++*done;
    }
  };
  for (int i = 0; i < 199; ++i) {
    asio::co_spawn(io, one(path, connect_request(echo_target()), pattern(64 * 1024, i), &completed),
                   asio::detached);
  }
  EXPECT_TRUE(wait_until(
      io, [&] { return completed == 199; }, 30s))
      << completed << " of 199";
  EXPECT_EQ(server_metric("yurt_tunnel_server_streams_open", {{"entry", "egress"}}), 1);
  stalled->close();
}

// ---- DNAT ----

TEST_F(TunnelTest, DnatEntryCarriesRedirectedConnectionsAndKeepsRulesInSync) {
  RecordingRunner runner;
  std::optional<tcp::endpoint> original;  // what SO_ORIGINAL_DST "says"
  ServerHooks hooks;
  hooks.runner = &runner;
  hooks.original_destination = [&](tcp::socket& s) -> Result<tcp::endpoint> {
    if (!original) {
      return s.local_endpoint();  // as conntrack answers for a connection nobody redirected
    }
    return *original;
  };
  auto settings = server_settings();
  settings.iptables.enabled = true;
  start_server(settings, hooks);
  const auto secure = server->secure_port();
  auto& agent = start_agent(agent_settings("edge-1", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1; }));

  const auto rule =
      "-A YURT-TUNNEL -d 127.0.0.1/32 -p tcp -m tcp --dport 10250 -m comment "
      "--comment \"yurt-tunnel edge-1\" -j DNAT --to-destination 127.0.0.1:" +
      std::to_string(secure);
  ASSERT_TRUE(wait_until(io, [&] { return runner.last_restore().find(rule) != std::string::npos; }))
      << runner.last_restore();
  // edge-2 has no agent and cloud-1 is a cloud node: no rules for them.
  EXPECT_EQ(runner.last_restore().find("127.0.0.3"), std::string::npos);
  EXPECT_EQ(runner.last_restore().find("127.0.0.2"), std::string::npos);

  original = tcp::endpoint(asio::ip::make_address("127.0.0.1"), echo_port);
  EXPECT_EQ(run(io, dnat_roundtrip(secure, "through dnat")), "through dnat");
  // Not redirected, a cloud node, a port outside the policy: closed without a byte.
  original.reset();
  EXPECT_EQ(run(io, dnat_roundtrip(secure, "x")), "");
  original = tcp::endpoint(asio::ip::make_address("127.0.0.2"), echo_port);
  EXPECT_EQ(run(io, dnat_roundtrip(secure, "x")), "");
  original = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 22);
  EXPECT_EQ(run(io, dnat_roundtrip(server->insecure_port(), "x")), "");
  EXPECT_EQ(server_metric("yurt_tunnel_server_dial_failures_total",
                          {{"entry", "dnat"}, {"reason", "not_redirected"}}),
            1);
  EXPECT_EQ(
      server_metric("yurt_tunnel_server_streams_total", {{"entry", "dnat"}, {"route", "tunnel"}}),
      1);

  // The agent goes: its rules go.
  agent.stop();
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 0; }));
  ASSERT_TRUE(wait_until(io, [&] {
    auto last = runner.last_restore();
    return !last.empty() && last.find("-A YURT-TUNNEL") == std::string::npos;
  }));
  // Stopping removes the jump and the chain.
  stop_server();
  auto commands = runner.commands();
  ASSERT_GE(commands.size(), 3U);
  EXPECT_NE(commands[commands.size() - 2].find("-F YURT-TUNNEL"), std::string::npos);
  EXPECT_NE(commands.back().find("-X YURT-TUNNEL"), std::string::npos);
}

TEST_F(TunnelTest, AfterARestartThePredecessorsRulesStayAndConnectionsWaitForTheirAgent) {
  RecordingRunner runner;
  std::optional<tcp::endpoint> original;
  ServerHooks hooks;
  hooks.runner = &runner;
  hooks.original_destination = [&](tcp::socket&) -> Result<tcp::endpoint> { return *original; };
  // The chain a killed server left: edge-2 (its agent about to come back) and a node gone since.
  runner.listing = [&] {
    const auto to = "127.0.0.1:" + std::to_string(server->insecure_port());
    return "-N YURT-TUNNEL\n"
           "-A YURT-TUNNEL -d 127.0.0.3/32 -p tcp -m tcp --dport " +
           std::to_string(echo_port) + " -m comment --comment \"yurt-tunnel edge-2\" -j DNAT " +
           "--to-destination " + to + "\n" +
           "-A YURT-TUNNEL -d 127.0.0.9/32 -p tcp -m tcp --dport " + std::to_string(echo_port) +
           " -m comment --comment \"yurt-tunnel gone\" -j DNAT --to-destination " + to + "\n";
  };
  auto settings = server_settings();
  settings.iptables.enabled = true;
  settings.reconnect_grace = 3s;
  start_server(settings, hooks);
  const auto kept = [&](const std::string& node) {
    return runner.last_restore().find("\"yurt-tunnel " + node + "\"") != std::string::npos;
  };
  ASSERT_TRUE(wait_until(io, [&] { return kept("edge-2") && kept("gone"); }))
      << runner.last_restore();

  // A connection for edge-2 before its agent is back waits for it, then goes through.
  original = tcp::endpoint(asio::ip::make_address("127.0.0.3"), echo_port);
  auto answer = std::make_shared<std::optional<std::string>>();
  asio::co_spawn(io, dnat_roundtrip(server->insecure_port(), "waited for the agent"),
                 [answer](std::exception_ptr, std::string out) { *answer = std::move(out); });
  EXPECT_FALSE(wait_until(
      io, [&] { return answer->has_value(); }, 300ms));
  auto edge2_files = pki.issue("edge-2", "system:node:edge-2", {"system:nodes"}, false);
  start_agent(agent_settings("edge-2", edge2_files));
  ASSERT_TRUE(wait_until(io, [&] { return answer->has_value(); }));
  EXPECT_EQ(**answer, "waited for the agent");

  // The grace over: the rule of the node that did not come back goes; edge-2's stays (its own
  // now), and a node without an agent is refused at once.
  ASSERT_TRUE(wait_until(
      io, [&] { return !kept("gone"); }, 10s));
  EXPECT_TRUE(kept("edge-2")) << runner.last_restore();
  original = tcp::endpoint(asio::ip::make_address("127.0.0.1"), echo_port);
  EXPECT_EQ(run(io, dnat_roundtrip(server->insecure_port(), "x")), "");
  EXPECT_EQ(server_metric("yurt_tunnel_server_dial_failures_total",
                          {{"entry", "dnat"}, {"reason", "no_agent"}}),
            1);
  stop_server();  // before `runner` goes
}

// ---- meta ----

TEST_F(TunnelTest, MetricsHealthAndReadiness) {
  start_server(server_settings());
  auto& agent = start_agent(agent_settings("edge-1", edge1_files));
  ASSERT_TRUE(wait_until(io, [&] { return server->agents() == 1 && agent.connected() == 1; }));
  EXPECT_EQ(run(io, http_get(server->meta_port(), "/healthz")), "200 ok\n");
  EXPECT_EQ(run(io, http_get(server->meta_port(), "/readyz")), "200 ok\n");
  auto metrics = run(io, http_get(server->meta_port(), "/metrics"));
  EXPECT_NE(metrics.find("yurt_tunnel_server_agents_connected 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("yurt_tunnel_server_nodes_known 3\n"), std::string::npos);
  auto agent_metrics = run(io, http_get(agent.meta_port(), "/metrics"));
  EXPECT_NE(agent_metrics.find("yurt_tunnel_agent_connected{server=\"127.0.0.1:" +
                               std::to_string(agent_port) + "\"} 1"),
            std::string::npos)
      << agent_metrics;
  EXPECT_EQ(run(io, http_get(agent.meta_port(), "/readyz")), "200 ok\n");
}

}  // namespace
}  // namespace yurt::tunnel_app
