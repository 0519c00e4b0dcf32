#include "yurt/net/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/system/system_error.hpp>

#include "yurt/base/log.hpp"
#include "yurt/net/errc.hpp"
#include "yurt/net/task_group.hpp"

#include "src/net/body_parse.hpp"
#include "src/net/direct_tls.hpp"
#include "src/net/streams.hpp"
#include "src/net/timeout.hpp"
#include "src/net/tls_internal.hpp"
#include "src/net/wire.hpp"

namespace yurt::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using RequestParser = http::request_parser<http::buffer_body>;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kReadSize = 8 * 1024;    // first read of a request
constexpr std::size_t kBodyPiece = 64 * 1024;  // largest piece read_body_some() returns
// An idle keep-alive connection keeps at most this much buffer (thousands of idle kubelet and
// watch connections on a small node add up); body reads grow it to kBodyPiece.
constexpr std::size_t kKeepBuffer = 16 * 1024;
// Go's net/http reads up to 256 KiB of a body the handler left unread to keep the connection;
// beyond that closing is cheaper than reading.
constexpr std::size_t kDrainLimit = 256 * 1024;
// After an error response we read (and drop) what the client is still sending for a moment, so
// that closing does not reset the connection before the client has read our answer.
constexpr Millis kLingerTime{1000};
constexpr std::size_t kLingerBytes = 1024 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

spdlog::logger& logger() {
  return log::get("net");
}

std::uint64_t next_connection_id() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

bool is_parse_error(const boost::system::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::bad_method).category()) {
    return false;
  }
  return ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer;
}

Request to_request(const http::request<http::buffer_body>& msg) {
  Request r;
  r.method = std::string(msg.method_string());
  r.target = std::string(msg.target());
  r.version = static_cast<int>(msg.version());
  for (const auto& field : msg) {
    r.headers.add(std::string(field.name_string()), std::string(field.value()));
  }
  return r;
}

}  // namespace

// One HTTP/1.1 connection: the request loop (serve) and the timeout watchdog run side by side;
// the watchdog closes the stream when the current deadline passes, failing whatever waits on it.
class ServerConnection {
 public:
  ServerConnection(AnyStream stream, Handler& handler, ServerSettings settings, std::uint64_t id)
      : stream_(std::move(stream)),
        handler_(handler),
        settings_(settings),
        watchdog_(stream_.get_executor(), [this] {
          timed_out_ = true;
          stream_.close();  // fails whatever waits on the stream
        }) {
    info_.id = id;
    info_.remote = stream_.remote_endpoint();
    info_.tls = stream_.tls();
  }

  asio::awaitable<void> run() {
    // Total cancellation (graceful stop) must reach the idle read; the handler runs in its own
    // coroutine, which filters it out unless it opts in.
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_await asio::this_coro::throw_if_cancelled(false);
    logger().trace("[C{}] open from {}", info_.id, info_.remote);
    co_await serve();
    watchdog_.stop();
    stream_.close();
    logger().trace("[C{}] closed", info_.id);
  }

  const ConnectionInfo& info() const noexcept { return info_; }
  bool responded() const noexcept { return phase_ != Phase::Idle; }

  asio::awaitable<Result<std::string_view>> read_body_some();
  asio::awaitable<Result<std::string>> read_body(std::size_t limit);
  asio::awaitable<Result<void>> respond(Response response);
  asio::awaitable<Result<void>> start_response(Response head);
  asio::awaitable<Result<void>> write(std::string_view data);
  asio::awaitable<Result<void>> finish();
  asio::awaitable<Result<AnyStream>> upgrade(Response head);

 private:
  enum class Phase { Idle, Streaming, Done, HandedOff };
  enum class Framing { None, Chunked, Length, UntilClose };

  asio::awaitable<void> serve();
  asio::awaitable<Result<void>> write_buffers(const std::array<asio::const_buffer, 3>& buffers);
  asio::awaitable<void> send_error(int status, std::string_view text);
  asio::awaitable<bool> drain_body();
  asio::awaitable<void> linger();
  void apply_connection_header(Headers& headers);
  Error io_error(const boost::system::error_code& ec, std::string_view what) const;

