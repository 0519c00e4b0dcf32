#include "src/apps/tunnel/app.hpp"

#include <exception>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "yurt/base/log.hpp"
#include "yurt/base/shutdown.hpp"
#include "yurt/kube/kubeconfig.hpp"
#include "yurt/kube/lister_watcher.hpp"
#include "yurt/kube/rest_client.hpp"

#include "src/apps/tunnel/agent.hpp"
#include "src/apps/tunnel/errc.hpp"
#include "src/apps/tunnel/server.hpp"

namespace yurt::tunnel_app {

namespace asio = boost::asio;

namespace {

#ifndef YURT_VERSION
#define YURT_VERSION "dev"
#endif

/// Runs `main` (which returns when stopped) and a signal watcher that stops it; returns 1 when
/// `main` threw.
template <class Daemon>
int run_until_signal(asio::io_context& io, Daemon& daemon, std::string_view name) {
  ShutdownSignals signals(io.get_executor());
  auto watch = [](ShutdownSignals* s, Daemon* d) -> asio::awaitable<void> {
    try {
      const int signo = co_await s->wait();
      log::get("tunnel-app").info("signal {} received", signo);
    } catch (const std::exception&) {
      co_return;  // cancelled at exit
    }
    d->stop();
  };
  int code = 0;
  asio::co_spawn(io, daemon.run(), [&](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        log::get("tunnel-app").error("{} failed: {}", name, x.what());
      }
      code = 1;
    }
    io.stop();
  });
  asio::co_spawn(io, watch(&signals, &daemon), [](std::exception_ptr) {});
  io.run();
  return code;
}

}  // namespace

// ---- server ----

struct ServerApp::Impl {
  Impl(ServerSettings s, const Clock& c) : settings(std::move(s)), clock(c) {}
  ServerSettings settings;
  const Clock& clock;
  asio::io_context io{1};
  std::unique_ptr<kube::RestClient> client;
  std::unique_ptr<kube::RestListerWatcher> nodes;
  std::unique_ptr<TunnelServer> server;
};

ServerApp::ServerApp(ServerSettings settings, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(settings), clock)) {}
ServerApp::~ServerApp() = default;

Result<void> ServerApp::start() {
  auto& i = *impl_;
  auto config = i.settings.kubeconfig.empty()
                    ? kube::RestConfig::in_cluster(kube::process_env())
                    : kube::RestConfig::from_kubeconfig(i.settings.kubeconfig);
  if (!config) {
    return Error(config.error().code(), "apiserver client: " + config.error().message());
  }
  config->user_agent = "yurt-tunnel-server/" YURT_VERSION;
  auto client = kube::RestClient::create(i.io.get_executor(), std::move(*config));
  if (!client) {
    return Error(client.error().code(), "apiserver client: " + client.error().message());
  }
  i.client = std::move(*client);
  i.nodes = std::make_unique<kube::RestListerWatcher>(*i.client, kube::resources::nodes());
  i.server = std::make_unique<TunnelServer>(i.io.get_executor(), i.settings, i.clock, *i.nodes);
  return i.server->start();
}

int ServerApp::run() {
  return run_until_signal(impl_->io, *impl_->server, "yurt-tunnel-server");
}

// ---- agent ----

struct AgentApp::Impl {
  Impl(AgentSettings s, const Clock& c) : settings(std::move(s)), clock(c) {}
  AgentSettings settings;
  const Clock& clock;
  asio::io_context io{1};
  std::unique_ptr<TunnelAgent> agent;
};

AgentApp::AgentApp(AgentSettings settings, const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(settings), clock)) {}
AgentApp::~AgentApp() = default;

Result<void> AgentApp::start() {
  impl_->agent =
      std::make_unique<TunnelAgent>(impl_->io.get_executor(), impl_->settings, impl_->clock);
  return impl_->agent->start();
}

int AgentApp::run() {
  return run_until_signal(impl_->io, *impl_->agent, "yurt-tunnel-agent");
}

}  // namespace yurt::tunnel_app
