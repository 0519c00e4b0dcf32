// Listener + HttpClient over loopback TCP.
#include <thread>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <gtest/gtest.h>

#include "yurt/net/errc.hpp"

#include "test/unit/net/loopback.hpp"

namespace yurt::net::test {
namespace {

using LoopbackHttp = Loopback;

TEST_F(LoopbackHttp, KeepAliveReusesOneConnection) {
  start();
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      auto r = co_await client.request(origin(), get("/hello"));
      EXPECT_TRUE(r) << r.error().what();
      if (r) {
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "hello");
      }
    }
  };
  run_awaitable(io, body());
  EXPECT_EQ(listener_->accepted_connections(), 1U);
  EXPECT_EQ(client.stats().created, 1U);
  EXPECT_EQ(client.stats().idle, 1U);
}

TEST_F(LoopbackHttp, ChunkedResponseIsDeliveredIncrementally) {
  start();
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    auto call = co_await client.open(origin(), get("/stream"));
    EXPECT_TRUE(call) << call.error().what();
    if (!call) {
      co_return;
    }
    EXPECT_EQ(call->response().headers.get("Transfer-Encoding"), "chunked");
    // The server writes chunk-2 only after we saw chunk-1: a buffering client would hang here.
    auto first = co_await call->read_some();
    EXPECT_TRUE(first && *first == "chunk-1");
    routes.release.set();
    auto second = co_await call->read_some();
    EXPECT_TRUE(second && *second == "chunk-2");
    auto end = co_await call->read_some();
    EXPECT_TRUE(end && end->empty());
    EXPECT_EQ(call->state(), ClientCall::State::Done);
  };
  run_awaitable(io, body());
  EXPECT_EQ(client.stats().idle, 1U);  // fully read: back in the pool
}