  void set_deadline(Millis timeout) { watchdog_.expires_after(timeout); }
  void clear_deadline() { watchdog_.clear(); }
  bool stopping() const {
    return cancel_state_ && cancel_state_->cancelled() != asio::cancellation_type::none;
  }
  bool aborted() const {
    return cancel_state_ && (cancel_state_->cancelled() & asio::cancellation_type::terminal) !=
                                asio::cancellation_type::none;
  }

  AnyStream stream_;
  Handler& handler_;
  ServerSettings settings_;
  ConnectionInfo info_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::unique_ptr<char[]> body_piece_;
  bool timed_out_ = false;
  Watchdog watchdog_;  // after stream_: its action closes it

  // Per exchange.
  std::string method_;
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  bool continue_sent_ = false;
  Phase phase_ = Phase::Idle;
  Framing framing_ = Framing::None;
  std::uint64_t remaining_ = 0;
  int status_ = 0;
  bool close_after_ = false;  // answer with Connection: close and end the loop
  bool broken_ = false;       // an I/O or framing failure: the stream is unusable
  std::optional<asio::cancellation_state> cancel_state_;  // serve()'s: records a graceful stop
};

asio::awaitable<void> ServerConnection::serve() {
  cancel_state_ = co_await asio::this_coro::cancellation_state;
  auto ex = co_await asio::this_coro::executor;
  bool linger_on_close = false;
  for (;;) {
    if (stopping()) {
      break;
    }
    if (buffer_.size() == 0) {
      if (buffer_.capacity() > kKeepBuffer) {
        buffer_.shrink_to_fit();
        body_piece_.reset();
      }
      // Waiting for the next request reads directly (not through Beast, whose operations only
      // honour terminal cancellation), so a graceful stop ends an idle connection at once.
      set_deadline(settings_.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(kReadSize), kUse);
      buffer_.commit(n);
      if (ec) {
        break;
      }
    }
    set_deadline(settings_.header_timeout);
    method_ = "GET";  // until a request line is parsed, error answers carry a body
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
        settings_.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    parser_->body_limit(boost::none);  // bodies are streamed to the handler: no cap here
    auto [ec, header_bytes] = co_await http::async_read_header(stream_, buffer_, *parser_, kUse);
    clear_deadline();
    if (ec == http::error::header_limit) {
      auto text = "request header exceeds " + std::to_string(settings_.max_header_bytes) + " bytes";
      co_await send_error(431, text);
      linger_on_close = true;
      break;
    }
    if (is_parse_error(ec)) {
      auto text = "malformed request: " + ec.message();
      co_await send_error(400, text);
      linger_on_close = true;
      break;
    }
    if (ec) {
      logger().trace("[C{}] read request: {}", info_.id, ec.message());
      break;
    }

    auto request = to_request(parser_->get());
    method_ = request.method;
    keep_alive_ = parser_->get().keep_alive();
    expect_continue_ =
        request.version == 11 && iequals(request.headers.get("Expect"), "100-continue");
    continue_sent_ = false;
    phase_ = Phase::Idle;
    framing_ = Framing::None;
    remaining_ = 0;
    status_ = 0;
    if (request.version == 11 && !request.headers.contains("Host")) {
      co_await send_error(400, "missing required Host header");
      linger_on_close = true;
      break;
    }
    // A CONNECT the handler refuses leaves the client's tunnel bytes unparseable as HTTP.
    close_after_ = request.method == "CONNECT";

    ServerExchange exchange(*this, std::move(request));
    auto task = handler_.handle(exchange);
    auto [error] = co_await asio::co_spawn(ex, std::move(task), kUse);
    if (aborted()) {
      break;  // the drain deadline passed: close without writing anything more
    }
    if (phase_ == Phase::HandedOff) {
      logger().debug("[C{}] {} {} handed off", info_.id, method_, exchange.request().target);
      co_return;
    }
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const boost::system::system_error& e) {
        logger().debug("[C{}] handler aborted: {}", info_.id, e.what());
      } catch (const std::exception& e) {
        logger().error("[C{}] handler for {} {} threw: {}", info_.id, method_,
                       exchange.request().target, e.what());
      }
      if (phase_ == Phase::Idle) {
        co_await send_error(500, "internal error");
      }
      break;
    }
    if (phase_ == Phase::Idle) {
      logger().error("[C{}] handler for {} {} returned without a response", info_.id, method_,
                     exchange.request().target);
      co_await send_error(500, "no response");
      break;
    }
    if (phase_ == Phase::Streaming) {
      if (!co_await finish()) {
        break;
      }
    }
    logger().debug("[C{}] {} {} {}", info_.id, method_, exchange.request().target, status_);
    if (broken_ || close_after_) {
      break;
    }
    if (!co_await drain_body()) {
      break;
    }
  }
  if (linger_on_close && !broken_ && !aborted()) {
    co_await linger();
  }
}

