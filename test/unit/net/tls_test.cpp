// TlsContext with Listener and HttpClient: HTTPS, mTLS, name checks, hot swap, TLS half-close.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include "yurt/net/errc.hpp"
#include "yurt/net/tls_context.hpp"

#include "src/net/tls_internal.hpp"
#include "test/unit/net/loopback.hpp"
#include "test/unit/net/test_pki.hpp"

namespace yurt::net::test {
namespace {

class LoopbackTls : public Loopback {
 protected:
  LoopbackTls() {
    CertSpec server;
    server.common_name = "yurt-server";
    server.dns_names = {"localhost"};
    server.ip_addresses = {"127.0.0.1"};
    server.serial = 0x10;
    server_cert = pki.issue(server);
    CertSpec node;
    node.common_name = "system:node:edge-1";
    node.organizations = {"system:nodes"};
    node.server = false;
    node.serial = 0x30;
    client_cert = pki.issue(node);
  }

  std::shared_ptr<TlsContext> server_tls(ClientAuth auth = ClientAuth::None) {
    TlsServerOptions o;
    o.credentials = {server_cert.cert_pem, server_cert.key_pem, pki.ca_pem()};
    o.client_auth = auth;
    auto ctx = TlsContext::server(o);
    EXPECT_TRUE(ctx) << ctx.error().what();
    return ctx ? *ctx : nullptr;
  }

  std::shared_ptr<TlsContext> client_tls(bool with_cert, std::string server_name = {}) {
    TlsClientOptions o;
    o.credentials.ca_bundle = pki.ca_pem();
    if (with_cert) {
      o.credentials.cert_chain = client_cert.cert_pem;
      o.credentials.private_key = client_cert.key_pem;
    }
    o.server_name = std::move(server_name);
    auto ctx = TlsContext::client(o);
    EXPECT_TRUE(ctx) << ctx.error().what();
    return ctx ? *ctx : nullptr;
  }

  TestPki pki;
  IssuedCert server_cert;
  IssuedCert client_cert;
};

TEST_F(LoopbackTls, ServesHttpsWithAlpnAndVerifiedIpSan) {
  start({}, server_tls());
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    auto call = co_await client.open(origin(client_tls(false)), get("/hello"));
    EXPECT_TRUE(call) << call.error().what();
    if (!call) {
      co_return;
    }
    auto tls = call->tls();
    EXPECT_TRUE(tls);
    if (tls) {
      EXPECT_EQ(tls->version, "TLSv1.3");
      EXPECT_EQ(tls->alpn, "http/1.1");
      EXPECT_TRUE(tls->peer);
      if (tls->peer) {
        EXPECT_EQ(tls->peer->common_name, "yurt-server");
        EXPECT_EQ(tls->peer->ip_addresses, std::vector<std::string>{"127.0.0.1"});
        EXPECT_EQ(tls->peer->dns_names, std::vector<std::string>{"localhost"});
        EXPECT_EQ(tls->peer->serial, "10");
      }
    }
    auto text = co_await call->read_all(100);
    EXPECT_TRUE(text && *text == "hello");
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackTls, HostNameIsVerified) {
  start({}, server_tls());
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    // "localhost" is in the certificate...
    auto ok = co_await client.request(origin(client_tls(false, "localhost")), get("/hello"));
    EXPECT_TRUE(ok) << ok.error().what();
    // ...this name is not.
    auto bad = co_await client.request(origin(client_tls(false, "api.example.com")), get("/hello"));
    EXPECT_FALSE(bad);
    if (!bad) {
      EXPECT_NE(bad.error().what().find("tls handshake with 127.0.0.1:"), std::string::npos)
          << bad.error().what();
      EXPECT_NE(bad.error().what().find("hostname mismatch"), std::string::npos)
          << bad.error().what();
    }
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackTls, UnknownCaIsRejected) {
  start({}, server_tls());
  TestPki other("someone else's CA");
  TlsClientOptions o;
  o.credentials.ca_bundle = other.ca_pem();
  auto tls = TlsContext::client(o);
  ASSERT_TRUE(tls);
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    auto r = co_await client.request(origin(*tls), get("/hello"));
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_NE(r.error().what().find("verify"), std::string::npos) << r.error().what();
    }
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackTls, MutualTlsRejectsAClientWithoutCertificate) {
  start({}, server_tls(ClientAuth::Require));
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    auto anonymous = co_await client.request(origin(client_tls(false)), get("/peer"));
    EXPECT_FALSE(anonymous);  // TLS 1.3: the alert arrives on the first read

    auto node = co_await client.request(origin(client_tls(true)), get("/peer"));
    EXPECT_TRUE(node) << node.error().what();
    if (node) {
      EXPECT_EQ(node->body, "CN=system:node:edge-1 O=system:nodes");
    }
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackTls, HotSwapServesTheNewCertificateToNewConnections) {
  auto tls = server_tls();
  start({}, tls);
  auto client_ctx = client_tls(false);
  HttpClient client(io.get_executor());
  auto serial_of = [&](HttpClient& c) -> asio::awaitable<std::string> {
    auto call = co_await c.open(origin(client_ctx), get("/hello"));
    if (!call) {
      co_return "error: " + call.error().what();
    }
    auto info = call->tls();
    co_await call->read_all(100);  // back to the pool
    co_return info && info->peer ? info->peer->serial : "none";
  };
  auto body = [&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await serial_of(client), "10");
    CertSpec renewed;
    renewed.common_name = "yurt-server";
    renewed.ip_addresses = {"127.0.0.1"};
    renewed.serial = 0x20;
    auto cert = pki.issue(renewed);
    auto updated = tls->update({cert.cert_pem, cert.key_pem, pki.ca_pem()});
    EXPECT_TRUE(updated) << updated.error().what();
    EXPECT_EQ(tls->generation(), 1U);
    // The kept-alive connection continues with the certificate it started with...
    EXPECT_EQ(co_await serial_of(client), "10");
    // ...a new connection gets the new one.
    HttpClient fresh(io.get_executor());
    EXPECT_EQ(co_await serial_of(fresh), "20");
  };
  run_awaitable(io, body());
}

