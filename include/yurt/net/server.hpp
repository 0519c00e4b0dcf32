#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "yurt/base/result.hpp"
#include "yurt/net/any_stream.hpp"
#include "yurt/net/asio.hpp"
#include "yurt/net/http.hpp"
#include "yurt/net/tls_context.hpp"

namespace yurt::net {

/// Limits and timeouts of an HTTP/1.1 server connection.
struct ServerSettings {
  /// Request line + header fields; more is answered 431. Go's http.DefaultMaxHeaderBytes, which
  /// the apiserver and kubelet use, so anything they accept we accept.
  std::size_t max_header_bytes = 1 << 20;
  /// From the first byte of a request (or the TLS handshake) to its complete header: bounds
  /// slow-header (slowloris) clients.
  Millis header_timeout{30'000};
  /// A keep-alive connection with no request in progress is closed after this long.
  Millis idle_timeout{90'000};
  /// Longest a single body read or write may make no progress (a stalled client on a watch).
  Millis io_timeout{60'000};
  /// Connections beyond this are declined: plain HTTP gets `503` with `Retry-After`, TLS is
  /// closed before the handshake (only Listener enforces it).
  std::size_t max_connections = 10'000;
};

/// Per-connection facts a handler may need.
struct ConnectionInfo {
  std::uint64_t id = 0;               ///< "[C<id>]" in logs
  std::string remote;                 ///< "10.0.0.7:51234" ("pipe" for make_pipe streams)
  std::optional<TlsSessionInfo> tls;  ///< present on TLS connections
};

class ServerConnection;

/// One request on a server connection and the means to answer it, given to Handler::handle().
/// The request body is read as a stream; the answer is one of: respond() (full response),
/// start_response()/write()/finish() (streamed: chunked for HTTP/1.1 unless the head carries a
/// Content-Length; flushed per write, no size limit), or upgrade()/accept_connect() (take over
/// the connection).
///
/// @par Thread Safety
/// Use only from the handler's coroutine.
/// @par Lifetime
/// Valid during handle(); streams returned by upgrade()/accept_connect() are the caller's.
/// @par Errors
/// I/O failures and misuse (a second response, a header with CR/LF) are Result errors; after a
/// failed write the connection is closed once the handler returns.
class ServerExchange {
 public:
  ServerExchange(ServerConnection& connection, Request request);
  ServerExchange(const ServerExchange&) = delete;
  ServerExchange& operator=(const ServerExchange&) = delete;

  /// Method, target, version and headers; `body` is empty (read it with read_body_some()).
  [[nodiscard]] const Request& request() const noexcept { return request_; }
  [[nodiscard]] const ConnectionInfo& connection() const noexcept;

  /// The next piece of the request body as it arrives (chunked or Content-Length), valid until
  /// the next call; empty when the body is complete. Sends `100 Continue` first if asked.
  asio::awaitable<Result<std::string_view>> read_body_some();
  /// The whole body, or Errc::TooLarge once it exceeds `limit` bytes.
  asio::awaitable<Result<std::string>> read_body(std::size_t limit);

  /// Sends a complete response. Content-Length is set from the body unless given.
  asio::awaitable<Result<void>> respond(Response response);
  /// Sends the head of a streamed response; `head.body`, if any, is the first piece.
  asio::awaitable<Result<void>> start_response(Response head);
  /// Sends one piece of a streamed response and flushes it (an empty piece sends nothing).
  asio::awaitable<Result<void>> write(std::string_view data);
  /// Ends a streamed response (the server calls it if the handler did not).
  asio::awaitable<Result<void>> finish();

  /// Writes `head` exactly as given (status line + its headers, e.g. 101 Switching Protocols)
  /// and hands over the connection, with bytes the client already sent prepended.
  asio::awaitable<Result<AnyStream>> upgrade(Response head);
  /// For CONNECT: writes `HTTP/1.1 200 Connection established` and hands over the connection.
  asio::awaitable<Result<AnyStream>> accept_connect();

  /// True once any part of a response was sent (or the connection was handed over).
  [[nodiscard]] bool responded() const noexcept;

 private:
  ServerConnection& connection_;
  Request request_;
};

/// Serves one request. Runs as its own coroutine on the connection's executor with the default
/// (terminal-only) cancellation filter: a graceful stop lets it finish, the drain deadline
/// aborts it. A handler that may wait indefinitely (a watch, a tunnel) can opt into the graceful
/// signal with `co_await asio::this_coro::reset_cancellation_state(
/// asio::enable_total_cancellation())`. A handler that returns without responding gets a 500;
/// an exception is logged and closes the connection.
///
/// @par Thread Safety
/// Called concurrently for different connections (from every worker thread the Listener uses).
class Handler {
 public:
  virtual ~Handler() = default;
  virtual asio::awaitable<void> handle(ServerExchange& exchange) = 0;
};

/// Serves HTTP/1.1 with keep-alive on an established stream until the peer closes, a timeout, an
/// unrecoverable error, a hand-off, or a graceful stop (total cancellation while idle, or after
/// the current response). Malformed requests get 400 and oversized headers 431, then the
/// connection closes.
asio::awaitable<void> serve_connection(AnyStream stream, Handler& handler, ServerSettings settings);

/// Where and how a Listener serves.
struct ListenerConfig {
  asio::ip::tcp::endpoint endpoint;  ///< port 0 picks a free port (see local_endpoint())
  ServerSettings settings;
  std::shared_ptr<TlsContext> tls;  ///< null = plain HTTP; else a server TlsContext
  /// Drive OpenSSL on the socket itself instead of through Asio's ssl::stream: about 68 KiB less
  /// per connection (Asio's transfer buffers and BIO pair), for listeners that hold many idle
  /// long-lived connections (tunnel agents). Same behaviour otherwise.
  bool direct_tls = false;
  /// Executors that run connections, round-robin (one per worker thread); empty = the
  /// listener's own executor.
  std::vector<Executor> workers;
};

/// Accepts TCP (and TLS) connections and serves each with serve_connection() on a worker.
///
/// @par Thread Safety
/// run() and stop() must be awaited on the listener's executor; local_endpoint() and the counters
/// are safe from any thread.
/// @par Lifetime
/// `handler` and the Listener must outlive stop(); destroy the Listener after stop() returned.
class Listener {
 public:
  /// Opens, binds and listens. Errors carry the endpoint: "listen 0.0.0.0:10261: Address
  /// already in use".
  [[nodiscard]] static Result<std::unique_ptr<Listener>> bind(Executor ex,
                                                              Handler& handler,
                                                              ListenerConfig config);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// The bound address (with the port chosen when 0 was asked for).
  [[nodiscard]] asio::ip::tcp::endpoint local_endpoint() const;

  /// Accepts until stop(); returns once the acceptor is closed.
  asio::awaitable<void> run();

  /// Graceful stop: closes the acceptor, asks connections to finish (idle ones close at once,
  /// in-flight requests complete), and after `drain_timeout` aborts the rest. Returns when every
  /// connection has ended.
  asio::awaitable<void> stop(Millis drain_timeout);

  /// Connections being served now.
  [[nodiscard]] std::size_t active_connections() const noexcept;
  /// Connections accepted since bind() (declined ones excluded).
  [[nodiscard]] std::uint64_t accepted_connections() const noexcept;

 private:
  struct State;
  explicit Listener(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace yurt::net
