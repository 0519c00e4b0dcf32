#include "src/apps/controller/app.hpp"

#include <atomic>
#include <optional>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/base/log.hpp"
#include "yurt/base/shutdown.hpp"
#include "yurt/kube/informer.hpp"
#include "yurt/kube/leader_elector.hpp"
#include "yurt/kube/lister_watcher.hpp"
#include "yurt/kube/rest_client.hpp"
#include "yurt/net/server.hpp"
#include "yurt/net/task_group.hpp"

#include "src/apps/controller/approver_controller.hpp"
#include "src/apps/controller/lifecycle_controller.hpp"
#include "src/apps/controller/metrics.hpp"
#include "src/apps/controller/node_lifecycle.hpp"
#include "src/apps/controller/side_by_side.hpp"

namespace yurt::controller {

namespace asio = boost::asio;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
// A second replica on the same host (hostNetwork) finds the port taken; it retries this often so
// it serves /metrics once the first one is gone.
constexpr auto kBindRetry = std::chrono::seconds(5);

spdlog::logger& logger() {
  return log::get("controller");
}

bool cancelled(asio::cancellation_state cs) {
  return cs.cancelled() != asio::cancellation_type::none;
}

/// /healthz, /readyz, /metrics.
class HttpHandler final : public net::Handler {
 public:
  HttpHandler(const ControllerMetrics& metrics,
              const NodeLifecycle* lifecycle,
              std::function<bool()> ready)
      : metrics_(metrics), lifecycle_(lifecycle), ready_(std::move(ready)) {}

  asio::awaitable<void> handle(net::ServerExchange& exchange) override {
    const auto& req = exchange.request();
    const std::string_view path = std::string_view(req.target).substr(0, req.target.find('?'));
    net::Response res;
    res.headers.set("Content-Type", "text/plain; charset=utf-8");
    if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.body = "method not allowed\n";
    } else if (path == "/healthz" || path == "/livez") {
      res.body = "ok\n";
    } else if (path == "/readyz") {
      const bool ok = ready_();
      res.status = ok ? 200 : 503;
      res.body = ok ? "ok\n" : "informers not synced\n";
    } else if (path == "/metrics") {
      res.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      res.body = metrics_.render(lifecycle_);
    } else {
      res.status = 404;
      res.body = "not found\n";
    }
    (void)co_await exchange.respond(std::move(res));
  }

 private:
  const ControllerMetrics& metrics_;
  const NodeLifecycle* lifecycle_;
  std::function<bool()> ready_;
};

}  // namespace

struct App::Impl {
  Impl(ControllerSettings s, const Clock& c, bool with_signals)
      : settings(std::move(s)),
        clock(c),
        handle_signals(with_signals),
        core(settings.lifecycle, clock),
        leading(io.get_executor()),
        tasks(io.get_executor()),
        stop_timer(io) {
    stop_timer.expires_at(asio::steady_timer::time_point::max());
  }

  Result<void> start();
  int run();
  asio::awaitable<void> main_loop();
  asio::awaitable<void> elect_loop();
  asio::awaitable<void> lead();
  asio::awaitable<void> serve_http();
  asio::awaitable<void> wait_for_signal();
  [[nodiscard]] bool synced() const;

  ControllerSettings settings;
  const Clock& clock;
  bool handle_signals;
  asio::io_context io{1};

  ControllerMetrics metrics;
  NodeLifecycle core;
  std::unique_ptr<kube::RestClient> client;
  std::unique_ptr<kube::RestListerWatcher> node_lw;
  std::unique_ptr<kube::RestListerWatcher> lease_lw;
  std::unique_ptr<kube::RestListerWatcher> csr_lw;
  std::unique_ptr<kube::Informer> nodes;
  std::unique_ptr<kube::Informer> leases;
  std::unique_ptr<kube::Informer> csrs;
  std::unique_ptr<LifecycleController> lifecycle;
  std::unique_ptr<ApproverController> approver;
  std::unique_ptr<kube::RestLeaseLock> lock;
  std::unique_ptr<HttpHandler> handler;
  std::unique_ptr<net::Listener> listener;
  std::unique_ptr<ShutdownSignals> signals;

  net::TaskGroup leading;  // the election and, while leading, the controllers
  net::TaskGroup tasks;    // informers, the listener, signals
  asio::steady_timer stop_timer;
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> leader{false};
  std::atomic<std::uint16_t> port{0};
  bool started = false;
  bool finished = false;
};

