#include "yurt/tunnel/session.hpp"

#include <map>
#include <set>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/detached.hpp>
#include <gtest/gtest.h>

#include "yurt/net/splice.hpp"

#include "test/unit/tunnel/session_harness.hpp"

namespace yurt::tunnel {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): test helpers

bool has(const Error& e, std::string_view text) {
  return e.message().find(text) != std::string::npos;
}

// Agent side of most tests: accepts `count` streams and echoes each (reads to EOF, writes it back,
// half-closes).
asio::awaitable<void> echo(Stream stream) {
  auto data = co_await read_all(stream);
  EXPECT_TRUE(data) << data.error().what();
  if (!data) {
    co_return;
  }
  auto w = co_await stream.write(*data);
  EXPECT_TRUE(w) << w.error().what();
  auto s = co_await stream.shutdown_send();
  EXPECT_TRUE(s) << s.error().what();
}

asio::awaitable<void> echo_server(Session& session, int count) {
  for (int i = 0; i < count; ++i) {
    auto stream = co_await session.accept_stream();
    if (!stream) {
      ADD_FAILURE() << stream.error().what();
      co_return;
    }
    EXPECT_EQ(stream->state(), StreamState::Pending);
    EXPECT_TRUE(stream->accept());
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, echo(std::move(*stream)), asio::detached);
  }
}

// Opens a stream, sends `size` bytes, half-closes, and checks the echo.
asio::awaitable<void> echo_client(Session& session,
                                  std::size_t size,
                                  std::uint32_t seed,
                                  int& done) {
  auto stream = co_await session.open_stream("10.0.0.12:10250");
  if (!stream) {
    ADD_FAILURE() << stream.error().what();
    co_return;
  }
  const auto payload = pattern(size, seed);
  YURT_CO_EXPECT(stream->write(payload));
  YURT_CO_EXPECT(stream->shutdown_send());
  auto back = co_await read_all(*stream);
  EXPECT_TRUE(back) << back.error().what();
  if (back) {
    EXPECT_EQ(back->size(), payload.size());
    EXPECT_TRUE(*back == payload);
  }
  EXPECT_EQ(stream->state(), StreamState::Closed);
  ++done;
}

TEST_F(SessionPair, HandshakeOpensBothSides) {
  start();
  EXPECT_EQ(server->state(), SessionState::Idle);
  auto body = [&]() -> asio::awaitable<void> {
    YURT_CO_EXPECT(agent->wait_open());
    YURT_CO_EXPECT(server->wait_open());
  };
  run(body());
  EXPECT_EQ(server->state(), SessionState::Open);
  EXPECT_EQ(agent->state(), SessionState::Open);
  ASSERT_TRUE(server->peer_hello());
  EXPECT_EQ(server->peer_hello()->node_name, "edge-1");
  EXPECT_EQ(server->peer_hello()->max_streams, 256U);
}

TEST_F(SessionPair, ServerRefusesAnUnauthorizedAgent) {
  auto settings = test_settings(Role::Server);
  settings.authorize = [](const Hello& hello) -> Result<void> {
    return fail(Errc::Refused, "certificate names node edge-2, HELLO says " + hello.node_name);
  };
  start(std::move(settings));
  wait_results();
  ASSERT_FALSE(*agent_result);
  EXPECT_EQ(agent_result->error().code(), make_error_code(Errc::Refused));
  EXPECT_TRUE(has(agent_result->error(), "unauthorized")) << agent_result->error().what();
  EXPECT_TRUE(has(agent_result->error(), "edge-2")) << agent_result->error().what();
  ASSERT_FALSE(*server_result);
  EXPECT_EQ(server_result->error().code(), make_error_code(Errc::Refused));
  EXPECT_EQ(agent->state(), SessionState::Closed);
  auto open = run(agent->open_stream("a:1"));
  EXPECT_FALSE(open);
}

TEST_F(SessionPair, ManyConcurrentStreamsEchoBothWays) {
  auto server_settings = test_settings(Role::Server);
  auto agent_settings = test_settings(Role::Agent);
  server_settings.initial_window = agent_settings.initial_window = 16 * 1024;
  start(std::move(server_settings), std::move(agent_settings));
  constexpr int kEach = 40;
  int done = 0;
  auto body = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, echo_server(*agent, kEach), asio::detached);
    asio::co_spawn(ex, echo_server(*server, kEach), asio::detached);
    for (int i = 0; i < kEach; ++i) {
      const std::size_t size = 1 + static_cast<std::size_t>(i) * 2500;  // up to ~100 KiB
      asio::co_spawn(ex, echo_client(*server, size, static_cast<std::uint32_t>(i), done),
                     asio::detached);
      asio::co_spawn(ex, echo_client(*agent, size, static_cast<std::uint32_t>(i + 1000), done),
                     asio::detached);
    }
    YURT_CO_EXPECT(eventually([&] { return done == 2 * kEach; }));
    YURT_CO_EXPECT(
        eventually([&] { return server->stream_count() == 0 && agent->stream_count() == 0; }));
  };
  run(body());
  EXPECT_EQ(done, 2 * kEach);
  EXPECT_EQ(server->stats().streams_opened, static_cast<std::uint64_t>(kEach));
  EXPECT_EQ(agent->stats().streams_accepted, static_cast<std::uint64_t>(kEach));
}

