#pragma once

// A Listener on 127.0.0.1:0 with a handler of test routes, an echo server for CONNECT, and
// helpers for the loopback integration tests.

#include <algorithm>
#include <memory>
#include <string>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "yurt/net/client.hpp"
#include "yurt/net/server.hpp"
#include "yurt/net/splice.hpp"

#include "test/unit/net/test_util.hpp"

namespace yurt::net::test {

using tcp = asio::ip::tcp;
constexpr std::size_t kPiece = 64 * 1024;

/// Accepts connections; each reads until EOF, answers "echo:<everything>", then closes. It only
/// answers after EOF, so a test through it proves half-close propagation.
inline asio::awaitable<void> echo_after_eof(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUse);
    if (ec) {
      co_return;
    }
    auto data = "echo:" + co_await read_to_eof(socket);
    co_await write_all(socket, data);
    socket.close();
  }
}

/// Accepts one connection, reads the request head, writes `reply` verbatim and closes.
inline asio::awaitable<void> canned_reply(tcp::acceptor& acceptor, std::string reply) {
  auto [ec, socket] = co_await acceptor.async_accept(kUse);
  if (ec) {
    co_return;
  }
  co_await read_until(socket, "\r\n\r\n");
  co_await write_all(socket, reply);
  socket.close();
}

class Routes final : public Handler {
 public:
  explicit Routes(Executor ex) : entered(ex), release(ex) {}

  asio::awaitable<void> handle(ServerExchange& ex) override {
    const auto& req = ex.request();
    if (req.method == "CONNECT") {
      co_await tunnel(ex);
    } else if (req.target == "/hello") {
      co_await reply(ex, 200, "hello");
    } else if (req.target == "/stream") {
      co_await stream(ex);
    } else if (req.target == "/upload") {
      co_await upload(ex);
    } else if (req.target.starts_with("/download/")) {
      co_await download(ex, std::stoull(req.target.substr(10)));
    } else if (req.target == "/upgrade") {
      co_await upgrade(ex);
    } else if (req.target == "/slow") {
      entered.set();
      co_await release.wait();
      co_await reply(ex, 200, "done");
    } else if (req.target == "/peer") {
      const auto& tls = ex.connection().tls;
      std::string who = "none";
      if (tls && tls->peer) {
        who = "CN=" + tls->peer->common_name;
        for (const auto& o : tls->peer->organizations) {
          who += " O=" + o;
        }
      }
      co_await reply(ex, 200, who);
    } else {
      co_await reply(ex, 404, "not found");
    }
  }

  Event entered;  // /slow has started
  Event release;  // lets /slow and /stream go on
  std::string upload_report;

 private:
  static asio::awaitable<void> reply(ServerExchange& ex, int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    co_await ex.respond(std::move(r));
  }

  asio::awaitable<void> stream(ServerExchange& ex) {
    Response head;
    co_await ex.start_response(std::move(head));
    co_await ex.write("chunk-1");
    co_await release.wait();  // the client has to see chunk-1 before chunk-2 exists
    co_await ex.write("chunk-2");
    co_await ex.finish();
  }

  asio::awaitable<void> upload(ServerExchange& ex) {
    std::uint64_t bytes = 0;
    std::size_t largest = 0;
    for (;;) {
      auto piece = co_await ex.read_body_some();
      if (!piece) {
        co_await reply(ex, 500, piece.error().what());
        co_return;
      }
      if (piece->empty()) {
        break;
      }
      bytes += piece->size();
      largest = std::max(largest, piece->size());
    }
    // Bounded: the handler never holds more than one piece of the body.
    auto report =
        "bytes=" + std::to_string(bytes) + " bounded=" + (largest <= kPiece ? "yes" : "no");
    co_await reply(ex, 200, std::move(report));
  }

  static asio::awaitable<void> download(ServerExchange& ex, std::uint64_t total) {
    Response head;
    co_await ex.start_response(std::move(head));
    std::string piece(kPiece, 'd');
    for (std::uint64_t sent = 0; sent < total; sent += piece.size()) {
      if (!co_await ex.write(piece)) {
        co_return;
      }
    }
  }

  static asio::awaitable<void> upgrade(ServerExchange& ex) {
    Response head;
    head.status = 101;
    head.headers.add("Connection", "Upgrade");
    head.headers.add("Upgrade", "test-proto");
    auto stream = co_await ex.upgrade(std::move(head));
    if (!stream) {
      co_return;
    }
    auto data = "echo:" + co_await read_to_eof(*stream);
    co_await write_all(*stream, data);
    stream->close();
  }

  // Like the tunnel server's CONNECT entry: dial the target, answer 200, splice.
  static asio::awaitable<void> tunnel(ServerExchange& ex) {
    const auto& target = ex.request().target;
    auto colon = target.rfind(':');
    tcp::socket upstream(co_await asio::this_coro::executor);
    tcp::endpoint endpoint(asio::ip::make_address(target.substr(0, colon)),
                           static_cast<std::uint16_t>(std::stoi(target.substr(colon + 1))));
    auto [ec] = co_await upstream.async_connect(endpoint, kUse);
    if (ec) {
      co_await reply(ex, 502, ec.message());
      co_return;
    }
    auto client = co_await ex.accept_connect();
    if (!client) {
      co_return;
    }
    auto result =
        co_await splice(std::move(*client), AnyStream::wrap(std::move(upstream)), Millis(3000));
    EXPECT_FALSE(result.error.code()) << result.error.what();
  }
};

class Loopback : public ::testing::Test {
 protected:
  void start(ServerSettings settings = {}, std::shared_ptr<TlsContext> tls = nullptr) {
    ListenerConfig config;
    config.endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
    config.settings = settings;
    config.tls = std::move(tls);
    auto listener = Listener::bind(io.get_executor(), routes, std::move(config));
    ASSERT_TRUE(listener) << listener.error().what();
    listener_ = std::move(*listener);
    asio::co_spawn(io, listener_->run(), asio::detached);
  }

  void TearDown() override {
    routes.release.set();
    if (listener_) {
      run_awaitable(io, listener_->stop(Millis(1000)));
    }
  }

  [[nodiscard]] Origin origin(std::shared_ptr<TlsContext> tls = nullptr) const {
    return Origin{"127.0.0.1", listener_->local_endpoint().port(), std::move(tls)};
  }
  [[nodiscard]] tcp::endpoint endpoint() const { return listener_->local_endpoint(); }

  static Request get(std::string target) {
    Request r;
    r.target = std::move(target);
    return r;
  }

  asio::io_context io;
  Routes routes{io.get_executor()};
  std::unique_ptr<Listener> listener_;
};

}  // namespace yurt::net::test
