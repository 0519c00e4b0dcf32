// serve_connection() over an in-memory pipe: the HTTP/1.1 loop, its limits and error answers,
// with the client side written as raw bytes.
#include "yurt/net/server.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "test/unit/net/test_util.hpp"

namespace yurt::net {
namespace {

using test::kUse;
using test::read_to_eof;
using test::read_until;
using test::run_awaitable;
using test::write_all;

class Routes final : public Handler {
 public:
  asio::awaitable<void> handle(ServerExchange& ex) override {
    const auto& target = ex.request().target;
    ++requests;
    if (target == "/hello") {
      Response r;
      r.body = "hello";
      r.headers.add("Content-Type", "text/plain");
      co_await ex.respond(std::move(r));
    } else if (target == "/echo") {
      auto body = co_await ex.read_body(1 << 20);
      Response r;
      r.body = body ? *body : "error: " + body.error().what();
      co_await ex.respond(std::move(r));
    } else if (target == "/pieces") {
      std::size_t pieces = 0;
      std::string all;
      for (;;) {
        auto piece = co_await ex.read_body_some();
        if (!piece || piece->empty()) {
          break;
        }
        ++pieces;
        all.append(*piece);
      }
      Response r;
      r.body = all + "|" + std::to_string(pieces);
      co_await ex.respond(std::move(r));
    } else if (target == "/stream") {
      Response head;
      head.headers.add("Content-Type", "application/json");
      co_await ex.start_response(std::move(head));
      co_await ex.write("{\"a\":1}\n");
      co_await ex.write("{\"b\":2}\n");
      // finish() left to the server
    } else if (target == "/fixed-stream") {
      Response head;
      head.headers.add("Content-Length", "6");
      co_await ex.start_response(std::move(head));
      co_await ex.write("abc");
      auto too_much = co_await ex.write("defg");
      EXPECT_FALSE(too_much);
      co_await ex.write("def");
    } else if (target == "/silent") {
      co_return;
    } else if (target == "/throw") {
      throw std::runtime_error("handler bug");
    } else if (target == "/upgrade") {
      Response head;
      head.status = 101;
      head.headers.add("Connection", "Upgrade");
      head.headers.add("Upgrade", "test-proto");
      auto stream = co_await ex.upgrade(std::move(head));
      if (!stream) {
        co_return;
      }
      // Echo what arrives (including bytes sent along with the request) until EOF.
      auto data = "echo:" + co_await read_to_eof(*stream);
      co_await write_all(*stream, data);
      stream->close();
    } else {
      Response r;
      r.status = 404;
      co_await ex.respond(std::move(r));
    }
  }
  int requests = 0;
};

struct ServerOverPipe {
  explicit ServerOverPipe(asio::io_context& io, ServerSettings settings = {}) {
    auto [c, s] = make_pipe(io.get_executor());
    client = std::move(c);
    asio::co_spawn(io, serve_connection(std::move(s), routes, settings),
                   [this](std::exception_ptr e) {
                     finished = true;
                     error = e;
                   });
  }
  Routes routes;
  AnyStream client;
  bool finished = false;
  std::exception_ptr error;
};

TEST(ServeConnection, KeepAliveServesSeveralRequestsOnOneConnection) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    auto first = co_await read_until(s.client, "hello");
    EXPECT_EQ(first,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello");
    co_await write_all(s.client, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto second = co_await read_to_eof(s.client);
    EXPECT_EQ(second, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  };
  run_awaitable(io, body());
  io.restart();
  io.poll();
  EXPECT_EQ(s.routes.requests, 2);
  EXPECT_TRUE(s.finished);
}

TEST(ServeConnection, PipelinedRequestsAreAnsweredInOrder) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(
        s.client,
        "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n"
        "\r\nabc");
    auto all = co_await read_to_eof(s.client);
    EXPECT_NE(all.find("hello"), std::string::npos);
    EXPECT_TRUE(all.ends_with("\r\n\r\nabc")) << all;
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, ChunkedRequestBodyArrivesInPieces) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client,
                       "POST /pieces HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n");
    // The handler reads the first piece before the rest exists.
    asio::steady_timer tick(co_await asio::this_coro::executor, Millis(5));
    co_await tick.async_wait(kUse);
    co_await write_all(s.client, "6\r\n world\r\n0\r\n\r\n");
    auto response = co_await read_until(s.client, "|2");
    EXPECT_NE(response.find("hello world|2"), std::string::npos) << response;
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, ChunksReceivedTogetherAreOnePiece) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    std::string request =
        "POST /pieces HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 100; ++i) {
      request += "3\r\nabc\r\n";
    }
    request += "0\r\n\r\n";
    co_await write_all(s.client, request);
    auto response = co_await read_to_eof(s.client);
    std::string abc;
    for (int i = 0; i < 100; ++i) {
      abc += "abc";
    }
    // All 100 chunks in one piece: "<body>|<pieces>".
    EXPECT_TRUE(response.ends_with("\r\n\r\n" + abc + "|1")) << response;
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, StreamedResponseIsChunkedAndFinishedByTheServer) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client, "GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto all = co_await read_to_eof(s.client);
    EXPECT_EQ(all,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
              "Connection: close\r\n\r\n8\r\n{\"a\":1}\n\r\n8\r\n{\"b\":2}\n\r\n0\r\n\r\n");
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, StreamedResponseWithContentLengthIsNotChunked) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client,
                       "GET /fixed-stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto all = co_await read_to_eof(s.client);
    EXPECT_EQ(all, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nabcdef");
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, HttpOneZeroStreamsUntilClose) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client, "GET /stream HTTP/1.0\r\n\r\n");
    auto all = co_await read_to_eof(s.client);
    EXPECT_EQ(all,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
              "{\"a\":1}\n{\"b\":2}\n");
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, HeadGetsHeadersOnly) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client, "HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto all = co_await read_to_eof(s.client);
    EXPECT_EQ(all,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
              "Connection: close\r\n\r\n");
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, MalformedRequestGets400AndClose) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client, "GET / HTTP/1.1\r\nNo colon here\r\n\r\n");
    auto all = co_await read_to_eof(s.client);
    EXPECT_TRUE(all.starts_with("HTTP/1.1 400 Bad Request\r\n")) << all;
    EXPECT_NE(all.find("Connection: close"), std::string::npos);
    EXPECT_NE(all.find("malformed request"), std::string::npos);
  };
  run_awaitable(io, body());
  EXPECT_EQ(s.routes.requests, 0);
}

