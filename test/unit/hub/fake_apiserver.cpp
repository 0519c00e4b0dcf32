#include "test/unit/hub/fake_apiserver.hpp"

#include <future>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "yurt/certs/csr_object.hpp"
#include "yurt/kube/base64.hpp"

namespace yurt::hub::test {

namespace asio = boost::asio;
using json = nlohmann::json;
using tcp = asio::ip::tcp;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

FakePki::FakePki() {
  auto root = certs::CertificateAuthority::create_root({"fake cluster CA", {}},
                                                       std::chrono::hours(24), clock);
  ca.emplace(std::move(*root));
  certs::IssueOptions server;
  server.subject = {"kube-apiserver", {}};
  server.ip_addresses = {"127.0.0.1"};
  server.usages = {certs::Usage::DigitalSignature, certs::Usage::ServerAuth};
  auto s = ca->issue(server).value();
  server_cert = s.certificate_pem;
  server_key = s.key.pem();
  certs::IssueOptions node;
  node.subject = {"system:node:edge", {"system:nodes"}};
  node.usages = {certs::Usage::DigitalSignature, certs::Usage::ClientAuth};
  auto n = ca->issue(node).value();
  node_cert = n.certificate_pem;
  node_key = n.key.pem();
}

std::string FakePki::pin() const {
  return certs::ca_pin(ca->certificate_pem()).value();
}

class FakeApiServer::Routes final : public net::Handler {
 public:
  explicit Routes(FakeApiServer& s) : s_(s) {}