Error ServerConnection::io_error(const boost::system::error_code& ec, std::string_view what) const {
  std::string message = std::string(what) + " " + (info_.remote.empty() ? "peer" : info_.remote);
  if (timed_out_) {
    return fail(Errc::Timeout, message + ": no progress for " +
                                   std::to_string(settings_.io_timeout.count()) + "ms");
  }
  if (ec == http::error::partial_message || ec == asio::error::eof) {
    return fail(Errc::Truncated, message);
  }
  if (is_parse_error(ec)) {
    return Error(make_error_code(Errc::Protocol), message + ": " + ec.message());
  }
  return Error(ec, message);
}

asio::awaitable<Result<void>> ServerConnection::write_buffers(
    const std::array<asio::const_buffer, 3>& buffers) {
  if (broken_ || !stream_.valid()) {
    co_return fail(Errc::Closed, "connection " + std::to_string(info_.id) + " failed earlier");
  }
  set_deadline(settings_.io_timeout);
  auto [ec, n] = co_await asio::async_write(stream_, buffers, kUse);
  clear_deadline();
  if (ec) {
    broken_ = true;
    co_return io_error(ec, "write response to");
  }
  co_return Result<void>{};
}

void ServerConnection::apply_connection_header(Headers& headers) {
  if (!keep_alive_ || stopping()) {
    close_after_ = true;
  }
  if (close_after_) {
    headers.set("Connection", "close");
  } else if (parser_ && parser_->get().version() == 10) {
    headers.set("Connection", "keep-alive");  // HTTP/1.0 closes unless told otherwise
  }
}

asio::awaitable<void> ServerConnection::send_error(int status, std::string_view text) {
  close_after_ = true;
  Response r;
  r.status = status;
  r.headers.add("Content-Type", "text/plain; charset=utf-8");
  r.body = std::to_string(status) + " " + std::string(reason_phrase(status)) + ": " +
           std::string(text) + "\n";
  logger().debug("[C{}] {} {}", info_.id, status, text);
  phase_ = Phase::Idle;
  auto ignored = co_await respond(std::move(r));
  (void)ignored;  // the connection closes either way
}

asio::awaitable<Result<void>> ServerConnection::respond(Response response) {
  if (phase_ != Phase::Idle) {
    co_return fail(Errc::InvalidArgument, "a response was already sent");
  }
  phase_ = Phase::Done;
  status_ = response.status;
  Headers headers = std::move(response.headers);
  bool body_allowed = wire::response_has_body(response.status, method_);
  bool bodyless_status = !wire::response_has_body(response.status, "GET");
  if (headers.contains("Transfer-Encoding")) {
    co_return fail(Errc::InvalidArgument,
                   "respond() sends Content-Length bodies; use start_response()");
  }
  if (bodyless_status) {
    if (!response.body.empty()) {
      co_return fail(Errc::InvalidArgument,
                     "status " + std::to_string(response.status) + " cannot have a body");
    }
  } else if (!headers.contains("Content-Length")) {
    headers.add("Content-Length", std::to_string(response.body.size()));
  } else if (body_allowed) {
    std::uint64_t declared = 0;
    if (!wire::parse_content_length(headers.get("Content-Length"), declared) ||
        declared != response.body.size()) {
      co_return fail(Errc::InvalidArgument, "Content-Length does not match the body");
    }
  }
  apply_connection_header(headers);
  auto head = wire::response_head(response.status, response.reason, 11, headers);
  if (!head) {
    co_return head.error();
  }
  std::string_view body = body_allowed ? std::string_view(response.body) : std::string_view();
  co_return co_await write_buffers({asio::buffer(*head), asio::buffer(body), asio::const_buffer()});
}