// The heart of flow control: a reader that never reads holds only its own window; the other 199
// streams and the connection keep going.
TEST_F(SessionPair, StalledReaderDoesNotBlockOtherStreams) {
  constexpr std::uint32_t kWindow = 16 * 1024;
  constexpr std::size_t kSize = 4 * kWindow;
  constexpr int kStreams = 200;
  auto server_settings = test_settings(Role::Server);
  auto agent_settings = test_settings(Role::Agent);
  server_settings.initial_window = agent_settings.initial_window = kWindow;
  start(std::move(server_settings), std::move(agent_settings));

  std::map<std::uint32_t, bool> written;  // agent side: stream id → its write completed
  auto produce = [&](Stream stream) -> asio::awaitable<void> {
    const auto id = stream.id();
    written[id] = false;
    const auto payload = pattern(kSize, id);
    YURT_CO_EXPECT(stream.write(payload));
    YURT_CO_EXPECT(stream.shutdown_send());
    written[id] = true;
  };
  auto accept_all = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < kStreams; ++i) {
      auto stream = co_await agent->accept_stream();
      EXPECT_TRUE(stream) << stream.error().what();
      if (!stream) {
        co_return;
      }
      EXPECT_TRUE(stream->accept());
      // The producer owns the stream while it writes.
      auto ex = co_await asio::this_coro::executor;
      asio::co_spawn(ex, produce(std::move(*stream)), asio::detached);
    }
  };
  int complete = 0;
  auto consume = [&](Stream& stream) -> asio::awaitable<void> {
    auto data = co_await read_all(stream);
    EXPECT_TRUE(data && *data == pattern(kSize, stream.id()))
        << "stream " << stream.id() << ": "
        << (data ? std::to_string(data->size()) + " bytes" : data.error().what());
    ++complete;
  };
  std::vector<Stream> streams;
  auto body = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, accept_all(), asio::detached);
    for (int i = 0; i < kStreams; ++i) {
      auto stream = co_await server->open_stream("edge-1:10250");
      EXPECT_TRUE(stream) << stream.error().what();
      if (!stream) {
        co_return;
      }
      streams.push_back(std::move(*stream));
    }
    for (int i = 1; i < kStreams; ++i) {  // streams[0] is never read (yet)
      asio::co_spawn(ex, consume(streams[static_cast<std::size_t>(i)]), asio::detached);
    }
    YURT_CO_EXPECT(eventually([&] { return complete == kStreams - 1; }));
    // The stalled stream holds exactly one window of data; its writer waits for credit.
    Stream& stalled = streams[0];
    YURT_CO_EXPECT(eventually([&] { return stalled.buffered() == kWindow; }));
    EXPECT_EQ(stalled.buffered(), kWindow);
    EXPECT_FALSE(written[stalled.id()]);
    // Reading it now lets the writer finish.
    co_await consume(stalled);
    EXPECT_TRUE(written[stalled.id()]);
  };
  run(body());
  EXPECT_EQ(complete, kStreams);
}

TEST_F(SessionPair, HalfCloseWorksInBothDirections) {
  start();
  auto body = [&]() -> asio::awaitable<void> {
    // Server finishes sending first; the agent answers after reading EOF.
    auto s_a = co_await open_pair();
    auto& s = s_a.first;
    auto& a = s_a.second;
    YURT_CO_EXPECT(s->write("request"));
    YURT_CO_EXPECT(s->shutdown_send());
    EXPECT_EQ(s->state(), StreamState::HalfClosedLocal);
    auto got = co_await read_all(*a);
    EXPECT_EQ(got.value(), "request");
    EXPECT_EQ(a->state(), StreamState::HalfClosedRemote);
    YURT_CO_EXPECT(a->write("response after EOF"));
    YURT_CO_EXPECT(a->shutdown_send());
    EXPECT_EQ(a->state(), StreamState::Closed);
    YURT_CO_EXPECT_READS(*s, "response after EOF");
    EXPECT_EQ(s->state(), StreamState::Closed);
    // Writing after our own FIN is refused at the Asio level.
    auto late = co_await s->write("x");
    EXPECT_FALSE(late);

    // Agent finishes sending first this time.
    auto s2_a2 = co_await open_pair();
    auto& s2 = s2_a2.first;
    auto& a2 = s2_a2.second;
    YURT_CO_EXPECT(a2->shutdown_send());
    YURT_CO_EXPECT_READS(*s2, "");
    YURT_CO_EXPECT(s2->write("late"));
    YURT_CO_EXPECT(s2->shutdown_send());
    YURT_CO_EXPECT_READS(*a2, "late");
    YURT_CO_EXPECT(
        eventually([&] { return server->stream_count() == 0 && agent->stream_count() == 0; }));
  };
  run(body());
}

