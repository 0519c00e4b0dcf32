#pragma once

// Runs a few long-lived coroutines side by side (a controller's worker and periodic loops) and
// stops them together.

#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace yurt::controller {

/// A coroutine with a name for the logs.
using NamedTask = std::pair<std::string, boost::asio::awaitable<void>>;

/// Runs `tasks` in a TaskGroup until the first of them ends (normally or by an exception, which
/// is logged) or the awaiting coroutine is cancelled (any type, total included); then cancels the
/// others (terminal) and waits for them. Never a parallel group: Boost 1.81's forward only the
/// first cancellation they receive, so a graceful (total) stop would never reach an operation that
/// filters it out, and a later terminal one would not be forwarded at all (docs/net.md).
boost::asio::awaitable<void> run_side_by_side(std::vector<NamedTask> tasks);

}  // namespace yurt::controller