asio::awaitable<Result<void>> ServerConnection::start_response(Response head) {
  if (phase_ != Phase::Idle) {
    co_return fail(Errc::InvalidArgument, "a response was already sent");
  }
  phase_ = Phase::Streaming;
  status_ = head.status;
  Headers headers = std::move(head.headers);
  if (!wire::response_has_body(head.status, method_)) {
    framing_ = Framing::None;
  } else if (headers.contains("Content-Length")) {
    if (!wire::parse_content_length(headers.get("Content-Length"), remaining_)) {
      phase_ = Phase::Done;
      co_return fail(Errc::InvalidArgument, "invalid Content-Length");
    }
    framing_ = Framing::Length;
  } else if (parser_ && parser_->get().version() == 11) {
    headers.set("Transfer-Encoding", "chunked");
    framing_ = Framing::Chunked;
  } else {
    framing_ = Framing::UntilClose;  // HTTP/1.0 has no chunking: the end of the body is EOF
    close_after_ = true;
  }
  apply_connection_header(headers);
  auto line = wire::response_head(head.status, head.reason, 11, headers);
  if (!line) {
    phase_ = Phase::Done;
    co_return line.error();
  }
  if (auto r =
          co_await write_buffers({asio::buffer(*line), asio::const_buffer(), asio::const_buffer()});
      !r) {
    co_return r;
  }
  co_return co_await write(head.body);
}

asio::awaitable<Result<void>> ServerConnection::write(std::string_view data) {
  if (phase_ != Phase::Streaming) {
    co_return fail(Errc::InvalidArgument, "write() needs a started, unfinished streamed response");
  }
  if (data.empty()) {
    co_return Result<void>{};
  }
  switch (framing_) {
    case Framing::None:
      co_return fail(Errc::InvalidArgument, "this response has no body");
    case Framing::Chunked: {
      auto size = wire::chunk_header(data.size());
      co_return co_await write_buffers(
          {asio::buffer(size), asio::buffer(data), asio::buffer(wire::kCrlf)});
    }
    case Framing::Length:
      if (data.size() > remaining_) {
        co_return fail(Errc::InvalidArgument, "write() goes beyond the declared Content-Length");
      }
      remaining_ -= data.size();
      break;
    case Framing::UntilClose:
      break;
  }
  co_return co_await write_buffers(
      {asio::buffer(data), asio::const_buffer(), asio::const_buffer()});
}

asio::awaitable<Result<void>> ServerConnection::finish() {
  if (phase_ == Phase::Done) {
    co_return Result<void>{};
  }
  if (phase_ != Phase::Streaming) {
    co_return fail(Errc::InvalidArgument, "finish() without a streamed response");
  }
  phase_ = Phase::Done;
  if (framing_ == Framing::Chunked) {
    co_return co_await write_buffers(
        {asio::buffer(wire::kLastChunk), asio::const_buffer(), asio::const_buffer()});
  }
  if (framing_ == Framing::Length && remaining_ != 0) {
    broken_ = true;  // the client would wait for the missing bytes: closing tells it
    co_return fail(Errc::InvalidArgument, "response ended " + std::to_string(remaining_) +
                                              " bytes short of its Content-Length");
  }
  co_return Result<void>{};
}

asio::awaitable<Result<AnyStream>> ServerConnection::upgrade(Response head) {
  if (phase_ != Phase::Idle) {
    co_return fail(Errc::InvalidArgument, "a response was already sent");
  }
  phase_ = Phase::Done;
  status_ = head.status;
  auto line = wire::response_head(head.status, head.reason, 11, head.headers);
  if (!line) {
    co_return line.error();
  }
  if (auto r =
          co_await write_buffers({asio::buffer(*line), asio::const_buffer(), asio::const_buffer()});
      !r) {
    co_return r.error();
  }
  phase_ = Phase::HandedOff;
  clear_deadline();
  AnyStream stream = std::move(stream_);
  auto pending = buffer_.data();
  stream.prepend(std::string_view(static_cast<const char*>(pending.data()), pending.size()));
  buffer_.consume(buffer_.size());
  co_return stream;
}