TEST_F(SessionPair, ResetReachesThePeerAndFailsItsPendingRead) {
  start();
  auto body = [&]() -> asio::awaitable<void> {
    auto s_a = co_await open_pair();
    auto& s = s_a.first;
    auto& a = s_a.second;
    std::optional<boost::system::error_code> read_error;
    char byte = 0;
    a->async_read_some(asio::buffer(&byte, 1),
                       [&](boost::system::error_code ec, std::size_t) { read_error = ec; });
    s->reset(WireCode::Cancelled, "user pressed ctrl-c");
    EXPECT_EQ(s->state(), StreamState::Reset);
    YURT_CO_EXPECT(eventually([&] { return read_error.has_value(); }));
    EXPECT_EQ(*read_error, asio::error::connection_reset);
    EXPECT_EQ(a->state(), StreamState::Reset);
    EXPECT_EQ(a->error().code(), make_error_code(Errc::StreamReset));
    EXPECT_TRUE(has(a->error(), "reset by peer: cancelled: \"user pressed ctrl-c\""))
        << a->error().what();
    auto w = co_await a->write("x");
    YURT_CO_ASSERT(!(w));
    EXPECT_EQ(w.error().code(), make_error_code(Errc::StreamReset));
    auto mine = co_await s->read_some(asio::buffer(&byte, 1));
    EXPECT_FALSE(mine);
    EXPECT_EQ(server->stream_count(), 0U);
    EXPECT_EQ(agent->stream_count(), 0U);

    // Dropping an unfinished stream resets it too.
    auto s2_a2 = co_await open_pair();
    auto& s2 = s2_a2.first;
    auto& a2 = s2_a2.second;
    { Stream gone = std::move(*a2); }
    auto r = co_await s2->read_some(asio::buffer(&byte, 1));
    YURT_CO_ASSERT(!(r));
    EXPECT_EQ(r.error().code(), make_error_code(Errc::StreamReset));
    EXPECT_TRUE(has(r.error(), "closed by the application")) << r.error().what();
  };
  run(body());
}

TEST_F(SessionPair, RefusedOpenCarriesThePeersReason) {
  start();
  auto body = [&]() -> asio::awaitable<void> {
    auto refuser = [&]() -> asio::awaitable<void> {
      auto a = co_await agent->accept_stream();
      EXPECT_EQ(a->destination(), "10.0.0.99:22");
      a->refuse(WireCode::NotAllowed, "port 22 is not an allowed kubelet port");
      EXPECT_EQ(a->state(), StreamState::Refused);
    };
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, refuser(), asio::detached);
    auto s = co_await server->open_stream("10.0.0.99:22");
    YURT_CO_ASSERT(!(s));
    EXPECT_EQ(s.error().code(), make_error_code(Errc::Refused));
    EXPECT_TRUE(has(s.error(), "not allowed: \"port 22 is not an allowed kubelet port\""))
        << s.error().what();
    auto bad = co_await server->open_stream("no port");
    YURT_CO_ASSERT(!(bad));
    EXPECT_EQ(bad.error().code(), make_error_code(Errc::InvalidArgument));
    EXPECT_EQ(server->stream_count(), 0U);
  };
  run(body());
}

TEST_F(SessionPair, OpenTimesOutWhenThePeerNeverAnswers) {
  auto settings = test_settings(Role::Server);
  settings.open_timeout = 5s;
  start(std::move(settings));
  auto body = [&]() -> asio::awaitable<void> {
    YURT_CO_EXPECT(server->wait_open());
    auto ex = co_await asio::this_coro::executor;
    std::optional<Result<Stream>> opened;
    asio::co_spawn(ex, server->open_stream("edge-1:10250"),
                   [&](std::exception_ptr, Result<Stream> r) { opened.emplace(std::move(r)); });
    YURT_CO_EXPECT(eventually([&] { return agent->stream_count() == 1; }));
    clock.advance(6s);
    YURT_CO_EXPECT(eventually([&] { return opened.has_value(); }));
    YURT_CO_ASSERT(!(*opened));
    EXPECT_EQ(opened->error().code(), make_error_code(Errc::Timeout));
    // The agent saw the RESET: the stream never reaches accept_stream().
    YURT_CO_EXPECT(eventually([&] { return agent->stream_count() == 0; }));
    server->go_away(1s);
    auto next = co_await agent->accept_stream();
    EXPECT_FALSE(next);
  };
  run(body());
}

TEST_F(SessionPair, StreamLimitOfThePeerIsEnforced) {
  auto agent_settings = test_settings(Role::Agent);
  agent_settings.max_streams = 2;
  start(test_settings(Role::Server), std::move(agent_settings));
  auto body = [&]() -> asio::awaitable<void> {
    auto first = co_await open_pair("edge-1:1");
    auto second = co_await open_pair("edge-1:2");
    EXPECT_TRUE(first.first && second.first);
    auto third = co_await server->open_stream("edge-1:3");
    YURT_CO_ASSERT(!third);
    EXPECT_EQ(third.error().code(), make_error_code(Errc::TooManyStreams));
    // A finished stream frees its slot.
    first.first->reset(WireCode::Cancelled, "done");
    auto fourth = co_await open_pair("edge-1:4");
    EXPECT_TRUE(fourth.first && fourth.second);
  };
  run(body());
}

TEST_F(SessionPair, KeepalivePingsKeepAnIdleSessionAlive) {
  auto server_settings = test_settings(Role::Server);
  auto agent_settings = test_settings(Role::Agent);
  server_settings.ping_interval = agent_settings.ping_interval = 10s;
  server_settings.ping_timeout = agent_settings.ping_timeout = 30s;
  start(std::move(server_settings), std::move(agent_settings));
  auto body = [&]() -> asio::awaitable<void> {
    YURT_CO_EXPECT(server->wait_open());
    YURT_CO_EXPECT(agent->wait_open());
    // Two minutes of fake time in ping intervals; each side's PING is answered by a PONG.
    for (std::uint64_t round = 1; round <= 12; ++round) {
      clock.advance(10s);
      auto ponged = co_await eventually([&] {
        return server->stats().pongs_received >= round && agent->stats().pongs_received >= round;
      });
      EXPECT_TRUE(ponged) << "round " << round;
    }
    EXPECT_EQ(server->state(), SessionState::Open);
    EXPECT_EQ(agent->state(), SessionState::Open);
  };
  run(body());
}