  asio::awaitable<void> handle(net::ServerExchange& ex) override {
    SeenRequest seen;
    seen.method = ex.request().method;
    seen.target = ex.request().target;
    seen.headers = ex.request().headers;
    if (auto body = co_await ex.read_body(std::size_t{64} << 20U)) {
      seen.body = std::move(*body);
    }
    if (const auto& tls = ex.connection().tls; tls && tls->peer) {
      seen.peer_cn = tls->peer->common_name;
      seen.peer_orgs = tls->peer->organizations;
    }
    {
      std::scoped_lock lock(s_.mutex_);
      s_.seen_.push_back(seen);
    }
    const std::string path = seen.target.substr(0, seen.target.find('?'));
    const bool watch = seen.target.find("watch=true") != std::string::npos;
    if (path == "/readyz") {
      if (s_.freeze_readyz) {
        co_await hold();
        co_return;
      }
      {
        net::Response response =
            make(s_.ready ? 200 : 500, s_.ready ? "ok" : "not ready", "text/plain");
        co_await ex.respond(std::move(response));
      }
    } else if (path == "/api/v1/namespaces/kube-public/configmaps/cluster-info") {
      std::string body;
      {
        std::scoped_lock lock(s_.mutex_);
        body = s_.cluster_info_;
      }
      {
        net::Response response = make(body.empty() ? 404 : 200, body.empty() ? "{}" : body);
        co_await ex.respond(std::move(response));
      }
    } else if (path == "/apis/certificates.k8s.io/v1/certificatesigningrequests" &&
               seen.method == "POST") {
      co_await create_csr(ex, seen.body);
    } else if (path.starts_with("/apis/certificates.k8s.io/v1/certificatesigningrequests/")) {
      const auto name = path.substr(path.rfind('/') + 1);
      std::string body;
      {
        std::scoped_lock lock(s_.mutex_);
        for (const auto& csr : s_.csrs_) {
          if (csr["metadata"]["name"] == name) {
            body = csr.dump();
          }
        }
      }
      {
        net::Response response = make(body.empty() ? 404 : 200, body.empty() ? "{}" : body);
        co_await ex.respond(std::move(response));
      }
    } else if (path == "/slow" || path == "/api/v1/namespaces/default/configmaps/slow") {
      ++s_.waiting_;
      co_await hold();
      --s_.waiting_;
      {
        net::Response response = make(
            200,
            R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"slow","namespace":"default","resourceVersion":"3"}})");
        co_await ex.respond(std::move(response));
      }
    } else if (ex.request().headers.contains("Upgrade")) {
      co_await upgrade(ex);
    } else if (watch) {
      co_await stream_watch(ex, path);
    } else {
      std::string body;
      {
        std::scoped_lock lock(s_.mutex_);
        if (auto it = s_.bodies_.find(path); it != s_.bodies_.end()) {
          body = it->second;
        }
      }
      if (body.empty()) {
        {
          net::Response response = make(
              404,
              R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","reason":"NotFound","code":404})");
          co_await ex.respond(std::move(response));
        }
      } else if (const std::size_t chunk = s_.body_chunk_bytes.load(); chunk > 0) {
        co_await stream_body(ex, body, chunk);
      } else {
        {
          net::Response response = make(200, body);
          co_await ex.respond(std::move(response));
        }
      }
    }
  }

 private:
  static net::Response make(int status, std::string body, std::string type = "application/json") {
    net::Response r;
    r.status = status;
    r.headers.set("Content-Type", std::move(type));
    r.body = std::move(body);
    return r;
  }

  /// Waits until release() or until the server stops.
  asio::awaitable<void> hold() {
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_await asio::this_coro::throw_if_cancelled(false);
    for (;;) {
      {
        std::scoped_lock lock(s_.mutex_);
        if (s_.released_) {
          co_return;
        }
      }
      co_await s_.release_timer_.async_wait(kUse);
      auto cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none) {
        co_return;
      }
    }
  }

  // `body` by value: coroutine parameters must not refer to temporaries (docs/net.md).
  static asio::awaitable<void> stream_body(net::ServerExchange& ex,
                                           std::string body,
                                           std::size_t chunk) {
    net::Response head;
    head.headers.set("Content-Type", "application/json");
    co_await ex.start_response(std::move(head));
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (std::size_t at = 0, n = 1; at < body.size(); at += chunk, ++n) {
      if (!co_await ex.write(std::string_view(body).substr(at, chunk))) {
        co_return;
      }
      if (n % 16 == 0) {
        pause.expires_after(std::chrono::milliseconds(1));
        co_await pause.async_wait(kUse);
      }
    }
  }

  asio::awaitable<void> stream_watch(net::ServerExchange& ex, std::string path) {
    std::vector<std::string> lines;
    {
      std::scoped_lock lock(s_.mutex_);
      lines = s_.watch_events_[path];
    }
    net::Response head;
    head.headers.set("Content-Type", "application/json");
    co_await ex.start_response(std::move(head));
    for (const auto& line : lines) {
      if (!co_await ex.write(line + "\n")) {
        co_return;
      }
    }
    ++s_.waiting_;
    co_await hold();
    --s_.waiting_;
  }

  asio::awaitable<void> create_csr(net::ServerExchange& ex, std::string body) {
    auto csr = json::parse(body, nullptr, false);
    if (!csr.is_object()) {
      {
        net::Response response = make(400, "{}");
        co_await ex.respond(std::move(response));
      }
      co_return;
    }
    std::string name;
    {
      std::scoped_lock lock(s_.mutex_);
      name = csr["metadata"].value("generateName", std::string("csr-")) +
             std::to_string(s_.csrs_.size() + 1);
    }
    csr["metadata"]["name"] = name;
    if (s_.sign_csrs) {
      auto spec = certs::csr_spec(csr).value();
      certs::SignOptions options;
      options.usages.clear();
      for (const auto& u : spec.usages) {
        options.usages.push_back(certs::parse_usage(u).value());
      }
      auto cert = s_.pki_.ca->sign_csr(spec.request_pem, options).value();
      csr["status"]["conditions"] = json::array(
          {{{"type", "Approved"}, {"status", "True"}, {"reason", "Test"}, {"message", "ok"}}});
      csr["status"]["certificate"] = kube::base64_encode(cert);
    }
    {
      std::scoped_lock lock(s_.mutex_);
      s_.csrs_.push_back(csr);
    }
    {
      net::Response response = make(201, csr.dump());
      co_await ex.respond(std::move(response));
    }
  }

  static asio::awaitable<void> upgrade(net::ServerExchange& ex) {
    net::Response head;
    head.status = 101;
    head.headers.add("Connection", "Upgrade");
    head.headers.add("Upgrade", std::string(ex.request().headers.get("Upgrade")));
    auto stream = co_await ex.upgrade(std::move(head));
    if (!stream) {
      co_return;
    }
    char buf[4096];
    for (;;) {
      auto [ec, n] = co_await stream->async_read_some(asio::buffer(buf), kUse);
      if (ec) {
        break;
      }
      std::string echo = "echo:" + std::string(buf, n);
      auto [wec, wn] = co_await asio::async_write(*stream, asio::buffer(echo), kUse);
      if (wec) {
        break;
      }
    }
    stream->close();
  }

  FakeApiServer& s_;
};

FakeApiServer::FakeApiServer(const FakePki& pki)
    : pki_(pki), routes_(std::make_unique<Routes>(*this)), release_timer_(io_) {
  release_timer_.expires_at(asio::steady_timer::time_point::max());
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] { io_.run(); });
}

FakeApiServer::~FakeApiServer() {
  stop();
  work_.reset();
  io_.stop();
  thread_.join();
}