asio::awaitable<Result<std::string_view>> ServerConnection::read_body_some() {
  if (phase_ == Phase::HandedOff) {
    co_return fail(Errc::Closed, "the connection was handed off");
  }
  if (!parser_ || parser_->is_done()) {
    co_return std::string_view();
  }
  if (broken_) {
    co_return fail(Errc::Closed, "connection " + std::to_string(info_.id) + " failed earlier");
  }
  if (expect_continue_ && !continue_sent_ && phase_ == Phase::Idle) {
    continue_sent_ = true;
    if (auto r = co_await write_buffers(
            {asio::buffer(kContinue), asio::const_buffer(), asio::const_buffer()});
        !r) {
      co_return r.error();
    }
  }
  if (!body_piece_) {
    body_piece_ = std::make_unique<char[]>(kBodyPiece);
    buffer_.reserve(kBodyPiece);  // Beast reads at most the buffer's free capacity at a time
  }
  for (;;) {
    auto& body = parser_->get().body();
    body.data = body_piece_.get();
    body.size = kBodyPiece;
    body.more = true;
    set_deadline(settings_.io_timeout);
    auto [ec, n] = co_await http::async_read_some(stream_, buffer_, *parser_, kUse);
    clear_deadline();
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    if (!ec) {
      ec = detail::parse_buffered(*parser_, buffer_);
    }
    std::size_t got = kBodyPiece - parser_->get().body().size;
    if (ec) {
      broken_ = true;
      co_return io_error(ec, "read request body from");
    }
    if (got > 0) {
      co_return std::string_view(body_piece_.get(), got);
    }
    if (parser_->is_done()) {
      co_return std::string_view();
    }
  }
}

asio::awaitable<Result<std::string>> ServerConnection::read_body(std::size_t limit) {
  std::string body;
  for (;;) {
    auto piece = co_await read_body_some();
    if (!piece) {
      co_return piece.error();
    }
    if (piece->empty()) {
      co_return body;
    }
    if (body.size() + piece->size() > limit) {
      close_after_ = true;  // the rest stays unread
      co_return fail(Errc::TooLarge, "request body exceeds " + std::to_string(limit) + " bytes");
    }
    body.append(*piece);
  }
}

asio::awaitable<bool> ServerConnection::drain_body() {
  if (!parser_ || parser_->is_done()) {
    co_return true;
  }
  if (expect_continue_ && !continue_sent_) {
    co_return false;  // the client waits for 100 Continue before sending: nothing to drain
  }
  std::size_t drained = 0;
  while (drained <= kDrainLimit) {
    auto piece = co_await read_body_some();
    if (!piece) {
      co_return false;
    }
    if (piece->empty()) {
      co_return true;
    }
    drained += piece->size();
  }
  co_return false;
}

asio::awaitable<void> ServerConnection::linger() {
  auto [sec] = co_await stream_.async_shutdown_send(kUse);
  if (sec) {
    co_return;
  }
  set_deadline(kLingerTime);
  std::size_t total = 0;
  std::array<char, 4096> sink;
  while (total < kLingerBytes) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(sink), kUse);
    total += n;
    if (ec) {
      break;
    }
  }
  clear_deadline();
}

// ---- ServerExchange ----

ServerExchange::ServerExchange(ServerConnection& connection, Request request)
    : connection_(connection), request_(std::move(request)) {}

const ConnectionInfo& ServerExchange::connection() const noexcept {
  return connection_.info();
}

