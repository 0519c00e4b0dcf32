#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "yurt/base/result.hpp"
#include "yurt/net/any_stream.hpp"
#include "yurt/net/asio.hpp"
#include "yurt/net/http.hpp"
#include "yurt/net/tls_context.hpp"

namespace yurt::net {

namespace detail {
struct ClientPool;
}  // namespace detail

/// Where a request goes: scheme (tls set or not), host and port. Connections are pooled per
/// (host, port, TlsContext).
struct Origin {
  std::string host;  ///< DNS name or IP literal (IPv6 without brackets)
  std::uint16_t port = 0;
  std::shared_ptr<TlsContext> tls;  ///< null = plain HTTP; else a client TlsContext

  /// "host:port", IPv6 in brackets.
  [[nodiscard]] std::string authority() const;
};

/// Limits and timeouts of an HttpClient.
struct ClientSettings {
  Millis connect_timeout{10'000};  ///< name resolution + TCP connect + TLS handshake
  /// request(): the whole exchange, unless the call gives its own.
  Millis request_timeout{60'000};
  /// open()/start(): from the end of the request to the response header.
  Millis response_header_timeout{60'000};
  /// A pooled connection unused for this long is closed rather than reused (below the 90 s
  /// idle timeout of Go servers, so we rarely reuse one the server is closing).
  Millis idle_timeout{60'000};
  std::size_t max_idle_per_host = 16;
  /// Connections open at once, busy or idle; a request beyond it waits (within its connect
  /// timeout) for one to be released. Watches hold theirs for minutes: size accordingly.
  std::size_t max_connections = 512;
  std::size_t max_header_bytes = 1 << 20;  ///< response header limit (Go's default)
  /// TLS run by OpenSSL on the socket (net's DirectTlsStream) instead of Asio's ssl::stream: no
  /// transfer buffers kept per connection, and a write's records leave in one send(2). For few,
  /// long-lived, bulk connections taken with take_stream() (the tunnel agent's).
  bool direct_tls = false;
  /// request() only: a response body beyond this fails with Errc::TooLarge (stream bigger
  /// ones with open()).
  std::size_t max_body_bytes = std::size_t{1} << 30;
};

/// One request on a leased connection: write the request body as a stream, read the response
/// head, then the body piece by piece as it arrives (watch streams), or take the connection over
/// after `101 Switching Protocols` / a 2xx answer to CONNECT.
///
/// The connection returns to its pool as soon as the response has been read completely, if it
/// may be kept alive; a call destroyed earlier, or one that failed, closes its connection.
///
/// State machine: SendingBody → AwaitingHead → ReadingBody → Done; any failure → Failed;
/// take_stream() → HandedOff.
///
/// @par Thread Safety
/// Use from the HttpClient's executor only.
/// @par Errors
/// Transport failures name the peer ("read response from 10.0.0.1:6443: Connection reset by
/// peer"); a response cut short is Errc::Truncated; calls in the wrong state Errc::InvalidArgument.
class ClientCall {
 public:
  enum class State { SendingBody, AwaitingHead, ReadingBody, Done, HandedOff, Failed };
  struct Impl;

  explicit ClientCall(std::unique_ptr<Impl> impl);
  ClientCall(ClientCall&&) noexcept;
  ClientCall& operator=(ClientCall&&) noexcept;
  ~ClientCall();

  [[nodiscard]] State state() const noexcept;

  /// Sends a piece of the request body (chunked unless the head had a Content-Length).
  asio::awaitable<Result<void>> write(std::string_view data);
  /// Ends the request body.
  asio::awaitable<Result<void>> end_request();
  /// Reads the response head (skipping 100 Continue) within response_header_timeout.
  asio::awaitable<Result<void>> read_head();

  /// The response head (valid from ReadingBody on); `body` is empty.
  [[nodiscard]] const Response& response() const noexcept;

  /// The next piece of the response body as it arrives, valid until the next call; empty when
  /// the body is complete. No size limit.
  asio::awaitable<Result<std::string_view>> read_some();
  /// The rest of the body; Errc::TooLarge beyond `limit` bytes.
  asio::awaitable<Result<std::string>> read_all(std::size_t limit);

  /// After 101 (or 2xx to CONNECT): the raw connection, with bytes already received prepended.
  [[nodiscard]] Result<AnyStream> take_stream();

  /// TLS details of the connection (the server's certificate), if TLS.
  [[nodiscard]] std::optional<TlsSessionInfo> tls() const;
  /// True when the connection came from the pool rather than a fresh connect.
  [[nodiscard]] bool reused() const noexcept;

 private:
  std::unique_ptr<Impl> impl_;
};

/// An HTTP/1.1 client with keep-alive connection pools (one per origin), plain or TLS.
///
/// @par Thread Safety
/// Not thread-safe: use one client per executor (per worker) and call it from that executor.
/// @par Lifetime
/// Calls may outlive the client (they keep the pool alive); idle connections close when both are
/// gone.
/// @par Errors
/// Expected failures are values with precise messages: "connect 10.0.0.1:6443: Connection
/// refused", "tls handshake with 10.0.0.1:6443: certificate verify failed: hostname mismatch",
/// "GET https://10.0.0.1:6443/readyz: timed out after 5000ms" (Errc::Timeout).
class HttpClient {
 public:
  explicit HttpClient(Executor ex, ClientSettings settings = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Sends `request` (with its body) and reads the whole response, within `timeout`
  /// (default: request_timeout).
  asio::awaitable<Result<Response>> request(Origin origin,
                                            Request request,
                                            std::optional<Millis> timeout = std::nullopt);

  /// Sends `request` (with its body) and reads the response head; read the body from the call
  /// as it arrives. A reused connection that turns out closed by the server is retried once on
  /// a fresh one.
  asio::awaitable<Result<ClientCall>> open(Origin origin, Request request);

  /// Sends only the head of `request` (its body must be empty); stream the body with
  /// ClientCall::write()/end_request(), then read_head().
  asio::awaitable<Result<ClientCall>> start(Origin origin, Request request);

  struct Stats {
    std::size_t open = 0;       ///< connections open (busy + idle)
    std::size_t idle = 0;       ///< idle in the pools
    std::uint64_t created = 0;  ///< connections established since construction
  };
  [[nodiscard]] Stats stats() const;

  /// Closes every idle connection (after a certificate rotation, or before shutdown).
  void close_idle();

 private:
  std::shared_ptr<detail::ClientPool> pool_;
};

}  // namespace yurt::net
