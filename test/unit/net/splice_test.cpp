#include "yurt/net/splice.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <gtest/gtest.h>

#include "yurt/net/errc.hpp"

#include "test/unit/net/test_util.hpp"

namespace yurt::net {
namespace {

using test::kUse;
using test::read_to_eof;
using test::run_awaitable;
using test::write_all;

// client <-pipe-> a  ==splice==  b <-pipe-> upstream
struct Plumbing {
  explicit Plumbing(asio::io_context& io) {
    std::tie(client, a) = make_pipe(io.get_executor());
    std::tie(b, upstream) = make_pipe(io.get_executor());
  }
  AnyStream client, a, b, upstream;
};

TEST(Splice, CopiesBothWaysAndPropagatesHalfClose) {
  asio::io_context io;
  Plumbing p(io);
  std::optional<SpliceResult> result;
  asio::co_spawn(io, splice(std::move(p.a), std::move(p.b), Millis(0)),
                 [&](std::exception_ptr, SpliceResult r) { result = std::move(r); });
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(p.client, "request");
    auto [ec] = co_await p.client.async_shutdown_send(kUse);
    EXPECT_FALSE(ec);
    // The upstream sees the request and then EOF: the half-close went through...
    EXPECT_EQ(co_await read_to_eof(p.upstream), "request");
    // ...while the other direction still carries the answer.
    co_await write_all(p.upstream, "answer!");
    p.upstream.close();
    EXPECT_EQ(co_await read_to_eof(p.client), "answer!");
  };
  run_awaitable(io, body());
  io.restart();
  io.poll();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->a_to_b, 7U);
  EXPECT_EQ(result->b_to_a, 7U);
  EXPECT_FALSE(result->error.code()) << result->error.what();
}

TEST(Splice, PrependedBytesAreForwardedFirst) {
  asio::io_context io;
  Plumbing p(io);
  p.a.prepend("early ");
  asio::co_spawn(io, splice(std::move(p.a), std::move(p.b), Millis(0)),
                 [](std::exception_ptr, SpliceResult) {});
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(p.client, "late");
    p.client.close();
    EXPECT_EQ(co_await read_to_eof(p.upstream), "early late");
  };
  run_awaitable(io, body());
}

TEST(Splice, IdleTimeoutEndsBothSides) {
  asio::io_context io;
  Plumbing p(io);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(p.client, "x");
    auto result = co_await splice(std::move(p.a), std::move(p.b), Millis(50));
    EXPECT_EQ(result.error.code(), make_error_code(Errc::Timeout)) << result.error.what();
    EXPECT_EQ(result.a_to_b, 1U);
    EXPECT_EQ(co_await read_to_eof(p.client), "");
    EXPECT_EQ(co_await read_to_eof(p.upstream), "x");
  };
  run_awaitable(io, body());
}

TEST(Splice, AWriteFailureEndsBothDirections) {
  asio::io_context io;
  auto [client, a] = make_pipe(io.get_executor());
  boost::beast::test::fail_count failures(0);  // the first operation on `broken` fails
  boost::beast::test::stream broken(io, failures);
  boost::beast::test::stream peer(io);
  broken.connect(peer);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(client, "data");
    auto result = co_await splice(std::move(a), AnyStream::wrap(std::move(broken)), Millis(0));
    EXPECT_EQ(result.error.code(),
              std::error_code(boost::system::error_code(boost::beast::test::error::test_failure)));
    EXPECT_NE(result.error.message().find("splice"), std::string::npos);
    EXPECT_EQ(co_await read_to_eof(client), "");  // closed, not left hanging
  };
  run_awaitable(io, body());
}

TEST(Splice, CancellationEndsIt) {
  asio::io_context io;
  Plumbing p(io);
  asio::cancellation_signal signal;
  std::optional<SpliceResult> result;
  asio::co_spawn(
      io, splice(std::move(p.a), std::move(p.b), Millis(0)),
      asio::bind_cancellation_slot(
          signal.slot(), [&](std::exception_ptr, SpliceResult r) { result = std::move(r); }));
  io.poll();
  signal.emit(asio::cancellation_type::terminal);
  io.restart();
  io.run_for(std::chrono::seconds(2));
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->error.code());
  EXPECT_EQ(run_awaitable(io, read_to_eof(p.client)), "");  // both ends closed
}

}  // namespace
}  // namespace yurt::net
