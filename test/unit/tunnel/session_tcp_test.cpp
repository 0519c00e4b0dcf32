// Two sessions over a real loopback TCP connection: many streams, flow control against real
// socket buffers, and a graceful GOAWAY that half-closes the socket and lingers for the peer.

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "yurt/base/clock.hpp"

#include "test/unit/tunnel/session_harness.hpp"

namespace yurt::tunnel {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): test helpers
using tcp = asio::ip::tcp;

asio::awaitable<void> echo(Stream stream) {
  auto data = co_await read_all(stream);
  if (!data) {
    ADD_FAILURE() << data.error().what();
    co_return;
  }
  YURT_CO_EXPECT(stream.write(*data));
  YURT_CO_EXPECT(stream.shutdown_send());
}

asio::awaitable<void> accept_and_echo(Session& session) {
  for (;;) {
    auto stream = co_await session.accept_stream();
    if (!stream) {
      co_return;  // going away
    }
    EXPECT_TRUE(stream->accept());
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, echo(std::move(*stream)), asio::detached);
  }
}

asio::awaitable<void> roundtrip(Session& session, std::uint32_t seed, int& done) {
  auto stream = co_await session.open_stream("127.0.0.1:10250");
  if (!stream) {
    ADD_FAILURE() << stream.error().what();
    co_return;
  }
  const auto payload = pattern(512 * 1024, seed);
  YURT_CO_EXPECT(stream->write(payload));
  YURT_CO_EXPECT(stream->shutdown_send());
  auto back = co_await read_all(*stream);
  EXPECT_TRUE(back && *back == payload);
  ++done;
}

TEST(SessionOverTcp, StreamsEchoAndTheSessionShutsDownGracefully) {
  asio::io_context io;
  SystemClock clock;  // real time: default keepalive and timeouts never fire in this test
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket dialled(io);
  tcp::socket accepted(io);
  auto connect = [&]() -> asio::awaitable<void> {
    auto [cec] = co_await dialled.async_connect(acceptor.local_endpoint(), kUse);
    EXPECT_FALSE(cec);
    auto [aec, socket] = co_await acceptor.async_accept(kUse);
    EXPECT_FALSE(aec);
    accepted = std::move(socket);
  };
  run_awaitable(io, connect());

  auto server_settings = test_settings(Role::Server);
  auto agent_settings = test_settings(Role::Agent);
  server_settings.tick = agent_settings.tick = std::chrono::milliseconds(50);
  server_settings.initial_window = agent_settings.initial_window = 64 * 1024;
  Session server(net::AnyStream::wrap(std::move(accepted)), server_settings, clock);
  Session agent(net::AnyStream::wrap(std::move(dialled)), agent_settings, clock);
  std::optional<Result<void>> server_result;
  std::optional<Result<void>> agent_result;
  asio::co_spawn(io, server.run(),
                 [&](std::exception_ptr, Result<void> r) { server_result = std::move(r); });
  asio::co_spawn(io, agent.run(),
                 [&](std::exception_ptr, Result<void> r) { agent_result = std::move(r); });
  asio::co_spawn(io, accept_and_echo(agent), asio::detached);

  constexpr int kStreams = 16;
  int done = 0;
  auto body = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < kStreams; ++i) {
      asio::co_spawn(ex, roundtrip(server, static_cast<std::uint32_t>(i), done), asio::detached);
    }
    YURT_CO_EXPECT(eventually([&] { return done == kStreams; }));
    server.go_away(std::chrono::seconds(5));
    YURT_CO_EXPECT(eventually([&] { return server_result && agent_result; }));
  };
  run_awaitable(io, body());
  EXPECT_EQ(done, kStreams);
  ASSERT_TRUE(server_result && agent_result);
  EXPECT_TRUE(*server_result) << server_result->error().what();
  EXPECT_TRUE(*agent_result) << agent_result->error().what();
  EXPECT_EQ(server.state(), SessionState::Closed);
  EXPECT_EQ(agent.state(), SessionState::Closed);
}

}  // namespace
}  // namespace yurt::tunnel