TEST_F(SessionPair, GoAwayDrainsExistingStreamsAndRefusesNewOnes) {
  start();
  auto body = [&]() -> asio::awaitable<void> {
    auto s_a = co_await open_pair();
    auto& s = s_a.first;
    auto& a = s_a.second;
    server->go_away(60s);
    EXPECT_EQ(server->state(), SessionState::Draining);
    auto refused = co_await server->open_stream("edge-1:10250");
    YURT_CO_ASSERT(!(refused));
    EXPECT_EQ(refused.error().code(), make_error_code(Errc::GoingAway));
    YURT_CO_EXPECT(eventually([&] { return agent->state() == SessionState::Draining; }));
    auto agent_open = co_await agent->open_stream("server:1");
    EXPECT_FALSE(agent_open);
    auto agent_accept = co_await agent->accept_stream();
    EXPECT_EQ(agent_accept.error().code(), make_error_code(Errc::GoingAway));
    // The existing stream still works both ways and finishes normally...
    YURT_CO_EXPECT(s->write("still here"));
    YURT_CO_EXPECT(s->shutdown_send());
    YURT_CO_EXPECT_READS(*a, "still here");
    YURT_CO_EXPECT(a->write("me too"));
    YURT_CO_EXPECT(a->shutdown_send());
    YURT_CO_EXPECT_READS(*s, "me too");
    // ...and then both sessions close cleanly.
    YURT_CO_EXPECT(eventually([&] { return server_result && agent_result; }));
  };
  run(body());
  ASSERT_TRUE(server_result && agent_result);
  EXPECT_TRUE(*server_result) << server_result->error().what();
  EXPECT_TRUE(*agent_result) << agent_result->error().what();
  EXPECT_EQ(server->state(), SessionState::Closed);
  EXPECT_EQ(agent->state(), SessionState::Closed);
}

TEST_F(SessionPair, DrainDeadlineResetsStreamsThatDoNotFinish) {
  start();
  auto body = [&]() -> asio::awaitable<void> {
    auto s_a = co_await open_pair();  // the server's end stays open: it never finishes
    auto& a = s_a.second;
    server->go_away(5s);
    clock.advance(6s);
    auto r = co_await read_all(*a);
    YURT_CO_ASSERT(!(r));
    EXPECT_EQ(r.error().code(), make_error_code(Errc::StreamReset));
    EXPECT_TRUE(has(r.error(), "drain deadline")) << r.error().what();
    YURT_CO_EXPECT(eventually([&] { return server_result && agent_result; }));
  };
  run(body());
  EXPECT_TRUE(*server_result);
  EXPECT_TRUE(*agent_result);
}

TEST_F(SessionPair, SplicesLikeAnyOtherStream) {
  start();
  auto body = [&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    // Agent: accept, and splice the stream to a "kubelet" at the other end of a pipe.
    auto [kubelet_side, kubelet] = net::make_pipe(ex);
    std::optional<net::SpliceResult> spliced;
    auto agent_side = [&](net::AnyStream to_kubelet) -> asio::awaitable<void> {
      auto a = co_await agent->accept_stream();
      EXPECT_TRUE(a->accept());
      auto tunnel_side = net::AnyStream::wrap(std::move(*a));
      auto result =
          co_await net::splice(std::move(tunnel_side), std::move(to_kubelet), net::Millis(0));
      spliced = std::move(result);
    };
    asio::co_spawn(ex, agent_side(std::move(kubelet_side)), asio::detached);
    // Kubelet: answers only after EOF, so the half-close has to cross the tunnel.
    auto kubelet_echo = [&]() -> asio::awaitable<void> {
      std::string got;
      char buffer[1024];
      for (;;) {
        auto [ec, n] = co_await kubelet.async_read_some(asio::buffer(buffer), kUse);
        got.append(buffer, n);
        if (ec) {
          break;
        }
      }
      std::string reply = "echo:" + got;
      auto [ec, n] = co_await asio::async_write(kubelet, asio::buffer(reply), kUse);
      EXPECT_FALSE(ec);
      kubelet.close();
    };
    asio::co_spawn(ex, kubelet_echo(), asio::detached);
    auto s = co_await server->open_stream("edge-1:10250");
    const auto big = pattern(300 * 1024, 7);
    YURT_CO_EXPECT(s->write(big));
    YURT_CO_EXPECT(s->shutdown_send());
    auto back = co_await read_all(*s);
    EXPECT_TRUE(back && *back == "echo:" + big);
    YURT_CO_EXPECT(eventually([&] { return spliced.has_value(); }));
    EXPECT_FALSE(spliced->error.code()) << spliced->error.what();
    EXPECT_EQ(spliced->a_to_b, big.size());
  };
  run(body());
}

