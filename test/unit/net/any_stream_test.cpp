#include "yurt/net/any_stream.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <gtest/gtest.h>

#include "test/unit/net/test_util.hpp"

namespace yurt::net {
namespace {

using test::kUse;
using test::read_to_eof;
using test::run_awaitable;
using test::write_all;

TEST(Pipe, BytesFlowBothWays) {
  asio::io_context io;
  auto [a, b] = make_pipe(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(a, "ping");
    co_await write_all(b, "pong");
    char buf[16];
    auto [ec1, n1] = co_await b.async_read_some(asio::buffer(buf), kUse);
    EXPECT_FALSE(ec1);
    EXPECT_EQ(std::string_view(buf, n1), "ping");
    auto [ec2, n2] = co_await a.async_read_some(asio::buffer(buf), kUse);
    EXPECT_FALSE(ec2);
    EXPECT_EQ(std::string_view(buf, n2), "pong");
  };
  run_awaitable(io, body());
}

TEST(Pipe, HalfCloseDeliversDataThenEofAndKeepsTheOtherWayOpen) {
  asio::io_context io;
  auto [a, b] = make_pipe(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(a, "request");
    auto [sec] = co_await a.async_shutdown_send(kUse);
    EXPECT_FALSE(sec);
    EXPECT_EQ(co_await read_to_eof(b), "request");
    co_await write_all(b, "reply");  // b → a still works
    b.close();
    EXPECT_EQ(co_await read_to_eof(a), "reply");
    auto [wec, wn] = co_await a.async_write_some(asio::buffer("x", 1), kUse);
    EXPECT_EQ(wec, asio::error::broken_pipe);
  };
  run_awaitable(io, body());
}

TEST(Pipe, PendingReadIsCancellable) {
  asio::io_context io;
  auto [a, b] = make_pipe(io.get_executor());
  asio::cancellation_signal signal;
  boost::system::error_code result;
  char buf[4];
  a.async_read_some(asio::buffer(buf),
                    asio::bind_cancellation_slot(signal.slot(), [&](boost::system::error_code ec,
                                                                    std::size_t) { result = ec; }));
  io.poll();
  signal.emit(asio::cancellation_type::terminal);
  io.poll();
  EXPECT_EQ(result, asio::error::operation_aborted);
}

TEST(AnyStream, PrependedBytesComeFirst) {
  asio::io_context io;
  auto [a, b] = make_pipe(io.get_executor());
  b.prepend("already-read|");
  EXPECT_EQ(b.buffered(), 13U);
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(a, "fresh");
    a.close();
    EXPECT_EQ(co_await read_to_eof(b), "already-read|fresh");
  };
  run_awaitable(io, body());
  EXPECT_EQ(b.buffered(), 0U);
}

TEST(AnyStream, WrapsAnAsioStream) {
  asio::io_context io;
  boost::beast::test::stream local(io);
  boost::beast::test::stream remote(io);
  local.connect(remote);
  auto wrapped = AnyStream::wrap(std::move(local));
  auto body = [&]() -> asio::awaitable<void> {
    co_await write_all(wrapped, "hello");
    EXPECT_EQ(remote.str(), "hello");
    remote.close();
    EXPECT_EQ(co_await read_to_eof(wrapped), "");
    // No half-close hook on a test stream: the wrapper says so instead of pretending.
    auto [ec] = co_await wrapped.async_shutdown_send(kUse);
    EXPECT_EQ(ec, asio::error::operation_not_supported);
  };
  run_awaitable(io, body());
}

TEST(AnyStream, EmptyStreamIsClosed) {
  AnyStream s;
  EXPECT_FALSE(s.valid());
  EXPECT_FALSE(s.is_open());
  s.close();
  EXPECT_EQ(s.remote_endpoint(), "");
}

}  // namespace
}  // namespace yurt::net
