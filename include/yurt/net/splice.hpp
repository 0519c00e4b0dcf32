#pragma once

#include <cstdint>

#include "yurt/base/result.hpp"
#include "yurt/net/any_stream.hpp"
#include "yurt/net/asio.hpp"

namespace yurt::net {

/// What splice() moved and how it ended.
struct SpliceResult {
  std::uint64_t a_to_b = 0;  ///< bytes read from `a` and written to `b`
  std::uint64_t b_to_a = 0;
  /// No code when both directions ended with EOF. Otherwise the first failure: Errc::Timeout
  /// for the idle timeout, the transport's code ("read a: Connection reset by peer"), or
  /// operation_aborted when the caller cancelled the splice.
  Error error;
};

/// Copies bytes both ways between `a` and `b` until both directions are done. EOF on one side
/// half-closes the other side's sending direction (async_shutdown_send) while the opposite
/// direction keeps running, as TCP proxies must for protocols that half-close (kubectl
/// port-forward, SPDY). A read or write error ends both directions. `idle_timeout` (0 = none)
/// ends the splice when no byte moved either way for that long. Both streams are closed when it
/// returns. Prepended bytes (AnyStream::prepend) are forwarded first.
///
/// Both streams must use the awaiting coroutine's executor (or one on the same thread).
/// Per-operation cancellation (terminal) of the awaiting coroutine ends the splice.
asio::awaitable<SpliceResult> splice(AnyStream a, AnyStream b, Millis idle_timeout);

}  // namespace yurt::net