Result<void> App::Impl::start() {
  auto config = kube::RestConfig::load_default(settings.kubeconfig, kube::process_env());
  if (!config) {
    return config.error();
  }
  if (config->user_agent.empty()) {
    config->user_agent = "yurt-controller-manager/0.1";
  }
  auto c = kube::RestClient::create(io.get_executor(), std::move(*config));
  if (!c) {
    return c.error();
  }
  client = std::move(*c);
  const auto sleep = kube::steady_sleep();
  std::uint64_t seed = settings.seed;
  node_lw = std::make_unique<kube::RestListerWatcher>(*client, kube::resources::nodes());
  nodes = std::make_unique<kube::Informer>(io.get_executor(), *node_lw, clock, sleep,
                                           kube::ReflectorOptions{.name = "nodes", .seed = ++seed});
  if (settings.run_lifecycle) {
    lease_lw = std::make_unique<kube::RestListerWatcher>(*client, kube::resources::leases(),
                                                         "kube-node-lease");
    leases = std::make_unique<kube::Informer>(
        io.get_executor(), *lease_lw, clock, sleep,
        kube::ReflectorOptions{.name = "leases kube-node-lease", .seed = ++seed});
    lifecycle = std::make_unique<LifecycleController>(*client, *nodes, *leases, core, metrics,
                                                      clock, sleep);
    lifecycle->attach();
  }
  if (settings.run_approver) {
    csr_lw = std::make_unique<kube::RestListerWatcher>(*client, csr_resource());
    csrs = std::make_unique<kube::Informer>(
        io.get_executor(), *csr_lw, clock, sleep,
        kube::ReflectorOptions{.name = "certificatesigningrequests", .seed = ++seed});
    approver = std::make_unique<ApproverController>(*client, *csrs, *nodes, settings.approver,
                                                    metrics, clock, sleep);
    approver->attach();
  }
  if (settings.leader_elect) {
    lock = std::make_unique<kube::RestLeaseLock>(*client, settings.election_namespace,
                                                 settings.election_name);
  }
  handler = std::make_unique<HttpHandler>(metrics, settings.run_lifecycle ? &core : nullptr,
                                          [this] { return synced(); });
  if (handle_signals) {
    signals = std::make_unique<ShutdownSignals>(io.get_executor());
  }
  started = true;
  logger().info("yurt-controller-manager: apiserver {}, controllers:{}{}, leader election {}",
                client->config().server, settings.run_lifecycle ? " nodelifecycle" : "",
                settings.run_approver ? " csrapprover" : "",
                settings.leader_elect ? settings.election_namespace + "/" + settings.election_name +
                                            " as " + settings.election.identity
                                      : std::string("off"));
  return {};
}

bool App::Impl::synced() const {
  return nodes && nodes->has_synced() && (!leases || leases->has_synced()) &&
         (!csrs || csrs->has_synced());
}

// Runs the controllers while leading, until cancelled (any type: the elector's race hands on the
// graceful total cancellation it gets first, and only that one — docs/net.md) or until one of
// them fails, which ends the term (the elector then releases the lease and competes again).
asio::awaitable<void> App::Impl::lead() {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  leader = true;
  metrics.set_leader(true);
  struct Reset {
    Impl& impl;
    ~Reset() {
      impl.leader = false;
      impl.metrics.set_leader(false);
    }
  } reset{*this};
  try {
    std::vector<NamedTask> controllers;
    if (lifecycle) {
      controllers.emplace_back("node lifecycle", lifecycle->lead());
    }
    if (approver) {
      controllers.emplace_back("csr approver", approver->lead());
    }
    co_await run_side_by_side(std::move(controllers));
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted) {
      logger().error("controllers failed: {}; stepping down", e.what());
    }
  } catch (const std::exception& e) {
    // A bug: stop acting (the elector releases the lease) rather than lead without controllers.
    logger().error("controllers failed: {}; stepping down", e.what());
  }
}