TEST_F(SessionPair, CancellingRunGracefullyDrainsThenClosed) {
  auto [a, b] = net::make_pipe(io.get_executor());
  server = std::make_unique<Session>(std::move(a), test_settings(Role::Server), clock);
  agent = std::make_unique<Session>(std::move(b), test_settings(Role::Agent), clock);
  asio::cancellation_signal stop_server;
  asio::co_spawn(
      io, server->run(),
      asio::bind_cancellation_slot(stop_server.slot(), [this](std::exception_ptr, Result<void> r) {
        server_result = std::move(r);
      }));
  asio::co_spawn(io, agent->run(),
                 [this](std::exception_ptr, Result<void> r) { agent_result = std::move(r); });
  auto body = [&]() -> asio::awaitable<void> {
    auto s_acc = co_await open_pair();
    auto& s = s_acc.first;
    auto& acc = s_acc.second;
    stop_server.emit(asio::cancellation_type::total);  // graceful: the stream may finish
    YURT_CO_EXPECT(eventually([&] { return server->state() == SessionState::Draining; }));
    YURT_CO_EXPECT(s->write("bye"));
    YURT_CO_EXPECT(s->shutdown_send());
    YURT_CO_EXPECT_READS(*acc, "bye");
    YURT_CO_EXPECT(acc->shutdown_send());
    YURT_CO_EXPECT(eventually([&] { return server_result && agent_result; }));
  };
  run(body());
  EXPECT_TRUE(*server_result) << server_result->error().what();
  EXPECT_TRUE(*agent_result) << agent_result->error().what();
}

TEST_F(SessionPair, TerminalCancellationAbortsAndFailsStreams) {
  auto [a, b] = net::make_pipe(io.get_executor());
  server = std::make_unique<Session>(std::move(a), test_settings(Role::Server), clock);
  agent = std::make_unique<Session>(std::move(b), test_settings(Role::Agent), clock);
  asio::cancellation_signal stop_server;
  asio::co_spawn(
      io, server->run(),
      asio::bind_cancellation_slot(stop_server.slot(), [this](std::exception_ptr, Result<void> r) {
        server_result = std::move(r);
      }));
  asio::co_spawn(io, agent->run(),
                 [this](std::exception_ptr, Result<void> r) { agent_result = std::move(r); });
  auto body = [&]() -> asio::awaitable<void> {
    auto s_acc = co_await open_pair();
    auto& acc = s_acc.second;
    stop_server.emit(asio::cancellation_type::terminal);
    auto r = co_await read_all(*acc);  // the agent loses the connection under the stream
    YURT_CO_ASSERT(!(r));
    EXPECT_EQ(r.error().code(), make_error_code(Errc::SessionClosed));
    YURT_CO_EXPECT(eventually([&] { return server_result && agent_result; }));
  };
  run(body());
  ASSERT_FALSE(*server_result);
  EXPECT_EQ(server_result->error().code(), make_error_code(Errc::SessionClosed));
  ASSERT_FALSE(*agent_result);
  EXPECT_TRUE(has(agent_result->error(), "peer closed the connection"))
      << agent_result->error().what();
}

// ---- against a scripted peer ----

class ScriptedPeer : public ::testing::Test {
 protected:
  void start(SessionSettings settings) {
    auto [a, b] = net::make_pipe(io.get_executor());
    const auto role = settings.role;
    session = std::make_unique<Session>(std::move(a), std::move(settings), clock);
    peer = std::make_unique<RawPeer>(std::move(b), peer_of(role));
    asio::co_spawn(io, session->run(), [this](std::exception_ptr e, Result<void> r) {
      EXPECT_FALSE(e);
      result = std::move(r);
    });
  }

  // Plays the server's half of the handshake for an agent session.
  asio::awaitable<void> accept_agent() {
    auto hello = co_await peer->read();
    EXPECT_TRUE(hello && std::holds_alternative<Hello>(*hello));
    peer->send_raw(preface());
    co_await peer->flush();
    peer->send(HelloAck{0, 16});
    co_await peer->flush();
  }

  // The peer opens stream `id` toward the session, which accepts it; returns our end.
  asio::awaitable<Stream> peer_opens(std::uint32_t id) {
    peer->send(Open{id, 65536, "127.0.0.1:10250"});
    co_await peer->flush();
    auto stream = co_await session->accept_stream();
    EXPECT_TRUE(stream && stream->accept());
    co_await peer->read_until(FrameType::OpenAck);
    co_return std::move(*stream);
  }

  // The peer sends `bytes` on stream `id`, we read them at once; returns the credit granted.
  asio::awaitable<std::optional<Frame>> send_read_and_grant(Stream& stream,
                                                            std::uint32_t id,
                                                            std::uint32_t bytes) {
    peer->send(Data{id, std::string(bytes, 'a')});
    co_await peer->flush();
    EXPECT_TRUE(co_await eventually([&] { return stream.buffered() == bytes; }));
    std::vector<char> buffer(bytes);
    auto n = co_await stream.read_some(asio::buffer(buffer));
    EXPECT_EQ(n.value(), bytes);
    co_return co_await peer->read_until(FrameType::WindowUpdate);
  }

  template <class T>
  T run(asio::awaitable<T> coro) {
    return run_awaitable(io, std::move(coro));
  }

  void TearDown() override {
    if (session) {
      session->close("test over");
      if (!result) {
        auto wait = [this]() -> asio::awaitable<bool> {
          co_return co_await eventually([this] { return result.has_value(); });
        };
        EXPECT_TRUE(run(wait()));
      }
    }
  }

  asio::io_context io;
  FakeClock clock;
  std::unique_ptr<Session> session;
  std::unique_ptr<RawPeer> peer;
  std::optional<Result<void>> result;
};

