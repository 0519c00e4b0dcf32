#pragma once

#include <chrono>
#include <cstddef>
#include <set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/kube/sleep.hpp"

#include "test/fakes/fake_clock.hpp"

namespace yurt {

/// A kube::SleepFunction driven by a FakeClock: sleeps complete only when the test advances the
/// clock through advance() / advance_to_next(), then runs the io_context (io.poll()). Records
/// every requested duration so tests can check backoff and retry delays exactly.
///
/// @par Thread Safety
/// Use from the executor given at construction (single-threaded tests).
/// @par Lifetime
/// Must outlive every sleep it handed out.
class FakeTimers {
 public:
  FakeTimers(boost::asio::any_io_executor ex, FakeClock& clock) : clock_(clock), wake_(ex) {
    wake_.expires_at(boost::asio::steady_timer::time_point::max());
  }
  FakeTimers(const FakeTimers&) = delete;
  FakeTimers& operator=(const FakeTimers&) = delete;

  [[nodiscard]] kube::SleepFunction sleep_function() {
    return [this](std::chrono::nanoseconds d) { return sleep(d); };
  }

  /// Moves the clock forward and wakes sleepers whose time has come (run the io_context after).
  void advance(std::chrono::nanoseconds d) {
    clock_.advance(d);
    wake_.cancel();
  }

  /// Advances exactly to the earliest pending deadline; false when nothing sleeps.
  bool advance_to_next() {
    if (deadlines_.empty()) {
      return false;
    }
    auto d = *deadlines_.begin() - clock_.monotonic();
    advance(std::max(std::chrono::nanoseconds::zero(),
                     std::chrono::duration_cast<std::chrono::nanoseconds>(d)));
    return true;
  }

  /// Sleeps in progress.
  [[nodiscard]] std::size_t pending() const noexcept { return deadlines_.size(); }
  /// Every duration asked for, in order.
  [[nodiscard]] const std::vector<std::chrono::nanoseconds>& requested() const noexcept {
    return requested_;
  }
  void clear_requested() { requested_.clear(); }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;

  boost::asio::awaitable<void> sleep(std::chrono::nanoseconds d) {
    requested_.push_back(d);
    if (d <= std::chrono::nanoseconds::zero()) {
      co_return;
    }
    const TimePoint deadline =
        clock_.monotonic() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
    auto entry = deadlines_.insert(deadline);
    struct Erase {
      std::multiset<TimePoint>& set;
      std::multiset<TimePoint>::iterator it;
      ~Erase() { set.erase(it); }
    } erase{deadlines_, entry};
    while (clock_.monotonic() < deadline) {
      co_await wake_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      auto cs = co_await boost::asio::this_coro::cancellation_state;
      if (cs.cancelled() != boost::asio::cancellation_type::none) {
        co_return;
      }
    }
  }

  FakeClock& clock_;
  boost::asio::steady_timer wake_;  // never expires; advance() wakes every sleeper to re-check
  std::multiset<TimePoint> deadlines_;
  std::vector<std::chrono::nanoseconds> requested_;
};

}  // namespace yurt