TEST_F(LoopbackTls, TlsHalfCloseCrossesAConnectTunnel) {
  start({}, server_tls());
  tcp::acceptor echo(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(io, echo_after_eof(echo), asio::detached);
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    Request connect;
    connect.method = "CONNECT";
    connect.target = "127.0.0.1:" + std::to_string(echo.local_endpoint().port());
    auto call = co_await client.open(origin(client_tls(false)), connect);
    EXPECT_TRUE(call) << call.error().what();
    if (!call) {
      co_return;
    }
    auto stream = call->take_stream();
    EXPECT_TRUE(stream);
    if (!stream) {
      co_return;
    }
    co_await write_all(*stream, "over tls");
    auto [ec] = co_await stream->async_shutdown_send(kUse);  // close_notify, keep reading
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(co_await read_to_eof(*stream), "echo:over tls");
  };
  run_awaitable(io, body());
  echo.close();
}

TEST_F(LoopbackTls, TlsHalfCloseWorksWithTls12) {
  // TLS 1.2 peers expect a close_notify answer; ours is sent without waiting for it, and reading
  // after sending it must still work.
  auto tls = server_tls();
  SSL_CTX_set_max_proto_version(detail::TlsAccess::snapshot(*tls)->native_handle(), TLS1_2_VERSION);
  start({}, tls);
  tcp::acceptor echo(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(io, echo_after_eof(echo), asio::detached);
  HttpClient client(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    Request connect;
    connect.method = "CONNECT";
    connect.target = "127.0.0.1:" + std::to_string(echo.local_endpoint().port());
    auto call = co_await client.open(origin(client_tls(false)), connect);
    EXPECT_TRUE(call) << call.error().what();
    if (!call) {
      co_return;
    }
    EXPECT_EQ(call->tls()->version, "TLSv1.2");
    auto stream = call->take_stream();
    if (!stream) {
      co_return;
    }
    co_await write_all(*stream, "old protocol");
    auto [ec] = co_await stream->async_shutdown_send(kUse);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_EQ(co_await read_to_eof(*stream), "echo:old protocol");
  };
  run_awaitable(io, body());
  echo.close();
}

TEST(TlsContext, BadMaterialIsAPreciseError) {
  TestPki pki;
  CertSpec spec;
  spec.common_name = "x";
  auto cert = pki.issue(spec);
  auto other = pki.issue(spec);

  TlsServerOptions no_cert;
  auto r1 = TlsContext::server(no_cert);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code(), make_error_code(Errc::TlsConfig));

  TlsServerOptions garbage;
  garbage.credentials = {"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
                         cert.key_pem, ""};
  auto r2 = TlsContext::server(garbage);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message().find("certificate chain"), std::string::npos)
      << r2.error().message();

  TlsServerOptions mismatch;
  mismatch.credentials = {cert.cert_pem, other.key_pem, ""};
  auto r3 = TlsContext::server(mismatch);
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.error().message().find("does not match"), std::string::npos) << r3.error().message();

  TlsServerOptions mtls_without_ca;
  mtls_without_ca.credentials = {cert.cert_pem, cert.key_pem, ""};
  mtls_without_ca.client_auth = ClientAuth::Require;
  EXPECT_FALSE(TlsContext::server(mtls_without_ca));

  TlsServerOptions good;
  good.credentials = {cert.cert_pem, cert.key_pem, ""};
  auto ctx = TlsContext::server(good);
  ASSERT_TRUE(ctx) << ctx.error().what();
  auto failed_update = (*ctx)->update({"junk", "junk", ""});
  EXPECT_FALSE(failed_update);
  EXPECT_EQ((*ctx)->generation(), 0U);  // the old snapshot stays in use
}

}  // namespace
}  // namespace yurt::net::test
