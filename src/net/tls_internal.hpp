#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "yurt/base/result.hpp"
#include "yurt/net/tls_context.hpp"

#include "src/net/streams.hpp"

struct ssl_st;  // OpenSSL's SSL

namespace yurt::net {

namespace detail {
struct TlsAccess {
  /// The SSL_CTX new connections use now.
  static std::shared_ptr<asio::ssl::context> snapshot(const TlsContext& context);
};
}  // namespace detail

/// Sets SNI (for host names) and the name the server's certificate must match: `host`, or the
/// context's server_name override.
[[nodiscard]] Result<void> prepare_client_stream(ssl_st* ssl,
                                                 const TlsContext& context,
                                                 const std::string& host);

/// Why a handshake failed, in words: OpenSSL's reason and, for verification failures, the
/// X.509 verify result ("certificate verify failed: hostname mismatch").
[[nodiscard]] std::string handshake_failure(ssl_st* ssl, const boost::system::error_code& ec);

/// The session's negotiated facts; nullopt before the handshake finished.
[[nodiscard]] std::optional<TlsSessionInfo> session_info(ssl_st* ssl);

}  // namespace yurt::net
