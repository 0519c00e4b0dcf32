#pragma once

#include <system_error>

namespace yurt::net {

/// Error codes of the net module. Transport failures keep their system or TLS code (connection
/// refused, reset, certificate verify failed) and carry a message naming the peer; these codes
/// cover what only we can tell.
enum class Errc {
  Timeout = 1,      ///< a connect, handshake, header, request or idle timeout fired
  Truncated,        ///< the peer closed the connection before the message was complete
  Protocol,         ///< the peer sent malformed HTTP
  TooLarge,         ///< a header or body exceeded the configured limit
  InvalidArgument,  ///< the caller asked for something that cannot be sent (bad header, state)
  Closed,           ///< the connection is closed, failed earlier or was handed off
  TlsConfig,        ///< PEM material could not be loaded (bad certificate, key mismatch)
};

[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace yurt::net

template <>
struct std::is_error_code_enum<yurt::net::Errc> : std::true_type {};
