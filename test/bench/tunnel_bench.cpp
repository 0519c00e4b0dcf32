// Issue 5's benchmark, in one run and side by side (not a test; `cmake --build <dir> --target
// tunnel_bench`, best from a Release build):
//   - throughput of one connection through server + agent (CONNECT over the Unix socket) versus
//     a direct TCP connection to the same sink server;
//   - latency of a 64-byte request/response, through the tunnel versus direct, and the setup
//     time of a stream (CONNECT → 200) versus a TCP connect;
//   - the server's resident memory per idle agent connection (agents in a child process).
// Server, agent, sink and client each get their own thread and io_context.
//
//   tunnel_bench [--mib N] [--round-trips N] [--idle-agents N]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/base/fs.hpp"
#include "yurt/base/log.hpp"
#include "yurt/certs/authority.hpp"
#include "yurt/net/any_stream.hpp"

#include "src/apps/tunnel/agent.hpp"
#include "src/apps/tunnel/server.hpp"
#include "test/fakes/fake_lister_watcher.hpp"
#include "test/fakes/temp_dir.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using uds = asio::local::stream_protocol;
using yurt::tunnel_app::AgentSettings;
using yurt::tunnel_app::ServerSettings;
using yurt::tunnel_app::TlsFiles;
using Clock = std::chrono::steady_clock;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// ---- the sink: 'D' + 8-byte length → that many bytes; 'E' → echo until EOF ----

asio::awaitable<void> sink_connection(tcp::socket s) {
  char mode = 0;
  auto [ec, n] = co_await asio::async_read(s, asio::buffer(&mode, 1), kUse);
  if (ec) {
    co_return;
  }
  std::vector<char> buf(256 * 1024, 'x');
  if (mode == 'D') {
    std::uint64_t left = 0;
    co_await asio::async_read(s, asio::buffer(&left, sizeof left), kUse);
    while (left > 0) {
      auto chunk = std::min<std::uint64_t>(left, buf.size());
      auto [wec, w] = co_await asio::async_write(s, asio::buffer(buf.data(), chunk), kUse);
      if (wec) {
        co_return;
      }
      left -= chunk;
    }
    s.shutdown(tcp::socket::shutdown_send);
    co_return;
  }
  for (;;) {
    auto [rec, r] = co_await s.async_read_some(asio::buffer(buf), kUse);
    if (rec) {
      co_return;
    }
    co_await asio::async_write(s, asio::buffer(buf.data(), r), kUse);
  }
}

asio::awaitable<void> sink(tcp::acceptor& a) {
  for (;;) {
    auto [ec, s] = co_await a.async_accept(kUse);
    if (ec) {
      co_return;
    }
    s.set_option(tcp::no_delay(true));
    asio::co_spawn(a.get_executor(), sink_connection(std::move(s)), asio::detached);
  }
}

// ---- client side ----

struct Target {
  bool tunnel = false;
  std::filesystem::path egress;  // CONNECT over this socket when tunnel
  std::uint16_t port = 0;        // the sink
};

/// Connects to the sink, directly or through CONNECT; returns a stream ready for the protocol.
asio::awaitable<yurt::net::AnyStream> connect_to(Target t) {
  auto ex = co_await asio::this_coro::executor;
  if (!t.tunnel) {
    tcp::socket s(ex);
    co_await s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), t.port),
                             asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
    co_return yurt::net::AnyStream::wrap(std::move(s));
  }
  uds::socket s(ex);
  co_await s.async_connect(uds::endpoint(t.egress.string()), asio::use_awaitable);
  auto request =
      "CONNECT 127.0.0.1:" + std::to_string(t.port) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  co_await asio::async_write(s, asio::buffer(request), asio::use_awaitable);
  std::string head;
  char c = 0;
  while (head.find("\r\n\r\n") == std::string::npos) {
    co_await asio::async_read(s, asio::buffer(&c, 1), asio::use_awaitable);
    head += c;
  }
  if (!head.starts_with("HTTP/1.1 200")) {
    throw std::runtime_error("CONNECT refused: " + head);
  }
  co_return yurt::net::AnyStream::wrap(std::move(s));
}

