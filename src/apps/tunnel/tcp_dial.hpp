#pragma once

// A TCP connect with a deadline, for the server's direct dials to cloud nodes and the agent's
// dials to the local kubelet.

#include <chrono>

#include <boost/asio/ip/tcp.hpp>

#include "yurt/base/result.hpp"
#include "yurt/net/asio.hpp"

namespace yurt::tunnel_app {

/// Connects to `endpoint` on the awaiting coroutine's executor, sets TCP_NODELAY. Errors: the
/// system's ("connect 127.0.0.1:10250: Connection refused"), or timed_out after `timeout`.
/// A terminal cancellation of the caller ends it with operation_aborted.
[[nodiscard]] net::asio::awaitable<Result<boost::asio::ip::tcp::socket>> dial_tcp(
    boost::asio::ip::tcp::endpoint endpoint, std::chrono::milliseconds timeout);

/// "10.0.0.1:10250", "[fd00::1]:10250".
[[nodiscard]] std::string to_string(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace yurt::tunnel_app
