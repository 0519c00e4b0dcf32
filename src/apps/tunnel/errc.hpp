#pragma once

#include <system_error>

namespace yurt::tunnel_app {

/// Error codes of yurt-tunnel-server and -agent; the Error message says what and why.
enum class Errc {
  InvalidConfig = 1,  ///< flags or files that cannot be used
  InvalidNode,        ///< a Node object routing cannot use
  Unauthorized,       ///< a peer certificate that does not name an allowed identity
  NotAllowed,         ///< a destination the policy forbids
  NotRedirected,      ///< DNAT entry: no original destination, or not one of our redirects
  Iptables,           ///< an iptables command failed
  Handshake,          ///< the tunnel server did not upgrade the connection
};

[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace yurt::tunnel_app

template <>
struct std::is_error_code_enum<yurt::tunnel_app::Errc> : std::true_type {};
