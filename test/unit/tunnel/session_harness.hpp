#pragma once

// Helpers for the session tests: run a coroutine with a deadline, poll for a condition, a pair of
// sessions over an in-memory pipe, and a scripted raw peer that speaks frames by hand.

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "yurt/net/any_stream.hpp"
#include "yurt/tunnel/errc.hpp"
#include "yurt/tunnel/frame.hpp"
#include "yurt/tunnel/frame_decoder.hpp"
#include "yurt/tunnel/session.hpp"

#include "test/fakes/fake_clock.hpp"
#include "test/fakes/run_awaitable.hpp"

/// ASSERT_* cannot be used in coroutines (it returns void): record the failure and co_return.
#define YURT_CO_ASSERT(cond)                       \
  do {                                             \
    if (!(cond)) {                                 \
      ADD_FAILURE() << "assertion failed: " #cond; \
      co_return;                                   \
    }                                              \
  } while (false)

/// EXPECT_TRUE(co_await x) in one statement: GCC 12 mishandles co_await inside the temporaries
/// that gtest's macros build (coroutine lifetime bugs), so the result lands in a local first.
#define YURT_CO_EXPECT(...)                      \
  do {                                           \
    auto yurt_co_value_ = co_await __VA_ARGS__;  \
    EXPECT_TRUE(yurt_co_value_) << #__VA_ARGS__; \
  } while (false)

/// Reads `stream` to EOF and expects exactly `expected`.
#define YURT_CO_EXPECT_READS(stream, expected)                            \
  do {                                                                    \
    auto yurt_co_read_ = co_await ::yurt::tunnel::test::read_all(stream); \
    EXPECT_TRUE(yurt_co_read_);                                           \
    if (yurt_co_read_) {                                                  \
      EXPECT_EQ(*yurt_co_read_, expected);                                \
    }                                                                     \
  } while (false)

namespace yurt::tunnel::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

using yurt::test::kUse;

using yurt::test::run_awaitable;

/// Waits (1 ms polls, real time) until `condition` holds; false after `limit`. For conditions
/// other coroutines bring about; no test asserts on how long it took.
inline asio::awaitable<bool> eventually(std::function<bool()> condition,
                                        std::chrono::milliseconds limit = 20000ms) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex);
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > end) {
      co_return false;
    }
    timer.expires_after(1ms);
    co_await timer.async_wait(kUse);
  }
  co_return true;
}

/// Reads a stream to its end; returns what arrived, or the error.
inline asio::awaitable<Result<std::string>> read_all(Stream& stream) {
  std::string out;
  std::vector<char> buffer(7000);  // odd size: reads end mid-frame
  for (;;) {
    auto n = co_await stream.read_some(asio::buffer(buffer));
    if (!n) {
      co_return n.error();
    }
    if (*n == 0) {
      co_return out;
    }
    out.append(buffer.data(), *n);
  }
}

