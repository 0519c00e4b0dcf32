#include "src/apps/hub/app.hpp"

#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/base/log.hpp"
#include "yurt/base/shutdown.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/net/client.hpp"
#include "yurt/net/server.hpp"
#include "yurt/net/task_group.hpp"
#include "yurt/storage/disk_store.hpp"

#include "src/apps/hub/cert_manager.hpp"
#include "src/apps/hub/errc.hpp"
#include "src/apps/hub/hub_server.hpp"
#include "src/apps/hub/proxy.hpp"
#include "src/apps/hub/upstream.hpp"
#include "src/apps/hub/version.hpp"

namespace yurt::hub {

namespace asio = boost::asio;
namespace {

using tcp = asio::ip::tcp;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
/// How long start-up waits for a predecessor to release the cache.
constexpr std::chrono::seconds kCacheLockWait{10};

spdlog::logger& logger() {
  return log::get("hub");
}

/// GET /readyz without credentials (it is public on kubeadm clusters), verified with the
/// cluster CA once we know it; before that (first token bootstrap) unverified — a probe sends
/// nothing secret, and every real request verifies the server.
class HttpProber final : public Prober {
 public:
  HttpProber(net::HttpClient& client, UpstreamTls& tls, std::shared_ptr<net::TlsContext> insecure)
      : client_(client), tls_(tls), insecure_(std::move(insecure)) {}

  asio::awaitable<Result<void>> probe(ServerAddress server,
                                      std::chrono::milliseconds timeout) override {
    auto tls = tls_.anonymous();
    net::Origin origin{server.host, server.port, tls ? tls : insecure_};
    net::Request req;
    req.target = "/readyz";
    req.headers.set("Host", origin.authority());
    req.headers.set("User-Agent", std::string(kUserAgent));
    req.headers.set("Accept", "text/plain");
    auto r = co_await client_.request(origin, std::move(req), timeout);
    if (!r) {
      co_return r.error();
    }
    if (r->status != 200) {
      co_return fail(Errc::NoUpstream, server.url + "/readyz answered " +
                                           std::to_string(r->status) + " " +
                                           quote(r->body.substr(0, 200)));
    }
    co_return Result<void>{};
  }

 private:
  net::HttpClient& client_;
  UpstreamTls& tls_;
  std::shared_ptr<net::TlsContext> insecure_;
};

Result<tcp::endpoint> endpoint_of(const std::string& address, std::uint16_t port) {
  boost::system::error_code ec;
  auto a = asio::ip::make_address(address, ec);
  if (ec) {
    return fail(Errc::InvalidConfig, quote(address) + " is not an IP address");
  }
  return tcp::endpoint(a, port);
}

}  // namespace

struct App::Impl {
  Impl(HubSettings s, const Clock& c, bool with_signals)
      : settings(std::move(s)),
        clock(c),
        handle_signals(with_signals),
        short_requests(settings.max_requests_in_flight),
        long_requests(settings.max_long_running),
        tasks(main_io.get_executor()),
        stop_timer(main_io) {
    stop_timer.expires_at(asio::steady_timer::time_point::max());
  }

  Result<void> start();
  int run();
  asio::awaitable<void> main_loop();
  asio::awaitable<void> wait_for_signal();
  void on_serving(std::shared_ptr<net::TlsContext> tls);

  HubSettings settings;
  const Clock& clock;
  bool handle_signals;

  asio::io_context main_io;
  std::vector<std::unique_ptr<asio::io_context>> worker_ios;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;

  std::unique_ptr<storage::DiskStore> store;
  std::unique_ptr<CacheManager> cache;
  HubMetrics metrics;
  std::unique_ptr<Upstream> upstream;
  InFlight short_requests;
  InFlight long_requests;
  UpstreamTls tls;
  UpstreamClients clients;
  std::unique_ptr<CertManager> certs;
  std::unique_ptr<net::HttpClient> probe_client;
  std::unique_ptr<HttpProber> prober;
  ProxyShared shared;
  std::unique_ptr<ProxyHandler> proxy_handler;
  std::unique_ptr<ProxyHandler> secure_handler;
  std::unique_ptr<HubServer> hub_server;
  std::unique_ptr<net::Listener> serve_listener;
  std::unique_ptr<net::Listener> proxy_listener;
  std::unique_ptr<net::Listener> secure_listener;
  std::unique_ptr<ShutdownSignals> signals;

