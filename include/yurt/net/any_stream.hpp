#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>

#include "yurt/net/asio.hpp"
#include "yurt/net/tls_context.hpp"

namespace yurt::net {

namespace detail {

/// The first kMax non-empty buffers of a buffer sequence, held by value so a type-erased
/// operation can keep them (read_some/write_some may transfer less than offered anyway).
template <class Buffer>
class BufferArray {
 public:
  static constexpr std::size_t kMax = 16;

  BufferArray() = default;
  template <class Sequence>
  explicit BufferArray(const Sequence& sequence) {
    auto end = asio::buffer_sequence_end(sequence);
    for (auto it = asio::buffer_sequence_begin(sequence); it != end && count_ < kMax; ++it) {
      Buffer b(*it);
      if (b.size() != 0) {
        buffers_[count_++] = b;
      }
    }
  }

  [[nodiscard]] const Buffer* begin() const noexcept { return buffers_.data(); }
  [[nodiscard]] const Buffer* end() const noexcept { return buffers_.data() + count_; }
  [[nodiscard]] std::size_t count() const noexcept { return count_; }

 private:
  std::array<Buffer, kMax> buffers_{};
  std::size_t count_ = 0;
};

using MutableBuffers = BufferArray<asio::mutable_buffer>;
using ConstBuffers = BufferArray<asio::const_buffer>;

}  // namespace detail

/// A byte stream of any transport — TCP, TLS over TCP, an in-memory pipe, a tunnel stream —
/// behind one type that satisfies Asio's AsyncReadStream and AsyncWriteStream, so Beast, splice()
/// and handlers work with all of them. Adds what HTTP hand-off needs: half-close
/// (async_shutdown_send), TLS session details, and bytes to return before the transport's own
/// (prepend(): what the HTTP parser had already buffered when a connection was taken over).
///
/// @par Thread Safety
/// Like an Asio socket: at most one read and one write outstanding, all from the stream's
/// executor (a single-threaded io_context or a strand).
/// @par Lifetime
/// Owns the transport; destroying or close()-ing it closes the connection and aborts pending
/// operations. A moved-from or default-constructed AnyStream is empty: valid() is false,
/// close(), is_open(), tls() and remote_endpoint() are safe, I/O requires valid().
class AnyStream {
 public:
  using executor_type = Executor;
  using IoHandler = asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;
  using ShutdownHandler = asio::any_completion_handler<void(boost::system::error_code)>;

  /// The transport behind an AnyStream. Implement it for a new transport, or wrap() any stream
  /// with async_read_some/async_write_some/close.
  class Impl {
   public:
    virtual ~Impl() = default;
    virtual executor_type get_executor() = 0;
    virtual void async_read_some(detail::MutableBuffers buffers, IoHandler handler) = 0;
    virtual void async_write_some(detail::ConstBuffers buffers, IoHandler handler) = 0;
    /// Ends the sending direction (TCP FIN, TLS close_notify); reads keep working.
    virtual void async_shutdown_send(ShutdownHandler handler) = 0;
    virtual void close() noexcept = 0;
    [[nodiscard]] virtual bool is_open() const noexcept = 0;
    [[nodiscard]] virtual std::optional<TlsSessionInfo> tls() const { return std::nullopt; }
    /// "10.0.0.1:443" for logs and messages; "" when the transport has no address.
    [[nodiscard]] virtual std::string remote_endpoint() const { return {}; }
    /// True when a connection that should be quiet has data or EOF pending (an idle pooled
    /// connection the server closed). False when unknown.
    [[nodiscard]] virtual bool readable_while_idle() const { return false; }
  };