asio::awaitable<Result<std::string_view>> ServerExchange::read_body_some() {
  return connection_.read_body_some();
}
asio::awaitable<Result<std::string>> ServerExchange::read_body(std::size_t limit) {
  return connection_.read_body(limit);
}
asio::awaitable<Result<void>> ServerExchange::respond(Response response) {
  return connection_.respond(std::move(response));
}
asio::awaitable<Result<void>> ServerExchange::start_response(Response head) {
  return connection_.start_response(std::move(head));
}
asio::awaitable<Result<void>> ServerExchange::write(std::string_view data) {
  return connection_.write(data);
}
asio::awaitable<Result<void>> ServerExchange::finish() {
  return connection_.finish();
}
asio::awaitable<Result<AnyStream>> ServerExchange::upgrade(Response head) {
  return connection_.upgrade(std::move(head));
}
asio::awaitable<Result<AnyStream>> ServerExchange::accept_connect() {
  Response head;
  head.status = 200;
  head.reason = "Connection established";
  return connection_.upgrade(std::move(head));
}
bool ServerExchange::responded() const noexcept {
  return connection_.responded();
}

asio::awaitable<void> serve_connection(AnyStream stream,
                                       Handler& handler,
                                       ServerSettings settings) {
  ServerConnection connection(std::move(stream), handler, settings, next_connection_id());
  co_await connection.run();
}

// ---- Listener ----

namespace {

using Counter = std::shared_ptr<std::atomic<std::size_t>>;

struct ActiveGuard {
  Counter counter;
  ~ActiveGuard() { counter->fetch_sub(1); }
};

// Accepted beyond max_connections: answer without reading (a TLS handshake would cost the CPU
// we are short of, so TLS connections are just closed).
void decline(asio::ip::tcp::socket socket, bool tls) {
  static constexpr std::string_view kBusy =
      "HTTP/1.1 503 Service Unavailable\r\n"
      "Retry-After: 1\r\n"
      "Connection: close\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 21\r\n"
      "\r\n"
      "too many connections\n";
  boost::system::error_code ec;
  if (!tls) {
    socket.non_blocking(true, ec);
    socket.write_some(asio::buffer(kBusy), ec);
    socket.shutdown(asio::socket_base::shutdown_send, ec);
  }
  socket.close(ec);
}

// The server side of each TLS stream kind's handshake (one signature for with_timeout()).
auto server_handshake(DirectTlsStream& stream) {
  return stream.async_handshake(kUse);
}
auto server_handshake(TlsStream& stream) {
  return stream.stream().async_handshake(asio::ssl::stream_base::server, kUse);
}

// Handshakes within header_timeout, then serves HTTP on the stream.
template <class Stream>
asio::awaitable<void> serve_tls(std::unique_ptr<Stream> stream,
                                Handler& handler,
                                ServerSettings settings,
                                std::uint64_t id) {
  auto remote = stream->remote_endpoint();
  auto result = co_await with_timeout(server_handshake(*stream), settings.header_timeout);
  if (!result) {
    logger().debug("[C{}] tls handshake with {} timed out", id, remote);
    co_return;
  }
  if (auto [hec] = *result; hec) {
    logger().debug("[C{}] tls handshake with {} failed: {}{}", id, remote, hec.message(),
                   handshake_failure(stream->native_handle(), hec));
    co_return;
  }
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cs.cancelled() != asio::cancellation_type::none) {
    co_return;
  }
  ServerConnection connection(AnyStream(std::move(stream)), handler, settings, id);
  co_await connection.run();
}

asio::awaitable<void> run_accepted(asio::ip::tcp::socket socket,
                                   Handler& handler,
                                   ServerSettings settings,
                                   std::shared_ptr<TlsContext> tls,
                                   bool direct_tls,
                                   Counter active) {
  ActiveGuard guard{std::move(active)};
  // Record a graceful stop (total cancellation) that arrives during the handshake; the handshake
  // itself finishes (bounded by header_timeout), then the connection closes.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  co_await asio::this_coro::throw_if_cancelled(false);
  auto id = next_connection_id();
  // Chunks of a watch stream go out as separate small writes: do not let Nagle hold one back
  // for the client's delayed ACK.
  boost::system::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  if (!tls) {
    ServerConnection connection(make_tcp_stream(std::move(socket)), handler, settings, id);
    co_await connection.run();
    co_return;
  }
  const auto context = detail::TlsAccess::snapshot(*tls);
  if (direct_tls) {
    auto stream = std::make_unique<DirectTlsStream>(std::move(socket), context,
                                                    DirectTlsStream::Role::Server);
    co_await serve_tls(std::move(stream), handler, std::move(settings), id);
    co_return;
  }
  auto stream = std::make_unique<TlsStream>(std::move(socket), context);
  co_await serve_tls(std::move(stream), handler, std::move(settings), id);
}

}  // namespace