TEST(ServeConnection, GarbageStartLineGets400) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    static constexpr char kTlsHello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    co_await write_all(s.client, std::string_view(kTlsHello, sizeof kTlsHello - 1));
    auto all = co_await read_to_eof(s.client);
    EXPECT_TRUE(all.starts_with("HTTP/1.1 400 Bad Request\r\n")) << all;
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, OversizedHeaderGets431) {
  asio::io_context io;
  ServerSettings settings;
  settings.max_header_bytes = 1024;
  ServerOverPipe s(io, settings);
  auto body = [&]() -> asio::awaitable<void> {
    auto request =
        "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n";
    co_await write_all(s.client, request);
    auto all = co_await read_to_eof(s.client);
    EXPECT_TRUE(all.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n")) << all;
    EXPECT_NE(all.find("exceeds 1024 bytes"), std::string::npos);
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, MissingHostGets400) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client, "GET /hello HTTP/1.1\r\n\r\n");
    auto all = co_await read_to_eof(s.client);
    EXPECT_TRUE(all.starts_with("HTTP/1.1 400")) << all;
    EXPECT_NE(all.find("Host"), std::string::npos);
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, HandlerWithoutResponseOrThrowingGets500) {
  for (const char* target : {"/silent", "/throw"}) {
    asio::io_context io;
    ServerOverPipe s(io);
    auto body = [&]() -> asio::awaitable<void> {
      auto request = std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
      co_await write_all(s.client, request);
      auto all = co_await read_to_eof(s.client);
      EXPECT_TRUE(all.starts_with("HTTP/1.1 500 Internal Server Error\r\n")) << target << all;
    };
    run_awaitable(io, body());
  }
}

TEST(ServeConnection, ExpectContinueIsAnsweredWhenTheBodyIsRead) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client,
                       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                       "Expect: 100-continue\r\nConnection: close\r\n\r\n");
    auto interim = co_await read_until(s.client, "\r\n\r\n");
    EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    co_await write_all(s.client, "data");
    auto all = co_await read_to_eof(s.client);
    EXPECT_TRUE(all.ends_with("\r\n\r\ndata")) << all;
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, IdleTimeoutClosesTheConnection) {
  asio::io_context io;
  ServerSettings settings;
  settings.idle_timeout = Millis(30);
  ServerOverPipe s(io, settings);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    auto all = co_await read_to_eof(s.client);  // ends only because the server closes
    EXPECT_TRUE(all.ends_with("hello")) << all;
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, HeaderTimeoutClosesASlowClient) {
  asio::io_context io;
  ServerSettings settings;
  settings.header_timeout = Millis(30);
  ServerOverPipe s(io, settings);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(s.client, "GET /hello HTTP/1.1\r\nHo");
    EXPECT_EQ(co_await read_to_eof(s.client), "");
  };
  run_awaitable(io, body());
  EXPECT_EQ(s.routes.requests, 0);
}

TEST(ServeConnection, UpgradeHandsOverTheStreamWithBufferedBytes) {
  asio::io_context io;
  ServerOverPipe s(io);
  auto body = [&]() -> asio::awaitable<void> {
    // The client's first protocol bytes travel with the request.
    co_await write_all(s.client,
                       "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                       "Upgrade: test-proto\r\n\r\nfirst-");
    auto head = co_await read_until(s.client, "\r\n\r\n");
    EXPECT_EQ(
        head,
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test-proto\r\n\r\n");
    co_await write_all(s.client, "second");
    auto [ec] = co_await s.client.async_shutdown_send(kUse);
    EXPECT_FALSE(ec);
    EXPECT_EQ(co_await read_to_eof(s.client), "echo:first-second");
  };
  run_awaitable(io, body());
}

TEST(ServeConnection, GracefulStopClosesAnIdleConnection) {
  asio::io_context io;
  auto [client, server] = make_pipe(io.get_executor());
  Routes routes;
  asio::cancellation_signal stop;
  bool finished = false;
  asio::co_spawn(
      io, serve_connection(std::move(server), routes, ServerSettings{}),
      asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr) { finished = true; }));
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(client, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    co_await read_until(client, "hello");
    stop.emit(asio::cancellation_type::total);  // idle now: nothing is lost by closing
    EXPECT_EQ(co_await read_to_eof(client), "");
  };
  run_awaitable(io, body());
  io.restart();
  io.poll();
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace yurt::net