  AnyStream() = default;
  explicit AnyStream(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
  AnyStream(AnyStream&&) noexcept = default;
  AnyStream& operator=(AnyStream&&) noexcept = default;
  ~AnyStream() = default;

  /// Wraps an Asio-style stream (a tcp::socket, beast::test::stream, ...). Half-close uses, in
  /// order of preference, `s.async_shutdown_send(handler)`, `s.shutdown(shutdown_send, ec)`;
  /// a stream with neither reports asio::error::operation_not_supported.
  template <class Stream>
  requires(!std::same_as<std::remove_cvref_t<Stream>, AnyStream>) [[nodiscard]] static AnyStream
      wrap(Stream stream);

  [[nodiscard]] bool valid() const noexcept { return impl_ != nullptr; }
  /// Precondition: valid().
  [[nodiscard]] executor_type get_executor() const { return impl_->get_executor(); }

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, detail::MutableBuffers b) {
          if (buffered_pos_ < buffered_.size()) {
            std::size_t n = take_buffered(b);
            asio::post(get_executor(),
                       asio::append(std::move(handler), boost::system::error_code{}, n));
          } else {
            impl_->async_read_some(b, IoHandler(std::move(handler)));
          }
        },
        token, detail::MutableBuffers(buffers));
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, detail::ConstBuffers b) {
          impl_->async_write_some(b, IoHandler(std::move(handler)));
        },
        token, detail::ConstBuffers(buffers));
  }

  /// Half-close: the peer reads EOF once it has everything written so far; this side can go on
  /// reading. Completes with `void(error_code)`.
  template <class Token>
  auto async_shutdown_send(Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) { impl_->async_shutdown_send(ShutdownHandler(std::move(handler))); },
        token);
  }

  /// Closes the transport; pending operations complete with operation_aborted.
  void close() noexcept {
    if (impl_) {
      impl_->close();
    }
  }
  [[nodiscard]] bool is_open() const noexcept { return impl_ && impl_->is_open(); }
  [[nodiscard]] std::optional<TlsSessionInfo> tls() const {
    return impl_ ? impl_->tls() : std::nullopt;
  }
  [[nodiscard]] std::string remote_endpoint() const {
    return impl_ ? impl_->remote_endpoint() : std::string();
  }
  [[nodiscard]] bool readable_while_idle() const { return impl_ && impl_->readable_while_idle(); }

  /// Queues `bytes` to be returned by the next reads before anything from the transport.
  void prepend(std::string_view bytes) {
    buffered_.erase(0, buffered_pos_);
    buffered_pos_ = 0;
    buffered_.insert(0, bytes);
  }
  /// How many prepended bytes are still unread.
  [[nodiscard]] std::size_t buffered() const noexcept { return buffered_.size() - buffered_pos_; }

  /// The transport, for code that knows its concrete type (tests, TLS internals).
  [[nodiscard]] Impl* impl() const noexcept { return impl_.get(); }

 private:
  std::size_t take_buffered(const detail::MutableBuffers& buffers) {
    std::size_t total = 0;
    for (const auto& b : buffers) {
      std::size_t n = asio::buffer_copy(
          b, asio::buffer(buffered_.data() + buffered_pos_, buffered_.size() - buffered_pos_));
      buffered_pos_ += n;
      total += n;
    }
    if (buffered_pos_ == buffered_.size()) {
      buffered_.clear();
      buffered_pos_ = 0;
    }
    return total;
  }

  std::unique_ptr<Impl> impl_;
  std::string buffered_;
  std::size_t buffered_pos_ = 0;
};

namespace detail {

template <class Stream>
class WrappedStream final : public AnyStream::Impl {
 public:
  explicit WrappedStream(Stream stream) : stream_(std::move(stream)) {}

  AnyStream::executor_type get_executor() override { return stream_.get_executor(); }
  void async_read_some(MutableBuffers buffers, AnyStream::IoHandler handler) override {
    stream_.async_read_some(buffers, std::move(handler));
  }
  void async_write_some(ConstBuffers buffers, AnyStream::IoHandler handler) override {
    stream_.async_write_some(buffers, std::move(handler));
  }
  void async_shutdown_send(AnyStream::ShutdownHandler handler) override {
    if constexpr (requires { stream_.async_shutdown_send(std::move(handler)); }) {
      stream_.async_shutdown_send(std::move(handler));
    } else {
      boost::system::error_code ec;
      if constexpr (requires { stream_.shutdown(asio::socket_base::shutdown_send, ec); }) {
        stream_.shutdown(asio::socket_base::shutdown_send, ec);
      } else {
        ec = asio::error::operation_not_supported;
      }
      asio::post(stream_.get_executor(), asio::append(std::move(handler), ec));
    }
  }
  void close() noexcept override {
    if constexpr (requires(boost::system::error_code ec) { stream_.close(ec); }) {
      boost::system::error_code ec;
      stream_.close(ec);
    } else {
      stream_.close();
    }
  }
  [[nodiscard]] bool is_open() const noexcept override {
    if constexpr (requires { stream_.is_open(); }) {
      return stream_.is_open();
    } else {
      return true;
    }
  }
  [[nodiscard]] std::string remote_endpoint() const override {
    if constexpr (requires(boost::system::error_code ec) {
                    stream_.remote_endpoint(ec).address().to_string();
                  }) {
      boost::system::error_code ec;
      auto ep = stream_.remote_endpoint(ec);
      if (ec) {
        return {};
      }
      auto host = ep.address().to_string();
      return (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(ep.port());
    } else {
      return {};
    }
  }

  Stream& stream() noexcept { return stream_; }

 private:
  Stream stream_;
};

}  // namespace detail

template <class Stream>
requires(!std::same_as<std::remove_cvref_t<Stream>, AnyStream>) AnyStream AnyStream::wrap(
    Stream stream) {
  return AnyStream(std::make_unique<detail::WrappedStream<Stream>>(std::move(stream)));
}

/// Two connected in-memory stream ends: bytes written to one are read from the other. Supports
/// half-close (async_shutdown_send → the peer reads EOF after the data), close (the peer reads
/// EOF, its writes fail with broken_pipe) and per-operation cancellation of a pending read.
/// Writes complete at once (unbounded buffering): meant for tests and in-process plumbing, not for
/// untrusted peers.
///
/// @par Thread Safety
/// Both ends must be used from `ex`, which must be single-threaded (or a strand).
[[nodiscard]] std::pair<AnyStream, AnyStream> make_pipe(Executor ex);

}  // namespace yurt::net