TEST_F(ScriptedPeer, AgentSendsPrefaceAndHelloThenWaitsForTheAck) {
  start(test_settings(Role::Agent));
  auto body = [&]() -> asio::awaitable<void> {
    auto hello = co_await peer->read();
    YURT_CO_ASSERT(hello);
    EXPECT_EQ(*hello, Frame(Hello{0, 256, "edge-1"}));
    EXPECT_EQ(session->state(), SessionState::AwaitingHelloAck);
    peer->send_raw(preface());
    co_await peer->flush();
    peer->send(HelloAck{0, 16});
    co_await peer->flush();
    YURT_CO_EXPECT(session->wait_open());
    EXPECT_EQ(session->state(), SessionState::Open);
  };
  run(body());
}

TEST_F(ScriptedPeer, HandshakeTimesOut) {
  start(test_settings(Role::Agent));
  auto body = [&]() -> asio::awaitable<void> {
    co_await peer->read();  // HELLO, never answered
    clock.advance(11s);
    auto goaway = co_await peer->read_until(FrameType::GoAway);
    YURT_CO_ASSERT(goaway);
    EXPECT_EQ(std::get<GoAway>(*goaway).code, WireCode::Timeout);
    peer->stream().close();
    YURT_CO_EXPECT(eventually([&] { return result.has_value(); }));
  };
  run(body());
  ASSERT_FALSE(*result);
  EXPECT_EQ(result->error().code(), make_error_code(Errc::Timeout));
  EXPECT_TRUE(has(result->error(), "no HELLO_ACK")) << result->error().what();
}

TEST_F(ScriptedPeer, SilentPeerIsDeclaredDeadAndItsStreamsFail) {
  auto settings = test_settings(Role::Agent);
  settings.ping_interval = 10s;
  settings.ping_timeout = 30s;
  start(std::move(settings));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    peer->send(Open{1, 65536, "127.0.0.1:10250"});
    co_await peer->flush();
    auto stream = co_await session->accept_stream();
    EXPECT_TRUE(stream->accept());
    std::optional<boost::system::error_code> read_error;
    char byte = 0;
    stream->async_read_some(asio::buffer(&byte, 1),
                            [&](boost::system::error_code ec, std::size_t) { read_error = ec; });
    auto ack = co_await peer->read_until(FrameType::OpenAck);
    EXPECT_TRUE(ack);
    clock.advance(10s);
    auto ping = co_await peer->read();  // keepalive goes out; the peer does not answer
    YURT_CO_ASSERT(ping);
    EXPECT_EQ(type_of(*ping), FrameType::Ping);
    EXPECT_EQ(session->state(), SessionState::Open);
    clock.advance(21s);
    YURT_CO_EXPECT(eventually([&] { return result.has_value() && read_error; }));
    EXPECT_EQ(*read_error, asio::error::connection_aborted);
    EXPECT_EQ(stream->error().code(), make_error_code(Errc::SessionClosed));
    EXPECT_TRUE(has(stream->error(), "keepalive")) << stream->error().what();
  };
  run(body());
  ASSERT_FALSE(*result);
  EXPECT_EQ(result->error().code(), make_error_code(Errc::Timeout));
  EXPECT_EQ(session->state(), SessionState::Closed);
}

TEST_F(ScriptedPeer, GarbageClosesTheSessionWithGoAwayAndFailsStreams) {
  start(test_settings(Role::Agent));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    peer->send(Open{1, 65536, "127.0.0.1:10250"});
    co_await peer->flush();
    auto stream = co_await session->accept_stream();
    EXPECT_TRUE(stream->accept());
    peer->send_raw("\x47\x45\x54\x20 / HTTP/1.1\r\n\r\n");
    co_await peer->flush();
    auto goaway = co_await peer->read_until(FrameType::GoAway);
    YURT_CO_ASSERT(goaway);
    EXPECT_EQ(std::get<GoAway>(*goaway).code, WireCode::Protocol);
    EXPECT_NE(std::get<GoAway>(*goaway).message.find("unknown frame type"), std::string::npos);
    EXPECT_EQ(std::get<GoAway>(*goaway).last_stream_id, 1U);
    auto after = co_await peer->read();
    EXPECT_FALSE(after);  // then EOF
    auto r = co_await read_all(*stream);
    YURT_CO_ASSERT(!(r));
    EXPECT_EQ(r.error().code(), make_error_code(Errc::SessionClosed));
    EXPECT_TRUE(has(r.error(), "unknown frame type")) << r.error().what();
    peer->stream().close();
    YURT_CO_EXPECT(eventually([&] { return result.has_value(); }));
  };
  run(body());
  ASSERT_FALSE(*result);
  EXPECT_EQ(result->error().code(), make_error_code(Errc::UnknownFrameType));
}

TEST_F(ScriptedPeer, ServerAnswersANonTunnelClientWithGoAway) {
  start(test_settings(Role::Server));
  auto body = [&]() -> asio::awaitable<void> {
    EXPECT_EQ(session->state(), SessionState::AwaitingHello);
    peer->send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    co_await peer->flush();
    auto goaway = co_await peer->read();  // after the server's preface
    YURT_CO_ASSERT(goaway);
    EXPECT_EQ(type_of(*goaway), FrameType::GoAway);
    peer->stream().close();
    YURT_CO_EXPECT(eventually([&] { return result.has_value(); }));
  };
  run(body());
  ASSERT_FALSE(*result);
  EXPECT_EQ(result->error().code(), make_error_code(Errc::BadPreface));
}

