#pragma once

// Concrete AnyStream transports used inside the module.

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include "yurt/net/any_stream.hpp"

namespace yurt::net {

/// "10.0.0.1:443" / "[fd00::1]:443".
[[nodiscard]] std::string to_string(const asio::ip::tcp::endpoint& endpoint);

/// A connected TCP socket.
[[nodiscard]] AnyStream make_tcp_stream(asio::ip::tcp::socket socket);

/// TLS over a TCP socket. Keeps the SSL_CTX snapshot it was created from alive (hot swap).
class TlsStream final : public AnyStream::Impl {
 public:
  TlsStream(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> context);

  asio::ssl::stream<asio::ip::tcp::socket>& stream() noexcept { return stream_; }
  /// The OpenSSL session (for SNI and verification settings before the handshake).
  [[nodiscard]] ssl_st* native_handle() noexcept { return stream_.native_handle(); }

  AnyStream::executor_type get_executor() override { return stream_.get_executor(); }
  void async_read_some(detail::MutableBuffers buffers, AnyStream::IoHandler handler) override;
  void async_write_some(detail::ConstBuffers buffers, AnyStream::IoHandler handler) override;
  void async_shutdown_send(AnyStream::ShutdownHandler handler) override;
  void close() noexcept override;
  [[nodiscard]] bool is_open() const noexcept override;
  [[nodiscard]] std::optional<TlsSessionInfo> tls() const override;
  [[nodiscard]] std::string remote_endpoint() const override;
  [[nodiscard]] bool readable_while_idle() const override;

 private:
  std::shared_ptr<asio::ssl::context> context_;  // declared first: outlives stream_'s SSL*
  asio::ssl::stream<asio::ip::tcp::socket> stream_;
};

/// True when a quiet socket has data or EOF pending (MSG_PEEK, non-blocking).
[[nodiscard]] bool socket_readable_now(const asio::ip::tcp::socket& socket);

}  // namespace yurt::net
