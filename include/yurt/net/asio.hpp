#pragma once

#include <chrono>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

/// Namespace aliases of the net module. `yurt::net` code writes `asio::awaitable<T>`; nothing
/// else in the project needs to spell `boost::asio` in a header.
namespace yurt::net {

namespace asio = boost::asio;

/// The executor every net object runs on (an io_context executor or a strand of one).
using Executor = asio::any_io_executor;

/// Timeouts and limits are configured in milliseconds throughout the module.
using Millis = std::chrono::milliseconds;

}  // namespace yurt::net