/// Deterministic test payload.
inline std::string pattern(std::size_t size, std::uint32_t seed) {
  std::string s(size, '\0');
  std::uint32_t x = seed * 2654435761U + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

/// Settings for fast tests: a 1 ms tick samples the FakeClock, so deadlines pass exactly when the
/// test advances it.
inline SessionSettings test_settings(Role role) {
  SessionSettings s;
  s.role = role;
  s.node_name = "edge-1";
  s.tick = 1ms;
  s.linger = 500ms;
  return s;
}

/// Two sessions over an in-memory pipe, both running.
class SessionPair : public ::testing::Test {
 protected:
  void start(SessionSettings server_settings = test_settings(Role::Server),
             SessionSettings agent_settings = test_settings(Role::Agent)) {
    auto [a, b] = net::make_pipe(io.get_executor());
    server = std::make_unique<Session>(std::move(a), std::move(server_settings), clock);
    agent = std::make_unique<Session>(std::move(b), std::move(agent_settings), clock);
    asio::co_spawn(io, server->run(), [this](std::exception_ptr e, Result<void> r) {
      EXPECT_FALSE(e);
      server_result = std::move(r);
    });
    asio::co_spawn(io, agent->run(), [this](std::exception_ptr e, Result<void> r) {
      EXPECT_FALSE(e);
      agent_result = std::move(r);
    });
  }

  template <class T>
  T run(asio::awaitable<T> coro, std::chrono::milliseconds deadline = 30000ms) {
    return run_awaitable(io, std::move(coro), deadline);
  }

  /// The server opens a stream and the agent accepts it, concurrently (open_stream waits for the
  /// peer's answer). Either may be an error.
  asio::awaitable<std::pair<Result<Stream>, Result<Stream>>> open_pair(
      std::string destination = "edge-1:10250") {
    auto ex = co_await asio::this_coro::executor;
    std::optional<Result<Stream>> accepted;
    asio::co_spawn(ex, accept_one(*agent), [&accepted](std::exception_ptr, Result<Stream> r) {
      accepted.emplace(std::move(r));
    });
    auto opened = co_await server->open_stream(std::move(destination));
    auto done = co_await eventually([&accepted] { return accepted.has_value(); });
    EXPECT_TRUE(done);
    if (!done) {
      co_return std::make_pair(std::move(opened), Result<Stream>(fail(Errc::Timeout, "no accept")));
    }
    co_return std::make_pair(std::move(opened), std::move(*accepted));
  }

  static asio::awaitable<Result<Stream>> accept_one(Session& session) {
    auto stream = co_await session.accept_stream();
    if (stream) {
      auto ok = stream->accept();
      if (!ok) {
        co_return ok.error();
      }
    }
    co_return stream;
  }

  /// Runs the context until both run() calls returned.
  void wait_results() {
    auto both = [this]() -> asio::awaitable<bool> {
      co_return co_await eventually([this] { return server_result && agent_result; });
    };
    ASSERT_TRUE(run(both()));
  }

  void TearDown() override {
    if (server) {
      server->close("test over");
    }
    if (agent) {
      agent->close("test over");
    }
    if (server && agent && (!server_result || !agent_result)) {
      wait_results();
    }
  }

  asio::io_context io;
  FakeClock clock;
  std::unique_ptr<Session> server;
  std::unique_ptr<Session> agent;
  std::optional<Result<void>> server_result;
  std::optional<Result<void>> agent_result;
};

/// The far end of a pipe, driven by the test: writes raw bytes or frames, reads frames.
class RawPeer {
 public:
  RawPeer(net::AnyStream stream, Role self) : stream_(std::move(stream)), decoder_(peer_of(self)) {}

  // Sending is split into a plain queueing call and an argument-less coroutine: GCC 12 miscompiles
  // some by-value coroutine parameters initialised from temporaries (a moved SSO string kept
  // pointing into the caller's frame).
  void send_raw(std::string_view bytes) { out_.append(bytes); }
  void send(const Frame& frame) {
    auto ok = encode(frame, out_);
    EXPECT_TRUE(ok) << ok.error().what();
  }
  asio::awaitable<void> flush() {
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out_), kUse);
    EXPECT_FALSE(ec) << ec.message();
    out_.clear();
  }
  /// The next frame from the session under test; empty at EOF (or on a decode error).
  asio::awaitable<std::optional<Frame>> read() {
    for (;;) {
      std::string_view input = pending_;
      auto frame = decoder_.next(input);
      pending_.erase(0, pending_.size() - input.size());
      if (!frame) {
        ADD_FAILURE() << frame.error().what();
        co_return std::nullopt;
      }
      if (*frame) {
        co_return std::move(**frame);
      }
      char buffer[4096];
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buffer), kUse);
      pending_.append(buffer, n);
      if (ec) {
        if (n == 0) {
          eof_ = true;
          co_return std::nullopt;
        }
      }
    }
  }
  /// Reads until a frame of `type` (skipping others, e.g. PINGs); empty at EOF.
  asio::awaitable<std::optional<Frame>> read_until(FrameType type) {
    for (;;) {
      auto frame = co_await read();
      if (!frame || type_of(*frame) == type) {
        co_return frame;
      }
    }
  }
  [[nodiscard]] bool eof() const noexcept { return eof_; }
  net::AnyStream& stream() { return stream_; }

 private:
  net::AnyStream stream_;
  FrameDecoder decoder_;
  std::string pending_;
  std::string out_;
  bool eof_ = false;
};

}  // namespace yurt::tunnel::test
