#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

#include "yurt/base/result.hpp"
#include "yurt/net/any_stream.hpp"
#include "yurt/net/asio.hpp"
#include "yurt/tunnel/frame.hpp"

namespace yurt::tunnel {

namespace detail {
struct SessionCore;
struct StreamCore;
}  // namespace detail

/// Lifecycle of a stream (docs/tunnel.md has the transition table).
enum class StreamState {
  Opening,           ///< OPEN sent, waiting for OPEN_ACK (only seen inside open_stream())
  Pending,           ///< OPEN received; the owner has not yet accepted or refused it
  Open,              ///< both directions open
  HalfClosedLocal,   ///< we sent FIN; the peer may still send
  HalfClosedRemote,  ///< the peer sent FIN; we may still send
  Closed,            ///< both sides sent FIN (data not yet read stays readable)
  Reset,             ///< RESET sent or received, or the session ended under the stream
  Refused,           ///< OPEN_FAIL sent or received
};

[[nodiscard]] std::string_view to_string(StreamState state) noexcept;

/// One bidirectional byte stream multiplexed over a Session, with per-stream flow control.
///
/// It is an Asio AsyncReadStream / AsyncWriteStream (async_read_some, async_write_some) with
/// half-close (async_shutdown_send sends FIN) and close(), so `net::AnyStream::wrap(std::move(s))`
/// turns it into an AnyStream for net::splice(). Coroutine helpers (read_some, write,
/// shutdown_send) return Result values instead.
///
/// Asio-level error codes, so generic code (splice) behaves: `eof` after the peer's FIN and all
/// data, `connection_reset` when the peer reset the stream, `connection_aborted` when the session
/// ended, `operation_aborted` for an operation cancelled or pending when close()/reset() was
/// called, `bad_descriptor` after close(). error() tells the detailed reason.
///
/// Writes complete once their bytes are queued for the connection within the peer's window, so a
/// write waits while the peer's window is exhausted (a stalled reader on the other side) without
/// holding up other streams. Received data is buffered up to our window (SessionSettings::
/// initial_window); reading it returns credit to the peer (WINDOW_UPDATE).
///
/// @par Thread Safety
/// Like a socket: at most one read and one write (or shutdown) outstanding, all on the session's
/// executor.
/// @par Lifetime
/// Keeps the session's state alive; usable after the Session object is gone (operations then
/// fail). Destroying an unfinished stream resets it (a Pending one is refused).
class Stream {
 public:
  using executor_type = net::Executor;

  Stream() = default;
  Stream(std::shared_ptr<detail::SessionCore> session, std::shared_ptr<detail::StreamCore> core);
  Stream(Stream&&) noexcept = default;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream();

  [[nodiscard]] bool valid() const noexcept { return core_ != nullptr; }
  [[nodiscard]] std::uint32_t id() const noexcept;
  /// "host:port" as given to open_stream() / received in OPEN.
  [[nodiscard]] const std::string& destination() const noexcept;
  [[nodiscard]] StreamState state() const noexcept;
  /// Why the stream failed (empty code while it has not).
  [[nodiscard]] const Error& error() const noexcept;
  /// Received bytes not yet read (never above our window).
  [[nodiscard]] std::size_t buffered() const noexcept;
  /// Bytes the peer currently lets us send.
  [[nodiscard]] std::int64_t send_window() const noexcept;

  /// Pending → Open: answers OPEN_ACK (call once the destination is connected).
  /// Errors: Errc::InvalidArgument when not Pending; Errc::StreamReset / SessionClosed when the
  /// opener gave up or the session ended meanwhile.
  [[nodiscard]] Result<void> accept();
  /// Pending → Refused: answers OPEN_FAIL with `code` and `message` (no-op in other states).
  void refuse(WireCode code, std::string message);
  /// Aborts both directions: sends RESET, drops buffered data, fails pending operations with
  /// operation_aborted. No-op once the stream is Closed, Reset or Refused.
  void reset(WireCode code, std::string message);

  // ---- Asio stream concept ----

  [[nodiscard]] executor_type get_executor() const;

  template <class MutableBufferSequence, class Token>
  auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, net::detail::MutableBuffers b) {
          start_read(b, net::AnyStream::IoHandler(std::move(handler)));
        },
        token, net::detail::MutableBuffers(buffers));
  }

  template <class ConstBufferSequence, class Token>
  auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, net::detail::ConstBuffers b) {
          start_write(b, net::AnyStream::IoHandler(std::move(handler)));
        },
        token, net::detail::ConstBuffers(buffers));
  }

  /// Sends FIN after the data already written; reading goes on. `void(error_code)`.
  template <class Token>
  auto async_shutdown_send(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
        [this](auto handler) {
          start_shutdown(net::AnyStream::ShutdownHandler(std::move(handler)));
        },
        token);
  }

  /// Ends the stream: a clean no-op once both sides sent FIN, else reset(Cancelled). Later
  /// operations fail with bad_descriptor.
  void close() noexcept;
  [[nodiscard]] bool is_open() const noexcept;

  // ---- coroutine helpers ----

  /// Reads what is available (waiting for at least one byte); 0 at end of stream (peer's FIN).
  /// `buffer` must not be empty. Precondition for these helpers: valid().
  net::asio::awaitable<Result<std::size_t>> read_some(net::asio::mutable_buffer buffer);
  /// Writes all of `data`, waiting for window as needed. `data` must stay valid until it returns.
  net::asio::awaitable<Result<void>> write(std::string_view data);
  /// Sends FIN.
  net::asio::awaitable<Result<void>> shutdown_send();

 private:
  void start_read(net::detail::MutableBuffers buffers, net::AnyStream::IoHandler handler);
  void start_write(net::detail::ConstBuffers buffers, net::AnyStream::IoHandler handler);
  void start_shutdown(net::AnyStream::ShutdownHandler handler);

  std::shared_ptr<detail::SessionCore> session_;
  std::shared_ptr<detail::StreamCore> core_;
};

}  // namespace yurt::tunnel
