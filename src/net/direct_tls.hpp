#pragma once

// TLS driven by OpenSSL directly on a non-blocking socket, for connections that sit idle in
// large numbers (the tunnel server's agents). Asio's ssl::stream keeps two 17 KiB transfer
// buffers and a 2 × 17 KiB BIO pair per connection for as long as it lives; here OpenSSL reads
// and writes the socket itself and, with SSL_MODE_RELEASE_BUFFERS, holds no record buffer while
// the connection is quiet.

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "yurt/net/any_stream.hpp"

struct ssl_st;  // OpenSSL's SSL

namespace yurt::net {

/// An AnyStream transport: TLS over a TCP socket without Asio's ssl::stream. Errors match
/// ssl::stream's: eof on close_notify, asio::ssl::error::stream_truncated on a TCP close without
/// it, OpenSSL errors in asio::error::get_ssl_category(), socket errors as system errors.
///
/// @par Thread Safety
/// Like AnyStream: one read, one write (or shutdown), and the handshake before both, all on the
/// socket's executor.
/// @par Lifetime
/// Keeps the SSL_CTX snapshot it was created from alive (hot swap). close() closes the socket and
/// aborts pending operations; operations started afterwards fail with bad_descriptor.
class DirectTlsStream final : public AnyStream::Impl {
 public:
  enum class Role { Client, Server };

  /// Precondition: `context` is non-null. Puts the socket in non-blocking mode.
  DirectTlsStream(asio::ip::tcp::socket socket,
                  std::shared_ptr<asio::ssl::context> context,
                  Role role);
  ~DirectTlsStream() override;
  DirectTlsStream(const DirectTlsStream&) = delete;
  DirectTlsStream& operator=(const DirectTlsStream&) = delete;

  /// The OpenSSL session (for SNI and verification settings before the handshake).
  [[nodiscard]] ssl_st* native_handle() const noexcept { return ssl_; }

  /// Runs the handshake in this stream's role. Completes with `void(error_code)`.
  template <class Token>
  auto async_handshake(Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) { start_handshake(AnyStream::ShutdownHandler(std::move(handler))); },
        token);
  }

  AnyStream::executor_type get_executor() override { return socket_.get_executor(); }
  void async_read_some(detail::MutableBuffers buffers, AnyStream::IoHandler handler) override;
  void async_write_some(detail::ConstBuffers buffers, AnyStream::IoHandler handler) override;
  /// Sends close_notify without waiting for the peer's: reading goes on.
  void async_shutdown_send(AnyStream::ShutdownHandler handler) override;
  void close() noexcept override;
  [[nodiscard]] bool is_open() const noexcept override { return socket_.is_open(); }
  [[nodiscard]] std::optional<TlsSessionInfo> tls() const override;
  [[nodiscard]] std::string remote_endpoint() const override;
  [[nodiscard]] bool readable_while_idle() const override;

  /// For the operations in direct_tls.cpp.
  struct Access;
  /// What the socket BIO in direct_tls.cpp needs: the descriptor, and whether recv saw EOF.
  struct BioState {
    int fd = -1;
    bool eof = false;
    // Records of a write (or shutdown) are collected and sent with one send(2): a 64 KiB write
    // is four records, and each send costs a trip through the network stack (issue 5: the
    // tunnel's throughput). Only inside an operation; empty between them.
    bool corked = false;
    std::string pending;
    std::size_t sent = 0;  // of pending
  };

 private:
  void start_handshake(AnyStream::ShutdownHandler handler);

  std::shared_ptr<asio::ssl::context> context_;  // outlives ssl_
  asio::ip::tcp::socket socket_;
  BioState bio_;
  ssl_st* ssl_ = nullptr;  // owned; freed before the socket closes
};

}  // namespace yurt::net