asio::awaitable<double> download(Target t, std::uint64_t bytes) {
  const auto t0 = Clock::now();
  auto s = co_await connect_to(t);
  char mode = 'D';
  co_await asio::async_write(s, asio::buffer(&mode, 1), asio::use_awaitable);
  co_await asio::async_write(s, asio::buffer(&bytes, sizeof bytes), asio::use_awaitable);
  std::vector<char> buf(256 * 1024);
  std::uint64_t got = 0;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), kUse);
    got += n;
    if (ec) {
      break;
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (got != bytes) {
    throw std::runtime_error("short download: " + std::to_string(got));
  }
  co_return static_cast<double>(bytes) / secs / (1024.0 * 1024.0);
}

asio::awaitable<std::vector<double>> round_trips(Target t, int count) {
  auto s = co_await connect_to(t);
  char mode = 'E';
  co_await asio::async_write(s, asio::buffer(&mode, 1), asio::use_awaitable);
  std::vector<double> us;
  std::array<char, 64> msg{};
  for (int i = 0; i < count; ++i) {
    const auto t0 = Clock::now();
    co_await asio::async_write(s, asio::buffer(msg), asio::use_awaitable);
    co_await asio::async_read(s, asio::buffer(msg), asio::use_awaitable);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  co_return us;
}

/// Time to a usable connection: TCP connect, or CONNECT until the 200 (the agent has dialled).
asio::awaitable<std::vector<double>> setups(Target t, int count) {
  std::vector<double> us;
  for (int i = 0; i < count; ++i) {
    const auto t0 = Clock::now();
    auto s = co_await connect_to(t);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  co_return us;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

template <class T>
T run_on(asio::io_context& io, asio::awaitable<T> coro) {
  std::optional<T> value;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(coro), [&](std::exception_ptr e, T v) {
    error = e;
    value = std::move(v);
  });
  io.restart();
  io.run();
  if (error) {
    std::rethrow_exception(error);
  }
  return std::move(*value);
}

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return 0;
}

TlsFiles issue(const yurt::certs::CertificateAuthority& ca,
               const std::filesystem::path& dir,
               const std::string& name,
               const std::string& cn,
               bool server) {
  yurt::certs::IssueOptions o;
  o.subject = {cn, server ? std::vector<std::string>{} : std::vector<std::string>{"system:nodes"}};
  if (server) {
    o.ip_addresses = {"127.0.0.1"};
  }
  o.usages = {yurt::certs::Usage::DigitalSignature, yurt::certs::Usage::KeyEncipherment,
              server ? yurt::certs::Usage::ServerAuth : yurt::certs::Usage::ClientAuth};
  auto issued = ca.issue(o);
  TlsFiles f{dir / (name + ".crt"), dir / (name + ".key"), dir / "ca.crt"};
  (void)yurt::fs::atomic_write(f.cert_file, issued->certificate_pem);
  (void)yurt::fs::atomic_write(f.key_file, issued->key.pem());
  return f;
}

AgentSettings agent_settings(const std::string& node, TlsFiles files, std::uint16_t server_port) {
  AgentSettings s;
  s.node_name = node;
  s.servers = {"127.0.0.1:" + std::to_string(server_port)};
  s.tls = std::move(files);
  s.meta = {"", 0};
  return s;
}

int arg(int argc, char** argv, const char* name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) {
      return std::atoi(argv[i + 1]);
    }
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t bytes = static_cast<std::uint64_t>(arg(argc, argv, "--mib", 512)) << 20;
  const int trips = arg(argc, argv, "--round-trips", 2000);
  const int idle = arg(argc, argv, "--idle-agents", 1000);
  yurt::log::setup(yurt::log::Format::Text, 0);
  for (const auto* name : {"tunnel-server", "tunnel-agent", "tunnel", "net", "kube"}) {
    yurt::log::get(name).set_level(spdlog::level::warn);  // 1000 agents connecting: quiet
  }
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);

  // Certificates first, while single-threaded: the idle fleet is forked off below.
  yurt::SystemClock clock;
  yurt::TempDir dir;
  auto ca = yurt::certs::CertificateAuthority::create_root({"bench CA", {}}, std::chrono::hours(24),
                                                           clock);
  (void)yurt::fs::atomic_write(dir / "ca.crt", ca->certificate_pem());
  auto server_files = issue(*ca, dir.path(), "server", "yurt-tunnel-server", true);
  auto bench_files = issue(*ca, dir.path(), "bench", "system:node:bench", false);
  std::vector<TlsFiles> fleet_files;
  for (int i = 0; i < idle; ++i) {
    auto name = "idle-" + std::to_string(i);
    fleet_files.push_back(issue(*ca, dir.path(), name, "system:node:" + name, false));
  }
  int to_fleet[2];
  if (pipe(to_fleet) != 0) {
    return 1;
  }
  const pid_t fleet = fork();
  if (fleet == 0) {
    // The idle agents: wait for the server's port, connect, stay until killed.
    close(to_fleet[1]);
    std::uint16_t port = 0;
    if (read(to_fleet[0], &port, sizeof port) != sizeof port) {
      _exit(1);
    }
    asio::io_context io(1);
    std::vector<std::unique_ptr<yurt::tunnel_app::TunnelAgent>> agents;
    for (int i = 0; i < idle; ++i) {
      agents.push_back(std::make_unique<yurt::tunnel_app::TunnelAgent>(
          io.get_executor(), agent_settings("idle-" + std::to_string(i), fleet_files[i], port),
          clock));
      asio::co_spawn(io, agents.back()->run(), asio::detached);
    }
    io.run();
    _exit(0);
  }
  close(to_fleet[0]);

  // Sink, server and the measured agent, each on its own thread.
  asio::io_context sink_io(1);
  asio::io_context server_io(1);
  asio::io_context agent_io(1);
  auto sink_guard = asio::make_work_guard(sink_io);
  auto server_guard = asio::make_work_guard(server_io);
  auto agent_guard = asio::make_work_guard(agent_io);
  tcp::acceptor acceptor(sink_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto sink_port = acceptor.local_endpoint().port();
  asio::co_spawn(sink_io, sink(acceptor), asio::detached);

  yurt::kube::FakeListerWatcher nodes(server_io.get_executor());
  nodes.add(
      {{"metadata", {{"name", "bench"}, {"labels", {{"openyurt.io/is-edge-worker", "true"}}}}},
       {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", "127.0.0.1"}}}}}}});
  ServerSettings ss;
  ss.agents = {"127.0.0.1", 0};
  ss.egress_tcp = false;
  ss.egress_uds = dir / "egress.sock";
  ss.meta = {"127.0.0.1", 0};
  ss.tls = server_files;
  ss.extra_ports = {sink_port};
  ss.drain_timeout = std::chrono::milliseconds(500);
  ss.session.max_streams = 1024;
  yurt::tunnel_app::TunnelServer server(server_io.get_executor(), ss, clock, nodes);
  if (auto r = server.start(); !r) {
    std::fprintf(stderr, "server: %s\n", r.error().what().c_str());
    return 1;
  }
  asio::co_spawn(server_io, server.run(), asio::detached);
  auto as = agent_settings("bench", bench_files, server.agent_port());
  as.extra_ports = {sink_port};
  yurt::tunnel_app::TunnelAgent agent(agent_io.get_executor(), as, clock);
  asio::co_spawn(agent_io, agent.run(), asio::detached);
  std::thread sink_thread([&] { sink_io.run(); });
  std::thread server_thread([&] { server_io.run(); });
  std::thread agent_thread([&] { agent_io.run(); });
  while (server.agents() < 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  asio::io_context client;
  const Target direct{false, {}, sink_port};
  const Target tunnel{true, dir / "egress.sock", sink_port};
  auto measure_throughput = [&](Target t) {
    std::vector<double> runs;
    for (int i = 0; i < 3; ++i) {
      runs.push_back(run_on(client, download(t, bytes)));
    }
    return percentile(runs, 0.5);
  };
  auto measure_latency = [&](Target t) { return run_on(client, round_trips(t, trips)); };
  auto measure_setup = [&](Target t) { return run_on(client, setups(t, 200)); };

  const double direct_mibs = measure_throughput(direct);
  const double tunnel_mibs = measure_throughput(tunnel);
  const auto direct_rt = measure_latency(direct);
  const auto tunnel_rt = measure_latency(tunnel);
  const auto direct_setup = measure_setup(direct);
  const auto tunnel_setup = measure_setup(tunnel);

  malloc_trim(0);  // both figures without free heap the allocator keeps (see below)
  const long before = rss_kib();
  auto port = server.agent_port();
  (void)!write(to_fleet[1], &port, sizeof port);
  const auto t0 = Clock::now();
  while (server.agents() < static_cast<std::size_t>(idle + 1) &&
         Clock::now() - t0 < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto connected = server.agents() - 1;
  // The server gives the handshakes' free heap back once no agent came or went for a second.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const long after = rss_kib();
  // What of it is still free heap the allocator keeps (should be ~nothing now).
  malloc_trim(0);
  const long trimmed = rss_kib();
  kill(fleet, SIGKILL);
  waitpid(fleet, nullptr, 0);

  std::printf("tunnel benchmark (server, agent, sink, client on separate threads; loopback)\n");
  std::printf("  throughput, one connection, %llu MiB download (median of 3):\n",
              static_cast<unsigned long long>(bytes >> 20));
  std::printf("    direct TCP        %8.1f MiB/s\n", direct_mibs);
  std::printf("    through tunnel    %8.1f MiB/s   (%.0f %% of direct)\n", tunnel_mibs,
              100.0 * tunnel_mibs / direct_mibs);
  std::printf("  64-byte request/response, %d round trips (p50 / p99):\n", trips);
  std::printf("    direct TCP        %8.1f / %8.1f us\n", percentile(direct_rt, 0.5),
              percentile(direct_rt, 0.99));
  std::printf("    through tunnel    %8.1f / %8.1f us   (added p50 %.1f us)\n",
              percentile(tunnel_rt, 0.5), percentile(tunnel_rt, 0.99),
              percentile(tunnel_rt, 0.5) - percentile(direct_rt, 0.5));
  std::printf("  new connection (TCP connect vs CONNECT → 200, agent dials the sink), p50:\n");
  std::printf("    direct TCP        %8.1f us\n    through tunnel    %8.1f us\n",
              percentile(direct_setup, 0.5), percentile(tunnel_setup, 0.5));
  std::printf("  server memory with %zu idle agent connections (TLS 1.3, one session each):\n",
              connected);
  std::printf(
      "    RSS before %ld KiB, after %ld KiB: %.1f KiB per idle agent\n", before, after,
      connected ? static_cast<double>(after - before) / static_cast<double>(connected) : 0.0);
  std::printf(
      "    after malloc_trim(0) %ld KiB: %.1f KiB per idle agent in use\n", trimmed,
      connected ? static_cast<double>(trimmed - before) / static_cast<double>(connected) : 0.0);

  server.stop();
  agent.stop();
  sink_guard.reset();
  server_guard.reset();
  agent_guard.reset();
  acceptor.close();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  sink_io.stop();
  server_io.stop();
  agent_io.stop();
  sink_thread.join();
  server_thread.join();
  agent_thread.join();
  return 0;
}
