// DirectTlsStream (OpenSSL driven on the socket, no Asio ssl::stream) against Asio's ssl::stream
// client (TlsStream) and against itself: handshake, data both ways, half-close, peer reset, TCP
// close without close_notify, cancellation and close() of pending reads.
#include "src/net/direct_tls.hpp"

#include <memory>
#include <string>
#include <utility>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/error.hpp>
#include <gtest/gtest.h>

#include "yurt/net/tls_context.hpp"

#include "src/net/streams.hpp"
#include "src/net/tls_internal.hpp"
#include "test/unit/net/test_pki.hpp"
#include "test/unit/net/test_util.hpp"

namespace yurt::net::test {
namespace {

using tcp = asio::ip::tcp;
using boost::system::error_code;

struct Pair {
  AnyStream server;  // DirectTlsStream
  AnyStream client;  // TlsStream (Asio ssl::stream) or DirectTlsStream
  error_code server_ec;
  error_code client_ec;
  bool server_done = false;  // the server's handshake operation completed
};

class DirectTls : public ::testing::Test {
 public:
  DirectTls() {
    CertSpec server;
    server.common_name = "yurt-server";
    server.ip_addresses = {"127.0.0.1"};
    server.serial = 0x11;
    server_cert_ = pki_.issue(server);
    CertSpec node;
    node.common_name = "system:node:edge-1";
    node.server = false;
    node.serial = 0x31;
    client_cert_ = pki_.issue(node);
    TlsServerOptions so;
    so.credentials = {server_cert_.cert_pem, server_cert_.key_pem, pki_.ca_pem()};
    so.client_auth = ClientAuth::Require;
    server_tls_ = *TlsContext::server(so);
    TlsClientOptions co;
    co.credentials = {client_cert_.cert_pem, client_cert_.key_pem, pki_.ca_pem()};
    client_tls_ = *TlsContext::client(co);
  }

  asio::awaitable<std::pair<tcp::socket, tcp::socket>> sockets() {
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket client(io_);
    auto [cec] = co_await client.async_connect(acceptor.local_endpoint(), kUse);
    EXPECT_FALSE(cec) << cec.message();
    auto [aec, server] = co_await acceptor.async_accept(kUse);
    EXPECT_FALSE(aec) << aec.message();
    co_return std::make_pair(std::move(server), std::move(client));
  }

  // Handshakes both ends concurrently; `direct_client` picks the client's implementation.
  // `socket_buffer` (bytes, 0 = the system's) shrinks both sockets' kernel buffers, so that
  // writes wait for the socket to drain.
  asio::awaitable<Pair> connect(bool direct_client, int socket_buffer = 0) {
    auto [ss, cs] = co_await sockets();
    if (socket_buffer > 0) {
      for (auto* socket : {&ss, &cs}) {
        socket->set_option(asio::socket_base::send_buffer_size(socket_buffer));
        socket->set_option(asio::socket_base::receive_buffer_size(socket_buffer));
      }
    }
    auto server = std::make_unique<DirectTlsStream>(
        std::move(ss), detail::TlsAccess::snapshot(*server_tls_), DirectTlsStream::Role::Server);
    Pair p;
    auto* srv = server.get();
    asio::co_spawn(io_, server_handshake(srv, &p), asio::detached);
    if (direct_client) {
      auto client = std::make_unique<DirectTlsStream>(
          std::move(cs), detail::TlsAccess::snapshot(*client_tls_), DirectTlsStream::Role::Client);
      auto [hec] = co_await client->async_handshake(kUse);
      p.client_ec = hec;
      p.client = AnyStream(std::move(client));
    } else {
      auto client =
          std::make_unique<TlsStream>(std::move(cs), detail::TlsAccess::snapshot(*client_tls_));
      auto prepared = prepare_client_stream(client->native_handle(), *client_tls_, "127.0.0.1");
      EXPECT_TRUE(prepared);
      auto [hec] = co_await client->stream().async_handshake(asio::ssl::stream_base::client, kUse);
      p.client_ec = hec;
      p.client = AnyStream(std::move(client));
    }
    // The server's handshake ends after the client's (it reads the client's Finished, then
    // sends its session tickets): no other operation may start on it before.
    while (!p.server_done) {
      asio::steady_timer t(io_, std::chrono::milliseconds(1));
      co_await t.async_wait(kUse);
    }
    p.server = AnyStream(std::move(server));
    co_return p;
  }