  net::TaskGroup tasks;
  asio::steady_timer stop_timer;
  std::atomic<bool> stop_requested{false};
  bool started = false;
  bool finished = false;
  std::atomic<std::uint16_t> proxy_port{0};
  std::atomic<std::uint16_t> secure_port{0};
  std::atomic<std::uint16_t> serve_port{0};
};

Result<void> App::Impl::start() {
  const auto t0 = std::chrono::steady_clock::now();
  // The cache first: it is what the node needs when the cloud is gone.
  auto opened = storage::DiskStore::open(settings.disk_cache_path);
  if (!opened && opened.error().code() == storage::Errc::Locked) {
    // A predecessor killed a moment ago holds the lock until its last thread has exited.
    logger().warn("cache {} is locked by another process; waiting up to {} s for it to exit",
                  settings.disk_cache_path.string(), kCacheLockWait.count());
    opened = storage::DiskStore::open(settings.disk_cache_path,
                                      storage::DiskStoreOptions{.lock_wait = kCacheLockWait});
  }
  if (!opened) {
    return fail(Errc::InvalidConfig,
                "open cache " + settings.disk_cache_path.string() + ": " + opened.error().what());
  }
  store = std::move(*opened);
  const auto& report = store->open_report();
  logger().info("cache {}: {} objects, {} bytes loaded; {} interrupted writes cleaned up",
                settings.disk_cache_path.string(), report.objects, report.bytes,
                report.removed_temp_files.size());
  for (std::size_t i = 0; i < report.junk.size() && i < 20; ++i) {
    logger().warn("cache: ignoring {}: {}", report.junk[i].path.string(), report.junk[i].reason);
  }
  if (report.junk.size() > 20) {
    logger().warn("cache: {} more unusable files ignored", report.junk.size() - 20);
  }
  auto manager = make_cache_manager(*store, settings.cache, clock);
  if (!manager) {
    return fail(Errc::InvalidConfig, "cache: " + manager.error().what());
  }
  cache = std::move(*manager);

  upstream = std::make_unique<Upstream>(settings.servers, settings.lb_mode);
  net::ClientSettings client_settings;
  // A dead apiserver must not hold a request longer than a probe would take to notice (D4).
  client_settings.connect_timeout = settings.heartbeat_timeout;
  for (std::size_t i = 0; i < settings.workers; ++i) {
    worker_ios.push_back(std::make_unique<asio::io_context>(1));
    guards.emplace_back(worker_ios.back()->get_executor());
    clients.add(worker_ios.back()->get_executor(), client_settings);
  }
  // The main executor runs the cache's and the cert manager's own requests through RestClient;
  // it needs no proxy client. Probes get one of their own.
  probe_client = std::make_unique<net::HttpClient>(main_io.get_executor(), client_settings);
  net::TlsClientOptions insecure_options;
  insecure_options.insecure_skip_verify = true;
  auto insecure = net::TlsContext::client(std::move(insecure_options));
  if (!insecure) {
    return insecure.error();
  }
  prober = std::make_unique<HttpProber>(*probe_client, tls, *insecure);

  certs = std::make_unique<CertManager>(settings.certs, tls, clients, clock);
  certs->load();

  shared.node_name = settings.node_name;
  shared.upstream = upstream.get();
  shared.cache = cache.get();
  shared.metrics = &metrics;
  shared.clients = &clients;
  shared.tls = &tls;
  shared.short_requests = &short_requests;
  shared.long_requests = &long_requests;
  shared.max_request_body = settings.max_request_body;
  shared.service_host = settings.service_host;
  shared.service_port = settings.proxy_secure_port;
  proxy_handler = std::make_unique<ProxyHandler>(shared, false);
  secure_handler = std::make_unique<ProxyHandler>(shared, true);
  hub_server = std::make_unique<HubServer>(HubServerSources{&metrics, upstream.get(), cache.get(),
                                                            store.get(), certs.get(),
                                                            &short_requests, &long_requests});

  std::vector<net::Executor> workers;
  for (auto& io : worker_ios) {
    workers.push_back(io->get_executor());
  }
  {
    auto ep = endpoint_of(settings.bind_address, settings.serve_port);
    if (!ep) {
      return ep.error();
    }
    net::ListenerConfig config;
    config.endpoint = *ep;
    auto l = net::Listener::bind(main_io.get_executor(), *hub_server, config);
    if (!l) {
      return fail(Errc::InvalidConfig, "hub server: " + l.error().what());
    }
    serve_listener = std::move(*l);
    serve_port = serve_listener->local_endpoint().port();
  }
  {
    auto ep = endpoint_of(settings.proxy_bind_address, settings.proxy_port);
    if (!ep) {
      return ep.error();
    }
    net::ListenerConfig config;
    config.endpoint = *ep;
    config.workers = workers;
    auto l = net::Listener::bind(main_io.get_executor(), *proxy_handler, config);
    if (!l) {
      return fail(Errc::InvalidConfig, "proxy: " + l.error().what());
    }
    proxy_listener = std::move(*l);
    proxy_port = proxy_listener->local_endpoint().port();
  }
  if (handle_signals) {
    signals = std::make_unique<ShutdownSignals>(main_io.get_executor());
  }
  started = true;
  logger().info(
      "yurthub {} for node {}: proxy http://{}:{}, hub server http://{}:{}, {} apiserver(s), "
      "started in {} ms",
      kVersion, settings.node_name, settings.proxy_bind_address, proxy_port.load(),
      settings.bind_address, serve_port.load(), settings.servers.size(),
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  return {};
}

void App::Impl::on_serving(std::shared_ptr<net::TlsContext> serving_tls) {
  if (secure_listener || stop_requested) {
    return;
  }
  auto ep = endpoint_of(settings.secure_bind_address, settings.proxy_secure_port);
  if (!ep) {
    logger().error("secure proxy: {}", ep.error().what());
    return;
  }
  net::ListenerConfig config;
  config.endpoint = *ep;
  config.tls = std::move(serving_tls);
  for (auto& io : worker_ios) {
    config.workers.push_back(io->get_executor());
  }
  auto l = net::Listener::bind(main_io.get_executor(), *secure_handler, config);
  if (!l) {
    logger().error("secure proxy: {}", l.error().what());
    return;
  }
  secure_listener = std::move(*l);
  secure_port = secure_listener->local_endpoint().port();
  tasks.spawn(main_io.get_executor(), secure_listener->run(), "secure-listener");
  logger().info("secure proxy https://{}:{} serving", settings.secure_bind_address,
                secure_port.load());
}

asio::awaitable<void> App::Impl::wait_for_signal() {
  const int signo = co_await signals->wait();
  logger().info("signal {} received", signo);
  stop_requested = true;
  stop_timer.cancel();
}

asio::awaitable<void> App::Impl::main_loop() {
  auto ex = co_await asio::this_coro::executor;
  while (!stop_requested) {
    co_await stop_timer.async_wait(kUse);
  }
  logger().info("stopping: requests in flight get {} ms", settings.drain_timeout.count());
  {
    net::TaskGroup stops(ex);
    for (auto* l : {serve_listener.get(), proxy_listener.get(), secure_listener.get()}) {
      if (l != nullptr) {
        stops.spawn(ex, l->stop(settings.drain_timeout), "listener-stop");
      }
    }
    co_await stops.async_wait();
  }
  tasks.emit(asio::cancellation_type::terminal);
  co_await tasks.async_wait();
  logger().info("stopped");
}

int App::Impl::run() {
  auto ex = main_io.get_executor();
  tasks.spawn(ex, serve_listener->run(), "serve-listener");
  tasks.spawn(ex, proxy_listener->run(), "proxy-listener");
  for (std::size_t i = 0; i < upstream->size(); ++i) {
    tasks.spawn(
        ex,
        upstream->run_probe(i, *prober, settings.heartbeat_interval, settings.heartbeat_timeout),
        "probe " + upstream->address(i).url);
  }
  tasks.spawn(ex,
              certs->run(*upstream,
                         [this](std::shared_ptr<net::TlsContext> t) { on_serving(std::move(t)); }),
              "certificates");
  if (signals) {
    tasks.spawn(ex, wait_for_signal(), "signals");
  }
  for (auto& io : worker_ios) {
    threads.emplace_back([io = io.get()] { io->run(); });
  }
  int code = 0;
  asio::co_spawn(main_io, main_loop(), [&code](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        logger().error("yurthub failed: {}", x.what());
      }
      code = 1;
    }
  });
  main_io.run();
  // Listeners are closed and tasks done: whatever the workers still hold (idle pooled
  // connections, timers) is abandoned.
  guards.clear();
  for (auto& io : worker_ios) {
    io->stop();
  }
  for (auto& t : threads) {
    t.join();
  }
  threads.clear();
  finished = true;
  return code;
}

App::App(HubSettings settings, const Clock& clock, bool handle_signals)
    : impl_(std::make_unique<Impl>(std::move(settings), clock, handle_signals)) {}

App::~App() {
  if (impl_->started && !impl_->finished) {
    // start() without run(): stop what start() bound.
    request_stop();
    (void)impl_->run();
  }
}

Result<void> App::start() {
  return impl_->start();
}

int App::run() {
  return impl_->run();
}

void App::request_stop() {
  impl_->stop_requested = true;
  asio::post(impl_->main_io, [impl = impl_.get()] { impl->stop_timer.cancel(); });
}

std::uint16_t App::proxy_port() const noexcept {
  return impl_->proxy_port.load();
}
std::uint16_t App::secure_port() const noexcept {
  return impl_->secure_port.load();
}
std::uint16_t App::serve_port() const noexcept {
  return impl_->serve_port.load();
}

}  // namespace yurt::hub