void FakeApiServer::start(std::uint16_t port) {
  net::TlsServerOptions options;
  options.credentials = {pki_.server_cert, pki_.server_key, pki_.ca->certificate_pem()};
  options.client_auth = net::ClientAuth::VerifyIfGiven;
  net::ListenerConfig config;
  config.endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
  config.tls = net::TlsContext::server(std::move(options)).value();
  auto listener = net::Listener::bind(io_.get_executor(), *routes_, std::move(config));
  if (!listener) {
    throw std::runtime_error(listener.error().what());
  }
  listener_ = std::move(*listener);
  port_ = listener_->local_endpoint().port();
  asio::co_spawn(io_, listener_->run(), asio::detached);
}

void FakeApiServer::stop() {
  if (!listener_) {
    return;
  }
  std::promise<void> done;
  asio::co_spawn(io_, listener_->stop(net::Millis(200)),
                 [&](std::exception_ptr) { done.set_value(); });
  done.get_future().wait();
  listener_.reset();
}

void FakeApiServer::set(std::string path, std::string body) {
  std::scoped_lock lock(mutex_);
  bodies_[std::move(path)] = std::move(body);
}

void FakeApiServer::set_watch_events(std::string path, std::vector<std::string> lines) {
  std::scoped_lock lock(mutex_);
  watch_events_[std::move(path)] = std::move(lines);
}

void FakeApiServer::set_cluster_info(std::string json_text) {
  std::scoped_lock lock(mutex_);
  cluster_info_ = std::move(json_text);
}

void FakeApiServer::release() {
  {
    std::scoped_lock lock(mutex_);
    released_ = true;
  }
  asio::post(io_, [this] { release_timer_.cancel(); });
}

std::vector<SeenRequest> FakeApiServer::seen() const {
  std::scoped_lock lock(mutex_);
  return seen_;
}

std::optional<SeenRequest> FakeApiServer::last(const std::string& prefix) const {
  std::scoped_lock lock(mutex_);
  for (auto it = seen_.rbegin(); it != seen_.rend(); ++it) {
    if (it->target.starts_with(prefix)) {
      return *it;
    }
  }
  return std::nullopt;
}

std::size_t FakeApiServer::count(const std::string& prefix) const {
  std::scoped_lock lock(mutex_);
  std::size_t n = 0;
  for (const auto& r : seen_) {
    n += r.target.starts_with(prefix) ? 1 : 0;
  }
  return n;
}

std::vector<json> FakeApiServer::csrs() const {
  std::scoped_lock lock(mutex_);
  return csrs_;
}

// ---- RawTlsServer ----

struct RawTlsServer::Impl {
  Impl(const FakePki& pki, std::string r, std::atomic<int>& n)
      : ssl(asio::ssl::context::tls_server),
        acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        reply(std::move(r)),
        answered(n) {
    ssl.use_certificate_chain(asio::buffer(pki.server_cert));
    ssl.use_private_key(asio::buffer(pki.server_key), asio::ssl::context::pem);
  }

  static asio::awaitable<void> accept_loop(Impl* self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor.async_accept(kUse);
      if (ec) {
        co_return;
      }
      asio::co_spawn(self->io, serve(self, std::move(socket)), asio::detached);
    }
  }

  static asio::awaitable<void> serve(Impl* self, tcp::socket socket) {
    asio::ssl::stream<tcp::socket> tls(std::move(socket), self->ssl);
    auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::server, kUse);
    if (hec) {
      co_return;
    }
    for (;;) {
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        auto [rec, n] = co_await tls.async_read_some(asio::buffer(buf), kUse);
        if (rec) {
          co_return;
        }
        head.append(buf, n);
      }
      if (head.starts_with("GET /readyz ")) {
        std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        co_await asio::async_write(tls, asio::buffer(ok), kUse);
        continue;
      }
      ++self->answered;
      co_await asio::async_write(tls, asio::buffer(self->reply), kUse);
      break;
    }
    boost::system::error_code ignored;
    tls.lowest_layer().close(ignored);
  }

  asio::io_context io;
  asio::ssl::context ssl;
  tcp::acceptor acceptor;
  std::string reply;
  std::atomic<int>& answered;
  std::thread thread;
};

RawTlsServer::RawTlsServer(const FakePki& pki, std::string reply)
    : impl_(std::make_unique<Impl>(pki, std::move(reply), answered_)) {
  port_ = impl_->acceptor.local_endpoint().port();
  asio::co_spawn(impl_->io, Impl::accept_loop(impl_.get()), asio::detached);
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
}

RawTlsServer::~RawTlsServer() {
  asio::post(impl_->io, [impl = impl_.get()] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace yurt::hub::test