TEST_F(ScriptedPeer, NewerAgentLearnsTheServersVersion) {
  start(test_settings(Role::Server));
  auto body = [&]() -> asio::awaitable<void> {
    peer->send_raw(std::string_view("YTUN\0\2\0\0", 8));
    co_await peer->flush();
    auto goaway = co_await peer->read();  // our preface (version 1) decoded fine, then GOAWAY
    YURT_CO_ASSERT(goaway);
    EXPECT_EQ(std::get<GoAway>(*goaway).code, WireCode::UnsupportedVersion);
    peer->stream().close();
    YURT_CO_EXPECT(eventually([&] { return result.has_value(); }));
  };
  run(body());
  EXPECT_EQ(result->error().code(), make_error_code(Errc::UnsupportedVersion));
}

TEST_F(ScriptedPeer, DataBeyondTheWindowIsAFlowControlError) {
  auto settings = test_settings(Role::Agent);
  settings.initial_window = 1000;
  start(std::move(settings));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    peer->send(Open{1, 65536, "127.0.0.1:10250"});
    co_await peer->flush();
    auto stream = co_await session->accept_stream();
    EXPECT_TRUE(stream->accept());
    auto ack = co_await peer->read_until(FrameType::OpenAck);
    EXPECT_EQ(std::get<OpenAck>(*ack).initial_window, 1000U);
    peer->send(Data{1, std::string(600, 'a')});
    co_await peer->flush();
    peer->send(Data{1, std::string(600, 'b')});  // 1200 > 1000, nothing read yet
    co_await peer->flush();
    auto goaway = co_await peer->read_until(FrameType::GoAway);
    YURT_CO_ASSERT(goaway);
    EXPECT_EQ(std::get<GoAway>(*goaway).code, WireCode::FlowControl);
    peer->stream().close();
    YURT_CO_EXPECT(eventually([&] { return result.has_value(); }));
  };
  run(body());
  EXPECT_EQ(result->error().code(), make_error_code(Errc::FlowControl));
}

TEST_F(ScriptedPeer, ReadingGrantsCreditBack) {
  auto settings = test_settings(Role::Agent);
  settings.initial_window = 1000;
  start(std::move(settings));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    peer->send(Open{1, 65536, "127.0.0.1:10250"});
    co_await peer->flush();
    auto stream = co_await session->accept_stream();
    EXPECT_TRUE(stream->accept());
    co_await peer->read_until(FrameType::OpenAck);
    peer->send(Data{1, std::string(1000, 'a')});  // the whole window
    co_await peer->flush();
    YURT_CO_EXPECT(eventually([&] { return stream->buffered() == 1000; }));
    char buffer[300];
    auto n = co_await stream->read_some(asio::buffer(buffer));
    EXPECT_EQ(n.value(), 300U);  // below half the window: no credit yet
    n = co_await stream->read_some(asio::buffer(buffer, 200));
    EXPECT_EQ(n.value(), 200U);  // half the window read: credit goes back, all of it
    auto update = co_await peer->read_until(FrameType::WindowUpdate);
    YURT_CO_ASSERT(update);
    EXPECT_EQ(*update, Frame(WindowUpdate{1, 500}));
    peer->send(Data{1, std::string(500, 'b')});  // exactly the returned credit
    co_await peer->flush();
    YURT_CO_EXPECT(eventually([&] { return stream->buffered() == 1000; }));
    EXPECT_EQ(session->state(), SessionState::Open);
  };
  run(body());
}

// An agent session whose streams start with a 1000-byte window that may grow to `max_window`.
SessionSettings growing_window(std::uint32_t max_window) {
  auto settings = test_settings(Role::Agent);
  settings.initial_window = 1000;
  settings.max_window = max_window;
  return settings;
}

// A bulk stream: half the window read within window_growth_period by a reader that keeps up,
// so each grant doubles the window, up to max_window.
TEST_F(ScriptedPeer, TheWindowGrowsWhileTheReaderKeepsUpAndThePeerRunsOutOfCredit) {
  start(growing_window(4000));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    auto stream = co_await peer_opens(1);
    // Each round: the peer spends all its credit, we read it all at once (the fake clock stands
    // still: well within the growth period); the grant says what's next.
    for (const auto& [sent, granted] : std::vector<std::pair<std::uint32_t, std::uint32_t>>{
             {1000, 2000}, {2000, 4000}, {4000, 4000}}) {
      auto update = co_await send_read_and_grant(stream, 1, sent);
      YURT_CO_ASSERT(update);
      EXPECT_EQ(*update, Frame(WindowUpdate{1, granted})) << "after " << sent << " bytes";
    }
    // The grown window is honoured: 4000 at once is no flow-control error.
    peer->send(Data{1, std::string(4000, 'b')});
    co_await peer->flush();
    YURT_CO_EXPECT(eventually([&] { return stream.buffered() == 4000; }));
    EXPECT_EQ(session->state(), SessionState::Open);
  };
  run(body());
}

TEST_F(ScriptedPeer, TheWindowDoesNotGrowForAReaderThatFallsBehind) {
  start(growing_window(4000));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    auto stream = co_await peer_opens(1);
    peer->send(Data{1, std::string(1000, 'a')});  // all its credit
    co_await peer->flush();
    YURT_CO_EXPECT(eventually([&] { return stream.buffered() == 1000; }));
    char buffer[600];
    auto n = co_await stream.read_some(asio::buffer(buffer));
    EXPECT_EQ(n.value(), 600U);  // 400 still unread: the reader, not the window, is behind
    auto update = co_await peer->read_until(FrameType::WindowUpdate);
    YURT_CO_ASSERT(update);
    EXPECT_EQ(*update, Frame(WindowUpdate{1, 600}));
  };
  run(body());
}