TEST_F(LoopbackHttp, ChunksReceivedTogetherComeOutAsOnePiece) {
  // The apiserver sends a LIST as many small chunks; a piece per chunk would cost a proxy a
  // write (and its client a wake-up) per 2 KiB.
  std::string reply = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 200; ++i) {
    reply += "a\r\n0123456789\r\n";
  }
  reply += "0\r\n\r\n";
  tcp::acceptor raw(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(io, canned_reply(raw, reply), asio::detached);
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    Origin target{"127.0.0.1", raw.local_endpoint().port(), nullptr};
    auto call = co_await client.open(target, get("/"));
    EXPECT_TRUE(call) << call.error().what();
    if (!call) {
      co_return;
    }
    std::size_t pieces = 0;
    std::string all;
    for (;;) {
      auto piece = co_await call->read_some();
      EXPECT_TRUE(piece) << piece.error().what();
      if (!piece || piece->empty()) {
        break;
      }
      ++pieces;
      all.append(*piece);
    }
    EXPECT_EQ(all.size(), 2000U);
    EXPECT_LE(pieces, 2U);  // one write on loopback: one read, unless TCP split it
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackHttp, LargeRequestBodyIsStreamedInPieces) {
  start();
  HttpClient client(io.get_executor());
  constexpr std::uint64_t kTotal = 64ULL << 20;
  auto body = [&]() -> asio::awaitable<void> {
    Request head;
    head.method = "POST";
    head.target = "/upload";
    auto call = co_await client.start(origin(), head);
    EXPECT_TRUE(call) << call.error().what();
    if (!call) {
      co_return;
    }
    std::string piece(kPiece, 'u');
    for (std::uint64_t sent = 0; sent < kTotal; sent += piece.size()) {
      auto w = co_await call->write(piece);
      EXPECT_TRUE(w) << w.error().what();
      if (!w) {
        co_return;
      }
    }
    auto head_read = co_await call->read_head();
    EXPECT_TRUE(head_read) << head_read.error().what();
    auto reply = co_await call->read_all(1024);
    EXPECT_TRUE(reply);
    if (reply) {
      // Never more than one 64 KiB piece in the handler's hands.
      EXPECT_EQ(*reply, "bytes=" + std::to_string(kTotal) + " bounded=yes");
    }
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackHttp, LargeResponseBodyIsReadInPieces) {
  start();
  HttpClient client(io.get_executor());
  constexpr std::uint64_t kTotal = 64ULL << 20;
  auto body = [&]() -> asio::awaitable<void> {
    auto call = co_await client.open(origin(), get("/download/" + std::to_string(kTotal)));
    EXPECT_TRUE(call) << call.error().what();
    if (!call) {
      co_return;
    }
    std::uint64_t received = 0;
    std::size_t largest = 0;
    for (;;) {
      auto piece = co_await call->read_some();
      EXPECT_TRUE(piece) << piece.error().what();
      if (!piece || piece->empty()) {
        break;
      }
      received += piece->size();
      largest = std::max(largest, piece->size());
    }
    EXPECT_EQ(received, kTotal);
    EXPECT_LE(largest, kPiece);
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackHttp, ConnectHandsOffAndSplicesWithHalfClose) {
  start();
  tcp::acceptor echo(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(io, echo_after_eof(echo), asio::detached);
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    Request connect;
    connect.method = "CONNECT";
    connect.target = "127.0.0.1:" + std::to_string(echo.local_endpoint().port());
    connect.headers.add("Host", connect.target);
    auto call = co_await client.open(origin(), connect);
    EXPECT_TRUE(call) << call.error().what();
    if (!call) {
      co_return;
    }
    EXPECT_EQ(call->response().status, 200);
    EXPECT_EQ(call->response().reason, "Connection established");
    auto stream = call->take_stream();
    EXPECT_TRUE(stream);
    if (!stream) {
      co_return;
    }
    co_await write_all(*stream, "through the tunnel");
    auto [ec] = co_await stream->async_shutdown_send(kUse);
    EXPECT_FALSE(ec);
    // The echo server answers only after EOF: the half-close crossed the splice, and the other
    // direction stayed open for the answer.
    EXPECT_EQ(co_await read_to_eof(*stream), "echo:through the tunnel");
  };
  run_awaitable(io, body());
  EXPECT_EQ(client.stats().open, 0U);  // a handed-off connection leaves the pool
  echo.close();
}

TEST_F(LoopbackHttp, UpgradeHandsOffBothSides) {
  start();
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    Request req = get("/upgrade");
    req.headers.add("Connection", "Upgrade");
    req.headers.add("Upgrade", "test-proto");
    auto call = co_await client.open(origin(), req);
    EXPECT_TRUE(call) << call.error().what();
    if (!call) {
      co_return;
    }
    EXPECT_EQ(call->response().status, 101);
    auto stream = call->take_stream();
    EXPECT_TRUE(stream);
    if (!stream) {
      co_return;
    }
    co_await write_all(*stream, "spdy-ish");
    co_await stream->async_shutdown_send(kUse);
    EXPECT_EQ(co_await read_to_eof(*stream), "echo:spdy-ish");
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackHttp, IdleConnectionsAreClosedAndNotReused) {
  ServerSettings settings;
  settings.idle_timeout = Millis(100);
  start(settings);
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    auto first = co_await client.request(origin(), get("/hello"));
    EXPECT_TRUE(first) << first.error().what();
    // A connection that never sends a request is closed after the idle timeout too; once it
    // is, the pooled one (idle for longer) is closed as well.
    tcp::socket quiet(io);
    co_await quiet.async_connect(endpoint(), kUse);
    EXPECT_EQ(co_await read_to_eof(quiet), "");
    auto second = co_await client.request(origin(), get("/hello"));
    EXPECT_TRUE(second) << second.error().what();
  };
  run_awaitable(io, body());
  EXPECT_EQ(client.stats().created, 2U);
}

TEST_F(LoopbackHttp, MalformedRequestGets400) {
  start();
  auto body = [&]() -> asio::awaitable<void> {
    tcp::socket s(io);
    co_await s.async_connect(endpoint(), kUse);
    co_await write_all(s, "GET /hello HTTP/1.1\r\nHost x\r\n\r\n");
    auto reply = co_await read_to_eof(s);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 400 Bad Request\r\n")) << reply;
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackHttp, OversizedHeaderGets431) {
  ServerSettings settings;
  settings.max_header_bytes = 8 * 1024;
  start(settings);
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    Request req = get("/hello");
    req.headers.add("X-Padding", std::string(16 * 1024, 'p'));
    auto r = co_await client.request(origin(), req);
    EXPECT_TRUE(r) << r.error().what();
    if (r) {
      EXPECT_EQ(r->status, 431);
    }
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackHttp, TooManyConnectionsAreDeclinedWith503) {
  ServerSettings settings;
  settings.max_connections = 1;
  start(settings);
  auto body = [&]() -> asio::awaitable<void> {
    tcp::socket first(io);
    co_await first.async_connect(endpoint(), kUse);
    co_await write_all(first, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    co_await read_until(first, "hello");  // served, and still open
    tcp::socket second(io);
    co_await second.async_connect(endpoint(), kUse);
    auto reply = co_await read_to_eof(second);
    EXPECT_TRUE(reply.starts_with("HTTP/1.1 503 Service Unavailable\r\n")) << reply;
    EXPECT_NE(reply.find("Retry-After: 1"), std::string::npos);
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackHttp, TruncatedResponseIsAnError) {
  tcp::acceptor raw(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(io, canned_reply(raw, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"),
                 asio::detached);
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    // Named, not a braced temporary: GCC 12 miscompiles aggregate temporaries in co_await
    // expressions (docs/net.md).
    Origin target{"127.0.0.1", raw.local_endpoint().port(), nullptr};
    auto r = co_await client.request(target, get("/"));
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().code(), make_error_code(Errc::Truncated)) << r.error().what();
      EXPECT_NE(r.error().what().find("read response body from 127.0.0.1:"), std::string::npos)
          << r.error().what();
    }
  };
  run_awaitable(io, body());
  EXPECT_EQ(client.stats().open, 0U);
}

TEST_F(LoopbackHttp, ConnectionRefusedIsAClearError) {
  std::uint16_t port = 0;
  {
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }  // closed: nothing listens there now
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    Origin target{"127.0.0.1", port, nullptr};
    auto r = co_await client.request(target, get("/"));
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().code(), std::errc::connection_refused);
      EXPECT_EQ(r.error().what(),
                "connect 127.0.0.1:" + std::to_string(port) + ": Connection refused");
    }
  };
  run_awaitable(io, body());
  EXPECT_EQ(client.stats().open, 0U);
}