asio::awaitable<void> App::Impl::elect_loop() {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  if (!settings.leader_elect) {
    while (!stop_requested) {
      co_await lead();
      if (cancelled(co_await asio::this_coro::cancellation_state) || stop_requested) {
        co_return;
      }
      // The controllers failed (logged): start them again after a pause, as a new term would.
      asio::steady_timer pause(co_await asio::this_coro::executor);
      pause.expires_after(kBindRetry);
      co_await pause.async_wait(kUse);
    }
    co_return;
  }
  std::uint64_t seed = settings.seed;
  for (;;) {
    kube::LeaderElector elector(*lock, settings.election, clock, kube::steady_sleep(), ++seed);
    kube::LeaderCallbacks callbacks;
    callbacks.lead = [this] { return lead(); };
    callbacks.on_new_leader = [this](const std::string& id) {
      logger().info("leader is now {}{}", id, id == settings.election.identity ? " (us)" : "");
    };
    co_await elector.run(std::move(callbacks));
    if (cancelled(co_await asio::this_coro::cancellation_state) || stop_requested) {
      co_return;
    }
    // Leadership lost (the lease could not be renewed in time) or the controllers failed:
    // compete again; the next term starts from fresh observations.
    logger().warn("no longer leading; competing again");
  }
}

asio::awaitable<void> App::Impl::serve_http() {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  boost::system::error_code ec;
  auto address = asio::ip::make_address(settings.bind_address, ec);
  if (ec) {
    logger().error("--bind-address {}: not an IP address", settings.bind_address);
    co_return;
  }
  net::ListenerConfig config;
  config.endpoint = asio::ip::tcp::endpoint(address, settings.port);
  bool warned = false;
  for (;;) {
    auto l = net::Listener::bind(io.get_executor(), *handler, config);
    if (l) {
      listener = std::move(*l);
      port = listener->local_endpoint().port();
      logger().info("serving /healthz, /readyz, /metrics on http://{}:{}", settings.bind_address,
                    port.load());
      co_await listener->run();
      co_return;
    }
    if (!warned) {
      warned = true;
      logger().warn("{}; retrying every {} s (another replica on this host?)", l.error().what(),
                    kBindRetry.count());
    }
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(kBindRetry);
    co_await timer.async_wait(kUse);
    if (cancelled(co_await asio::this_coro::cancellation_state) || stop_requested) {
      co_return;
    }
  }
}

asio::awaitable<void> App::Impl::wait_for_signal() {
  const int signo = co_await signals->wait();
  logger().info("signal {} received: stopping", signo);
  stop_requested = true;
  stop_timer.cancel();
}

asio::awaitable<void> App::Impl::main_loop() {
  while (!stop_requested) {
    co_await stop_timer.async_wait(kUse);
  }
  // Leading stops first (total cancellation: the leader stops acting and releases its Lease,
  // bounded by the renew deadline) — while the informers still run, so that no decision is ever
  // made on a store that stopped receiving heartbeats. Then informers and listener.
  const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(
      settings.election.renew_deadline + settings.drain_timeout);
  for (auto* group : {&leading, &tasks}) {
    if (group == &tasks && listener) {
      co_await listener->stop(settings.drain_timeout);
    }
    group->emit(asio::cancellation_type::total);
    const bool drained = co_await group->wait_for(budget);
    if (!drained) {
      logger().warn("stop: tasks still running after {} ms; aborting them", budget.count());
      group->emit(asio::cancellation_type::terminal);
      co_await group->async_wait();
    }
  }
  logger().info("stopped");
}

int App::Impl::run() {
  auto ex = io.get_executor();
  tasks.spawn(ex, nodes->run(), "informer nodes");
  if (leases) {
    tasks.spawn(ex, leases->run(), "informer leases");
  }
  if (csrs) {
    tasks.spawn(ex, csrs->run(), "informer csrs");
  }
  leading.spawn(ex, elect_loop(), "leader election");
  tasks.spawn(ex, serve_http(), "http");
  if (signals) {
    tasks.spawn(ex, wait_for_signal(), "signals");
  }
  int code = 0;
  asio::co_spawn(io, main_loop(), [&code](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        logger().error("yurt-controller-manager failed: {}", x.what());
      }
      code = 1;
    }
  });
  io.run();
  finished = true;
  return code;
}

App::App(ControllerSettings settings, const Clock& clock, bool handle_signals)
    : impl_(std::make_unique<Impl>(std::move(settings), clock, handle_signals)) {}

App::~App() {
  if (impl_->started && !impl_->finished) {
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
  asio::post(impl_->io, [impl = impl_.get()] { impl->stop_timer.cancel(); });
}

std::uint16_t App::port() const noexcept {
  return impl_->port.load();
}

bool App::is_leader() const noexcept {
  return impl_->leader.load();
}

}  // namespace yurt::controller
