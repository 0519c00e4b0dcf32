#pragma once

#include <chrono>
#include <functional>

#include <boost/asio/awaitable.hpp>

namespace yurt::kube {

/// Waits for a duration on the awaiting coroutine's executor. Everything in kube that waits for
/// time (reflector backoff, delayed work-queue items, leader-election retries) waits through one
/// of these, so unit tests drive time with a fake (test/fakes/fake_timers.hpp) instead of
/// sleeping.
///
/// Contract for implementations: complete after `d` (at once when `d` <= 0), or earlier when the
/// awaiting coroutine is cancelled. A cancellation that arrives while waiting ends the wait
/// quietly (the caller's next co_await reports it, as Asio does); one that arrived before may
/// throw operation_aborted, like any co_await of a cancelled coroutine.
using SleepFunction = std::function<boost::asio::awaitable<void>(std::chrono::nanoseconds d)>;

/// The real one: an asio::steady_timer on the current executor. Honours terminal, partial and
/// total cancellation.
[[nodiscard]] SleepFunction steady_sleep();

}  // namespace yurt::kube