TEST_F(ScriptedPeer, TheWindowDoesNotGrowForASlowStream) {
  auto settings = growing_window(4000);
  settings.window_growth_period = 5ms;
  start(std::move(settings));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    auto stream = co_await peer_opens(1);
    clock.advance(6ms);  // half the window will have taken longer than window_growth_period
    auto update = co_await send_read_and_grant(stream, 1, 1000);
    YURT_CO_ASSERT(update);
    EXPECT_EQ(*update, Frame(WindowUpdate{1, 1000}));
  };
  run(body());
}

TEST_F(ScriptedPeer, WindowGrowthStaysWithinTheSessionsBudget) {
  auto settings = growing_window(8000);
  settings.window_growth_budget = 1500;
  start(std::move(settings));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    auto one = co_await peer_opens(1);
    auto three = co_await peer_opens(3);
    // Stream 1 grows by 1000, then by what is left (500); stream 3 finds nothing left.
    auto update = co_await send_read_and_grant(one, 1, 1000);
    EXPECT_EQ(update, Frame(WindowUpdate{1, 2000}));
    update = co_await send_read_and_grant(one, 1, 2000);
    EXPECT_EQ(update, Frame(WindowUpdate{1, 2500}));
    update = co_await send_read_and_grant(three, 3, 1000);
    EXPECT_EQ(update, Frame(WindowUpdate{3, 1000}));
    // Stream 1 goes: its growth returns to the budget, and stream 3 may grow.
    peer->send(Reset{1, WireCode::Cancelled, "done"});
    update = co_await send_read_and_grant(three, 3, 1000);
    EXPECT_EQ(update, Frame(WindowUpdate{3, 2000}));
  };
  run(body());
}

// A peer that sent everything and closed its stream (FIN, then RESET when its application let
// go of the stream before our FIN): what it sent is still ours to read. Discarding it lost the
// tail of bulk transfers whose reader lagged. Without the FIN first, a RESET aborts.
TEST_F(ScriptedPeer, AResetKeepsThePeersDataOnlyAfterItsFin) {
  start(test_settings(Role::Agent));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    auto finished = co_await peer_opens(1);
    auto aborted = co_await peer_opens(3);
    for (std::uint32_t id : {1U, 3U}) {
      peer->send(Data{id, std::string(3000, 'a')});
      if (id == 1) {
        peer->send(Fin{id});
      }
      peer->send(Reset{id, WireCode::Cancelled, "closed by the application"});
    }
    co_await peer->flush();
    YURT_CO_EXPECT(eventually([&] {
      return finished.state() == StreamState::Reset && aborted.state() == StreamState::Reset;
    }));
    auto data = co_await read_all(finished);
    YURT_CO_ASSERT(data);
    EXPECT_EQ(*data, std::string(3000, 'a'));
    auto w = co_await finished.write("too late");
    EXPECT_FALSE(w) << "the peer reads no more";
    data = co_await read_all(aborted);
    EXPECT_FALSE(data) << "an aborted stream is not a complete one";
  };
  run(body());
}

TEST_F(ScriptedPeer, FramesForUnknownStreamsAreViolationsButStaleOnesAreIgnored) {
  start(test_settings(Role::Agent));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    peer->send(Open{1, 65536, "127.0.0.1:10250"});
    co_await peer->flush();
    auto stream = co_await session->accept_stream();
    EXPECT_TRUE(stream->accept());
    peer->send(Reset{1, WireCode::Cancelled, ""});
    co_await peer->flush();
    peer->send(Data{1, "late data for a reset stream"});  // stale: dropped
    co_await peer->flush();
    peer->send(Ping{});
    co_await peer->flush();
    auto pong = co_await peer->read_until(FrameType::Pong);
    EXPECT_TRUE(pong);
    EXPECT_EQ(session->state(), SessionState::Open);
    peer->send(Data{9, "never opened"});
    co_await peer->flush();
    auto goaway = co_await peer->read_until(FrameType::GoAway);
    YURT_CO_ASSERT(goaway);
    EXPECT_NE(std::get<GoAway>(*goaway).message.find("never opened"), std::string::npos);
    peer->stream().close();
    YURT_CO_EXPECT(eventually([&] { return result.has_value(); }));
  };
  run(body());
  EXPECT_EQ(result->error().code(), make_error_code(Errc::ProtocolViolation));
}

TEST_F(ScriptedPeer, LostConnectionFailsStreamsWithSessionClosed) {
  start(test_settings(Role::Agent));
  auto body = [&]() -> asio::awaitable<void> {
    co_await accept_agent();
    peer->send(Open{1, 65536, "127.0.0.1:10250"});
    co_await peer->flush();
    auto stream = co_await session->accept_stream();
    EXPECT_TRUE(stream->accept());
    peer->stream().close();
    auto r = co_await read_all(*stream);
    YURT_CO_ASSERT(!(r));
    EXPECT_EQ(r.error().code(), make_error_code(Errc::SessionClosed));
    YURT_CO_EXPECT(eventually([&] { return result.has_value(); }));
  };
  run(body());
  EXPECT_EQ(result->error().code(), make_error_code(Errc::SessionClosed));
  EXPECT_TRUE(has(result->error(), "peer closed the connection")) << result->error().what();
}

}  // namespace
}  // namespace yurt::tunnel
