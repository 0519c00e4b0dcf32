#include "yurt/net/splice.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "yurt/net/errc.hpp"

#include "src/net/timeout.hpp"

namespace yurt::net {
namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// 16 KiB (one TLS record's worth of plaintext) while little flows; a read that fills it switches
// to 64 KiB for bulk data, so a busy pump makes a quarter of the reads and writes (each a trip
// through the network stack), and a quiet one gives the large buffer back.
constexpr std::size_t kPumpBuffer = 16 * 1024;
constexpr std::size_t kBulkPumpBuffer = 64 * 1024;

struct Shared {
  AnyStream a;
  AnyStream b;
  Error error;
  Millis idle_timeout;
  std::optional<Watchdog> idle;  // closes both sides when nothing moved for idle_timeout

  void active() {
    if (idle) {
      idle->expires_after(idle_timeout);
    }
  }

  void fail(Error e) {
    if (!error.code()) {
      error = std::move(e);
    }
    a.close();
    b.close();
  }
};

asio::awaitable<void> pump(Shared& s, bool a_to_b, std::uint64_t& counter) {
  co_await asio::this_coro::throw_if_cancelled(false);
  AnyStream& from = a_to_b ? s.a : s.b;
  AnyStream& to = a_to_b ? s.b : s.a;
  const char* from_name = a_to_b ? "a" : "b";
  const char* to_name = a_to_b ? "b" : "a";
  std::array<char, kPumpBuffer> small;
  std::unique_ptr<char[]> bulk;
  for (;;) {
    char* buffer = bulk ? bulk.get() : small.data();
    const std::size_t size = bulk ? kBulkPumpBuffer : small.size();
    auto [rec, n] = co_await from.async_read_some(asio::buffer(buffer, size), kUse);
    if (n > 0) {
      s.active();
      auto [wec, written] = co_await asio::async_write(to, asio::buffer(buffer, n), kUse);
      counter += written;
      if (wec) {
        s.fail(Error(wec, std::string("splice: write ") + to_name));
        co_return;
      }
      s.active();
    }
    if (rec == asio::error::eof) {
      // Half-close: pass the EOF on and let the other direction run to its own end.
      auto [sec] = co_await to.async_shutdown_send(kUse);
      if (sec && sec != asio::error::not_connected) {
        s.fail(Error(sec, std::string("splice: shutdown ") + to_name));
      }
      co_return;
    }
    if (rec) {
      s.fail(Error(rec, std::string("splice: read ") + from_name));
      co_return;
    }
    if (!bulk && n == size) {
      bulk = std::make_unique_for_overwrite<char[]>(kBulkPumpBuffer);
    } else if (bulk && n < kPumpBuffer) {
      bulk.reset();
    }
  }
}

// Both directions, as one operation. Spawned as its own coroutine by splice(): its default
// terminal-only filter keeps a total cancellation of the caller away from the `&&` group
// (see src/net/timeout.hpp for why that matters on Boost 1.81).
asio::awaitable<void> both_ways(Shared& s, SpliceResult& result) {
  using namespace asio::experimental::awaitable_operators;
  co_await (pump(s, true, result.a_to_b) && pump(s, false, result.b_to_a));
}

}  // namespace

asio::awaitable<SpliceResult> splice(AnyStream a, AnyStream b, Millis idle_timeout) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto ex = co_await asio::this_coro::executor;
  Shared s{std::move(a), std::move(b), Error(), idle_timeout, std::nullopt};
  if (idle_timeout.count() > 0) {
    s.idle.emplace(ex, [&s] {
      s.fail(fail(Errc::Timeout, "splice: no data either way for " +
                                     std::to_string(s.idle_timeout.count()) + "ms"));
    });
    s.idle->expires_after(idle_timeout);
  }
  SpliceResult result;
  co_await asio::co_spawn(ex, both_ways(s, result), asio::as_tuple(asio::use_awaitable));
  if (s.idle) {
    s.idle->stop();
  }
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cs.cancelled() != asio::cancellation_type::none && !s.error.code()) {
    s.error = Error(make_error_code(asio::error::operation_aborted), "splice cancelled");
  }
  s.a.close();
  s.b.close();
  result.error = std::move(s.error);
  co_return result;
}

}  // namespace yurt::net