TEST_F(LoopbackHttp, RequestTimeoutIsReported) {
  start();
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    auto r = co_await client.request(origin(), get("/slow"), Millis(100));
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().code(), make_error_code(Errc::Timeout));
      EXPECT_NE(r.error().what().find("GET http://127.0.0.1:"), std::string::npos);
    }
  };
  run_awaitable(io, body());
  EXPECT_EQ(client.stats().open, 0U);  // the abandoned connection was closed, not pooled
}

TEST_F(LoopbackHttp, GracefulStopDrainsInFlightRequestAndClosesIdleOnes) {
  start();
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    tcp::socket idle(io);
    co_await idle.async_connect(endpoint(), kUse);

    Event answered(io.get_executor());
    Result<Response> in_flight = fail(Errc::Closed, "not yet");
    asio::co_spawn(io, client.request(origin(), get("/slow")),
                   [&](std::exception_ptr, Result<Response> r) {
                     in_flight = std::move(r);
                     answered.set();
                   });
    co_await routes.entered.wait();

    Event stopped(io.get_executor());
    asio::co_spawn(io, listener_->stop(Millis(3000)), [&](std::exception_ptr) { stopped.set(); });
    EXPECT_EQ(co_await read_to_eof(idle), "");  // the idle connection goes at once
    EXPECT_FALSE(stopped.is_set());             // the busy one is being drained

    routes.release.set();
    co_await answered.wait();
    EXPECT_TRUE(in_flight) << in_flight.error().what();
    if (in_flight) {
      EXPECT_EQ(in_flight->body, "done");
      EXPECT_EQ(in_flight->headers.get("Connection"), "close");
    }
    co_await stopped.wait();
    EXPECT_EQ(listener_->active_connections(), 0U);
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackHttp, DrainDeadlineAbortsStuckRequests) {
  start();
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    Event answered(io.get_executor());
    Result<Response> in_flight = fail(Errc::Closed, "not yet");
    asio::co_spawn(io, client.request(origin(), get("/slow")),
                   [&](std::exception_ptr, Result<Response> r) {
                     in_flight = std::move(r);
                     answered.set();
                   });
    co_await routes.entered.wait();
    co_await listener_->stop(Millis(50));  // /slow never finishes by itself
    co_await answered.wait();
    EXPECT_FALSE(in_flight);  // closed without an answer
    if (!in_flight) {
      EXPECT_EQ(in_flight.error().code(), make_error_code(Errc::Truncated))
          << in_flight.error().what();
    }
    EXPECT_EQ(listener_->active_connections(), 0U);
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackHttp, PoolLimitMakesRequestsWaitForARelease) {
  start();
  ClientSettings settings;
  settings.max_connections = 1;
  settings.connect_timeout = Millis(3000);
  HttpClient client(io.get_executor(), settings);
  auto body = [&]() -> asio::awaitable<void> {
    auto held = co_await client.open(origin(), get("/hello"));  // body unread: connection busy
    EXPECT_TRUE(held) << held.error().what();
    if (!held) {
      co_return;
    }
    Event answered(io.get_executor());
    Result<Response> waiting = fail(Errc::Closed, "not yet");
    asio::co_spawn(io, client.request(origin(), get("/hello")),
                   [&](std::exception_ptr, Result<Response> r) {
                     waiting = std::move(r);
                     answered.set();
                   });
    asio::steady_timer tick(io, Millis(20));
    co_await tick.async_wait(kUse);
    EXPECT_FALSE(answered.is_set());           // no slot: it waits
    auto rest = co_await held->read_all(100);  // releases the connection to the pool
    EXPECT_TRUE(rest && *rest == "hello");
    co_await answered.wait();
    EXPECT_TRUE(waiting) << waiting.error().what();
  };
  run_awaitable(io, body());
  EXPECT_EQ(client.stats().created, 1U);  // the waiter reused the released connection
}