  static asio::awaitable<void> server_handshake(DirectTlsStream* s, Pair* p) {
    auto [ec] = co_await s->async_handshake(kUse);
    p->server_ec = ec;
    p->server_done = true;
  }

  asio::io_context io_;
  TestPki pki_;
  IssuedCert server_cert_;
  IssuedCert client_cert_;
  std::shared_ptr<TlsContext> server_tls_;
  std::shared_ptr<TlsContext> client_tls_;
};

asio::awaitable<void> write_then_shutdown(AnyStream* s, std::string data) {
  co_await write_all(*s, data);
  auto [ec] = co_await s->async_shutdown_send(kUse);
  EXPECT_FALSE(ec) << ec.message();
}

std::string pattern(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>(seed + static_cast<char>(i % 251));
  }
  return s;
}

asio::awaitable<void> read_into(AnyStream* s, std::string* out) {
  *out = co_await read_to_eof(*s);
}

// The other direction may still be finishing when one side has seen EOF.
asio::awaitable<void> wait_for_size(std::string* s, std::size_t n) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  for (int i = 0; i < 3000 && s->size() < n; ++i) {
    timer.expires_after(std::chrono::milliseconds(1));
    co_await timer.async_wait(kUse);
  }
}

// Both directions at once, 2 MiB each, each ended by a half-close: every byte arrives, in
// order, then EOF; the session reports TLS 1.3 and the verified peer on both sides.
void exchange(asio::io_context& io, Pair& p) {
  ASSERT_FALSE(p.server_ec) << p.server_ec.message();
  ASSERT_FALSE(p.client_ec) << p.client_ec.message();
  auto st = p.server.tls();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->version, "TLSv1.3");
  ASSERT_TRUE(st->peer);
  EXPECT_EQ(st->peer->common_name, "system:node:edge-1");
  auto ct = p.client.tls();
  ASSERT_TRUE(ct && ct->peer);
  EXPECT_EQ(ct->peer->common_name, "yurt-server");

  const auto up = pattern(2 << 20, 'a');
  const auto down = pattern(2 << 20, 'A');
  asio::co_spawn(io, write_then_shutdown(&p.client, up), asio::detached);
  asio::co_spawn(io, write_then_shutdown(&p.server, down), asio::detached);
  std::string at_server;
  std::string at_client;
  asio::co_spawn(io, read_into(&p.server, &at_server), asio::detached);
  at_client = run_awaitable(io, read_to_eof(p.client), std::chrono::milliseconds(10'000));
  run_awaitable(io, wait_for_size(&at_server, up.size()));
  EXPECT_TRUE(at_client == down) << at_client.size();
  EXPECT_TRUE(at_server == up) << at_server.size();
}

TEST_F(DirectTls, InteroperatesWithAsioSslStream) {
  auto p = run_awaitable(io_, connect(false));
  exchange(io_, p);
}

TEST_F(DirectTls, TalksToItself) {
  auto p = run_awaitable(io_, connect(true));
  exchange(io_, p);
}

// A write's records are sent together (docs/net.md); with kernel buffers far smaller than a
// write, the sending waits for the socket again and again, both directions at once, and every
// byte still arrives in order — also when the peer's close_notify ends the reading while a write
// is still sending (that once dropped the unsent records). 16 KiB: smaller buffers on loopback
// (64 KiB MSS) stall in TCP's silly-window avoidance, whatever the stream does.
TEST_F(DirectTls, WritesLargerThanTheSocketBuffersArriveWholeAndInOrder) {
  auto p = run_awaitable(io_, connect(true, 16384));
  exchange(io_, p);
}

// After its own half-close the server still reads what the client sends, and the client still
// gets EOF only after the server's data.
TEST_F(DirectTls, HalfCloseKeepsTheOtherDirection) {
  auto p = run_awaitable(io_, connect(false));
  ASSERT_FALSE(p.server_ec);
  run_awaitable(io_, write_then_shutdown(&p.server, "bye"));
  EXPECT_EQ(run_awaitable(io_, read_to_eof(p.client)), "bye");
  run_awaitable(io_, write_all(p.client, "still here"));
  EXPECT_EQ(run_awaitable(io_, read_until(p.server, "here")), "still here");
  run_awaitable(io_, write_then_shutdown(&p.client, ""));
  auto body = [](AnyStream* s) -> asio::awaitable<error_code> {
    char b[16];
    auto [ec, n] = co_await s->async_read_some(asio::buffer(b), kUse);
    co_return ec;
  };
  EXPECT_EQ(run_awaitable(io_, body(&p.server)), asio::error::eof);
}

asio::awaitable<error_code> read_error(AnyStream* s) {
  char b[64];
  for (;;) {
    auto [ec, n] = co_await s->async_read_some(asio::buffer(b), kUse);
    if (ec) {
      co_return ec;
    }
  }
}

TEST_F(DirectTls, PeerResetIsConnectionReset) {
  auto p = run_awaitable(io_, connect(false));
  ASSERT_FALSE(p.server_ec);
  auto* client = static_cast<TlsStream*>(p.client.impl());
  auto& socket = client->stream().next_layer();
  socket.set_option(asio::socket_base::linger(true, 0));  // close() sends RST
  socket.close();
  EXPECT_EQ(run_awaitable(io_, read_error(&p.server)), asio::error::connection_reset);
  // Writing to a reset connection fails too, with an error rather than a crash.
  auto [wec, n] =
      run_awaitable(io_, [](AnyStream* s) -> asio::awaitable<std::tuple<error_code, std::size_t>> {
        std::string data(1 << 16, 'x');
        co_return co_await asio::async_write(*s, asio::buffer(data), kUse);
      }(&p.server));
  EXPECT_TRUE(wec);
  (void)n;
}

TEST_F(DirectTls, TcpCloseWithoutCloseNotifyIsTruncation) {
  auto p = run_awaitable(io_, connect(false));
  ASSERT_FALSE(p.server_ec);
  // A TCP FIN without close_notify. (close() would send RST: the client has not read the
  // server's session tickets.)
  auto* client = static_cast<TlsStream*>(p.client.impl());
  client->stream().next_layer().shutdown(asio::socket_base::shutdown_send);
  EXPECT_EQ(run_awaitable(io_, read_error(&p.server)), asio::ssl::error::stream_truncated);
}

TEST_F(DirectTls, CancelledReadLeavesTheStreamUsable) {
  auto p = run_awaitable(io_, connect(false));
  ASSERT_FALSE(p.server_ec);
  asio::cancellation_signal cancel;
  error_code first;
  char buf[64];
  p.server.async_read_some(
      asio::buffer(buf),
      asio::bind_cancellation_slot(cancel.slot(), [&](error_code ec, std::size_t) { first = ec; }));
  io_.restart();
  io_.poll();
  cancel.emit(asio::cancellation_type::total);
  io_.restart();
  io_.poll();
  EXPECT_EQ(first, asio::error::operation_aborted);
  run_awaitable(io_, write_all(p.client, "after cancel"));
  EXPECT_EQ(run_awaitable(io_, read_until(p.server, "cancel")), "after cancel");
}

TEST_F(DirectTls, CloseAbortsPendingReadAndLaterOperationsFail) {
  auto p = run_awaitable(io_, connect(false));
  ASSERT_FALSE(p.server_ec);
  error_code first;
  char buf[64];
  p.server.async_read_some(asio::buffer(buf), [&](error_code ec, std::size_t) { first = ec; });
  io_.restart();
  io_.poll();
  p.server.close();
  io_.restart();
  io_.poll();
  EXPECT_EQ(first, asio::error::operation_aborted);
  EXPECT_FALSE(p.server.is_open());
  EXPECT_EQ(run_awaitable(io_, read_error(&p.server)), asio::error::bad_descriptor);
}

TEST_F(DirectTls, GarbageInsteadOfClientHelloFailsTheHandshake) {
  auto body = [](DirectTls* t) -> asio::awaitable<std::pair<error_code, std::string>> {
    auto [ss, cs] = co_await t->sockets();
    auto server = std::make_unique<DirectTlsStream>(
        std::move(ss), detail::TlsAccess::snapshot(*t->server_tls_), DirectTlsStream::Role::Server);
    Pair p;
    asio::co_spawn(t->io_, server_handshake(server.get(), &p), asio::detached);
    // Plain bytes instead of a ClientHello.
    std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    co_await asio::async_write(cs, asio::buffer(junk), kUse);
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex);
    for (int i = 0; i < 2000 && !p.server_done; ++i) {
      timer.expires_after(std::chrono::milliseconds(1));
      co_await timer.async_wait(kUse);
    }
    co_return std::make_pair(p.server_ec, server->remote_endpoint());
  };
  auto [ec, remote] = run_awaitable(io_, body(this));
  EXPECT_TRUE(ec);
  EXPECT_EQ(ec.category(), asio::error::get_ssl_category()) << ec.message();
  EXPECT_TRUE(remote.starts_with("127.0.0.1:")) << remote;
}

}  // namespace
}  // namespace yurt::net::test
