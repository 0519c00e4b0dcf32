#include "src/apps/tunnel/tcp_dial.hpp"

#include <memory>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace yurt::tunnel_app {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// The race runs in its own coroutine (co_spawn'ed with the default terminal-only filter): Boost
// 1.81's `||` forwards only the first cancellation it sees, so a graceful (total) request must
// not reach it before the terminal one (docs/net.md, "toolchain pitfalls").
// Returns an Error without a code on success (co_spawn needs a default-constructible result; the
// socket stays in `socket`).
asio::awaitable<Error> race(std::shared_ptr<tcp::socket> socket,
                            tcp::endpoint endpoint,
                            std::chrono::milliseconds timeout) {
  using namespace asio::experimental::awaitable_operators;  // NOLINT(google-build-using-namespace)
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto result = co_await (socket->async_connect(endpoint, kUse) || timer.async_wait(kUse));
  const auto where = "connect " + to_string(endpoint);
  if (result.index() == 1) {
    const auto [tec] = std::get<1>(result);
    if (tec == asio::error::operation_aborted) {
      co_return Error(std::make_error_code(std::errc::operation_canceled), where);
    }
    co_return Error(std::make_error_code(std::errc::timed_out),
                    where + ": no answer within " + std::to_string(timeout.count()) + " ms");
  }
  const auto [ec] = std::get<0>(result);
  if (ec) {
    co_return Error(ec, where);
  }
  co_return Error{};
}

}  // namespace

std::string to_string(const tcp::endpoint& endpoint) {
  auto host = endpoint.address().to_string();
  if (endpoint.address().is_v6()) {
    host = "[" + host + "]";
  }
  return host + ":" + std::to_string(endpoint.port());
}

asio::awaitable<Result<tcp::socket>> dial_tcp(tcp::endpoint endpoint,
                                              std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  auto socket = std::make_shared<tcp::socket>(ex);
  auto error = co_await asio::co_spawn(ex, race(socket, endpoint, timeout), asio::use_awaitable);
  if (error.code()) {
    co_return error;
  }
  // Small writes (TLS records, SPDY frames) must not wait for the peer's delayed ACK.
  boost::system::error_code ignored;
  socket->set_option(tcp::no_delay(true), ignored);
  co_return std::move(*socket);
}

}  // namespace yurt::tunnel_app