TEST(Listener, WorkersServeConnectionsOnTheirOwnThreads) {
  asio::io_context io;
  asio::io_context worker_io;
  auto work = asio::make_work_guard(worker_io);
  std::thread worker([&] { worker_io.run(); });
  Routes routes(worker_io.get_executor());
  ListenerConfig config;
  config.endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  config.workers = {worker_io.get_executor()};
  auto listener = Listener::bind(io.get_executor(), routes, config);
  ASSERT_TRUE(listener) << listener.error().what();
  asio::co_spawn(io, (*listener)->run(), asio::detached);
  auto body = [&]() -> asio::awaitable<void> {
    Origin target{"127.0.0.1", (*listener)->local_endpoint().port(), nullptr};
    Request hello;
    hello.target = "/hello";
    for (int i = 0; i < 3; ++i) {
      HttpClient fresh(io.get_executor());  // a new connection each time
      auto r = co_await fresh.request(target, hello);
      EXPECT_TRUE(r && r->body == "hello");
    }
    co_await (*listener)->stop(Millis(1000));
  };
  run_awaitable(io, body());
  EXPECT_EQ((*listener)->accepted_connections(), 3U);
  EXPECT_EQ((*listener)->active_connections(), 0U);
  work.reset();
  worker.join();
}

TEST(Listener, BindErrorNamesTheEndpoint) {
  asio::io_context io;
  Routes routes(io.get_executor());
  tcp::acceptor taken(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  ListenerConfig config;
  config.endpoint = taken.local_endpoint();
  auto listener = Listener::bind(io.get_executor(), routes, config);
  ASSERT_FALSE(listener);
  EXPECT_EQ(listener.error().what(),
            "listen 127.0.0.1:" + std::to_string(taken.local_endpoint().port()) +
                ": Address already in use");
}

}  // namespace
}  // namespace yurt::net::test