struct Listener::State {
  State(Executor e, Handler& h, ListenerConfig c)
      : ex(e), acceptor(e), handler(h), config(std::move(c)), tasks(e) {}
  Executor ex;
  asio::ip::tcp::acceptor acceptor;
  Handler& handler;
  ListenerConfig config;
  TaskGroup tasks;
  Counter active = std::make_shared<std::atomic<std::size_t>>(0);
  std::atomic<std::uint64_t> accepted{0};
  asio::ip::tcp::endpoint local;
  std::size_t next_worker = 0;
};

Listener::Listener(std::shared_ptr<State> state) : state_(std::move(state)) {}
Listener::~Listener() {
  boost::system::error_code ec;
  state_->acceptor.close(ec);
}

Result<std::unique_ptr<Listener>> Listener::bind(Executor ex,
                                                 Handler& handler,
                                                 ListenerConfig config) {
  if (config.tls && !config.tls->is_server()) {
    return fail(Errc::InvalidArgument, "listener needs a server TlsContext");
  }
  auto state = std::make_shared<State>(ex, handler, std::move(config));
  const auto& endpoint = state->config.endpoint;
  auto where = "listen " + to_string(endpoint);
  boost::system::error_code ec;
  auto& acceptor = state->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) {
    return Error(ec, where);
  }
  // Restarting daemons must rebind while old connections sit in TIME_WAIT.
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return Error(ec, where);
  }
  if (acceptor.bind(endpoint, ec); ec) {
    return Error(ec, where);
  }
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Error(ec, where);
  }
  state->local = acceptor.local_endpoint(ec);
  if (ec) {
    return Error(ec, where);
  }
  return std::unique_ptr<Listener>(new Listener(std::move(state)));
}

asio::ip::tcp::endpoint Listener::local_endpoint() const {
  return state_->local;
}

asio::awaitable<void> Listener::run() {
  auto st = state_;
  auto& workers = st->config.workers;
  logger().info("listening on {}{}", to_string(st->local), st->config.tls ? " (TLS)" : "");
  asio::steady_timer backoff(st->ex);
  for (;;) {
    Executor worker = workers.empty() ? st->ex : workers[st->next_worker++ % workers.size()];
    auto [ec, socket] = co_await st->acceptor.async_accept(worker, kUse);
    if (ec) {
      if (!st->acceptor.is_open() || ec == asio::error::operation_aborted) {
        break;
      }
      // Out of descriptors or buffers: retrying at once would spin; give connections time to end.
      logger().warn("accept on {}: {}", to_string(st->local), ec.message());
      backoff.expires_after(Millis(100));
      auto [wec] = co_await backoff.async_wait(kUse);
      if (wec) {
        break;
      }
      continue;
    }
    if (st->active->load() >= st->config.settings.max_connections) {
      logger().debug("declining connection: {} active", st->active->load());
      decline(std::move(socket), st->config.tls != nullptr);
      continue;
    }
    st->active->fetch_add(1);
    st->accepted.fetch_add(1);
    st->tasks.spawn(worker,
                    run_accepted(std::move(socket), st->handler, st->config.settings,
                                 st->config.tls, st->config.direct_tls, st->active),
                    "http connection");
  }
}

asio::awaitable<void> Listener::stop(Millis drain_timeout) {
  auto st = state_;
  boost::system::error_code ec;
  st->acceptor.close(ec);
  st->tasks.emit(asio::cancellation_type::total);
  if (!co_await st->tasks.wait_for(drain_timeout)) {
    logger().info("{} connections still busy after {}ms drain, aborting them", st->tasks.size(),
                  drain_timeout.count());
    st->tasks.emit(asio::cancellation_type::terminal);
    co_await st->tasks.async_wait();
  }
}

std::size_t Listener::active_connections() const noexcept {
  return state_->active->load();
}

std::uint64_t Listener::accepted_connections() const noexcept {
  return state_->accepted.load();
}

}  // namespace yurt::net
