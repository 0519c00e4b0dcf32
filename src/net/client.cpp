#include "yurt/net/client.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
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

#include "yurt/base/log.hpp"
#include "yurt/net/errc.hpp"

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
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using ResponseParser = http::response_parser<http::buffer_body>;
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kBodyPiece = 64 * 1024;  // largest piece read_some() returns

spdlog::logger& logger() {
  return log::get("net");
}

struct PoolKey {
  std::string host;
  std::uint16_t port = 0;
  const TlsContext* tls = nullptr;
  bool operator==(const PoolKey&) const = default;
};

struct PoolKeyHash {
  std::size_t operator()(const PoolKey& k) const noexcept {
    std::size_t h = std::hash<std::string>()(k.host);
    h = h * 31 + k.port;
    return h * 31 + std::hash<const void*>()(k.tls);
  }
};

struct Connection {
  AnyStream stream;
  PoolKey key;
  std::shared_ptr<TlsContext> tls;  // keeps the key's context alive while pooled
  std::string peer;                 // "10.0.0.1:6443" for messages
  Clock::time_point idle_since;
  bool reused = false;
};
using ConnectionPtr = std::unique_ptr<Connection>;

bool is_parse_error(const boost::system::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::bad_method).category()) {
    return false;
  }
  return ec != http::error::end_of_stream && ec != http::error::partial_message &&
         ec != http::error::need_more && ec != http::error::need_buffer &&
         ec != http::error::header_limit;
}

// What a failure says about the peer, with `what` naming the step and the peer.
Error io_error(const boost::system::error_code& ec, const std::string& what) {
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == asio::error::eof) {
    return fail(Errc::Truncated, what);
  }
  if (ec == http::error::header_limit) {
    return fail(Errc::TooLarge, what + ": response header too large");
  }
  if (is_parse_error(ec)) {
    return Error(make_error_code(Errc::Protocol), what + ": " + ec.message());
  }
  return Error(ec, what);
}

// The server closed a kept-alive connection before (or while) we sent on it: safe to retry a
// request whose body we still have, on a fresh connection (what Go's Transport does too).
bool closed_by_server(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

std::string timeout_text(Millis t) {
  return "timed out after " + std::to_string(t.count()) + "ms";
}

}  // namespace

namespace detail {

struct ClientPool {
  ClientPool(Executor e, ClientSettings s) : ex(std::move(e)), settings(s), slot_freed(ex) {
    slot_freed.expires_at(Clock::time_point::max());  // woken by cancel_one() only
  }

  // Returns a connection to the pool, or closes it.
  void release(ConnectionPtr c, bool reusable) {
    if (!reusable || !c->stream.is_open()) {
      drop(std::move(c));
      return;
    }
    c->idle_since = Clock::now();
    c->reused = true;
    auto& queue = idle[c->key];
    queue.push_back(std::move(c));
    ++idle_count;
    if (queue.size() > settings.max_idle_per_host) {
      auto oldest = std::move(queue.front());
      queue.pop_front();
      --idle_count;
      drop(std::move(oldest));
    }
    slot_freed.cancel_one();  // a waiter may now evict an idle connection
  }

  // Closes a connection that belongs to the pool's count.
  void drop(ConnectionPtr c) {
    c->stream.close();
    forget();
  }
  // A connection left the pool's count (closed, or handed off by take_stream()).
  void forget() {
    --open;
    slot_freed.cancel_one();
  }

  ConnectionPtr take_idle(const PoolKey& key) {
    auto it = idle.find(key);
    if (it == idle.end()) {
      return nullptr;
    }
    auto& queue = it->second;
    auto now = Clock::now();
    ConnectionPtr found;
    while (!queue.empty() && !found) {
      auto c = std::move(queue.back());  // most recently used: least likely closed by the server
      queue.pop_back();
      --idle_count;
      if (now - c->idle_since >= settings.idle_timeout || c->stream.readable_while_idle()) {
        drop(std::move(c));
      } else {
        found = std::move(c);
      }
    }
    if (queue.empty()) {
      idle.erase(it);
    }
    return found;
  }

  bool evict_one_idle() {
    auto oldest = idle.end();
    for (auto it = idle.begin(); it != idle.end(); ++it) {
      if (oldest == idle.end() ||
          it->second.front()->idle_since < oldest->second.front()->idle_since) {
        oldest = it;
      }
    }
    if (oldest == idle.end()) {
      return false;
    }
    auto c = std::move(oldest->second.front());
    oldest->second.pop_front();
    --idle_count;
    if (oldest->second.empty()) {
      idle.erase(oldest);
    }
    drop(std::move(c));
    return true;
  }

  void close_idle() {
    for (auto& [key, queue] : idle) {
      for (auto& c : queue) {
        drop(std::move(c));
      }
    }
    idle.clear();
    idle_count = 0;
  }

  asio::awaitable<Result<ConnectionPtr>> connect(Origin origin);
  asio::awaitable<Result<ConnectionPtr>> open_new(Origin origin, bool fresh_only);
  asio::awaitable<Result<ConnectionPtr>> acquire(Origin origin, bool fresh_only);

  Executor ex;
  ClientSettings settings;
  std::unordered_map<PoolKey, std::deque<ConnectionPtr>, PoolKeyHash> idle;
  std::size_t idle_count = 0;
  std::size_t open = 0;  // counted against max_connections: busy + idle
  std::uint64_t created = 0;
  asio::steady_timer slot_freed;  // waiters for a free slot
};

namespace {

// The client side of each TLS stream kind's handshake.
auto client_handshake(DirectTlsStream& stream) {
  return stream.async_handshake(kUse);
}
auto client_handshake(TlsStream& stream) {
  return stream.stream().async_handshake(asio::ssl::stream_base::client, kUse);
}

// SNI and the name to verify, then the handshake.
template <class Stream>
asio::awaitable<Result<AnyStream>> client_tls(std::unique_ptr<Stream> stream,
                                              const TlsContext& context,
                                              std::string host,
                                              std::string authority) {
  if (auto r = prepare_client_stream(stream->native_handle(), context, host); !r) {
    co_return r.error();
  }
  auto [ec] = co_await client_handshake(*stream);
  if (ec) {
    co_return Error(
        ec, "tls handshake with " + authority + handshake_failure(stream->native_handle(), ec));
  }
  co_return AnyStream(std::move(stream));
}

}  // namespace

asio::awaitable<Result<ConnectionPtr>> ClientPool::connect(Origin origin) {
  auto authority = origin.authority();
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(origin.host, ec);
  bool literal = !ec;
  if (literal) {
    endpoints.emplace_back(address, origin.port);
  } else {
    tcp::resolver resolver(ex);
    auto [rec, results] =
        co_await resolver.async_resolve(origin.host, std::to_string(origin.port), kUse);
    if (rec) {
      co_return Error(rec, "resolve " + authority);
    }
    for (const auto& entry : results) {
      endpoints.push_back(entry.endpoint());
    }
  }
  tcp::socket socket(ex);
  Error last;
  bool connected = false;
  for (const auto& endpoint : endpoints) {
    boost::system::error_code ignored;
    socket.close(ignored);
    auto [cec] = co_await socket.async_connect(endpoint, kUse);
    if (!cec) {
      connected = true;
      break;
    }
    last = Error(cec,
                 "connect " + (literal ? authority : authority + " (" + to_string(endpoint) + ")"));
    if (cec == asio::error::operation_aborted) {
      break;
    }
  }
  if (!connected) {
    if (!last.code()) {
      last = Error(make_error_code(asio::error::host_not_found), "resolve " + authority);
    }
    co_return last;
  }
  // Headers, chunks and small requests go out as separate writes: do not let Nagle hold one
  // back for the peer's delayed ACK (Go sets TCP_NODELAY on every connection too).
  socket.set_option(tcp::no_delay(true), ec);
  auto c = std::make_unique<Connection>();
  c->key = PoolKey{origin.host, origin.port, origin.tls.get()};
  c->tls = origin.tls;
  c->peer = authority;
  if (!origin.tls) {
    c->stream = make_tcp_stream(std::move(socket));
    co_return c;
  }
  if (origin.tls->is_server()) {
    co_return fail(Errc::InvalidArgument, "origin " + authority + " has a server TlsContext");
  }
  const auto context = detail::TlsAccess::snapshot(*origin.tls);
  auto handshake = settings.direct_tls
                       ? client_tls(std::make_unique<DirectTlsStream>(
                                        std::move(socket), context, DirectTlsStream::Role::Client),
                                    *origin.tls, origin.host, authority)
                       : client_tls(std::make_unique<TlsStream>(std::move(socket), context),
                                    *origin.tls, origin.host, authority);
  auto stream = co_await std::move(handshake);
  if (!stream) {
    co_return stream.error();
  }
  c->stream = std::move(*stream);
  co_return c;
}

asio::awaitable<Result<ConnectionPtr>> ClientPool::open_new(Origin origin, bool fresh_only) {
  // Runs as the loser of a timeout race too: never throw on cancellation, always give the slot
  // back.
  co_await asio::this_coro::throw_if_cancelled(false);
  auto cs = co_await asio::this_coro::cancellation_state;
  while (open >= settings.max_connections) {
    // A connection to our origin released meanwhile is better than a new one.
    if (!fresh_only) {
      if (auto c = take_idle(PoolKey{origin.host, origin.port, origin.tls.get()})) {
        co_return c;
      }
    }
    if (evict_one_idle()) {
      continue;
    }
    co_await slot_freed.async_wait(kUse);
    if (cs.cancelled() != asio::cancellation_type::none) {
      co_return Error(make_error_code(asio::error::operation_aborted),
                      "wait for a free connection to " + origin.authority());
    }
  }
  ++open;
  auto result = co_await connect(std::move(origin));
  if (!result) {
    forget();
  } else {
    ++created;
  }
  co_return result;
}

asio::awaitable<Result<ConnectionPtr>> ClientPool::acquire(Origin origin, bool fresh_only) {
  if (!fresh_only) {
    if (auto c = take_idle(PoolKey{origin.host, origin.port, origin.tls.get()})) {
      co_return c;
    }
  }
  auto authority = origin.authority();
  auto result =
      co_await with_timeout(open_new(std::move(origin), fresh_only), settings.connect_timeout);
  if (!result) {
    co_return fail(Errc::Timeout,
                   "connect " + authority + ": " + timeout_text(settings.connect_timeout));
  }
  co_return std::move(*result);
}

}  // namespace detail

using detail::ClientPool;

// ---- ClientCall ----

struct ClientCall::Impl {
  enum class Framing { None, Chunked, Length };

  Impl(std::shared_ptr<ClientPool> p, ConnectionPtr c, const Origin& origin, const Request& r)
      : pool(std::move(p)), conn(std::move(c)), method(r.method) {
    what = method == "CONNECT" ? "CONNECT " + r.target + " via " + origin.authority()
                               : method + " " + (origin.tls ? "https://" : "http://") +
                                     origin.authority() + r.target;
  }
  ~Impl() {
    if (conn) {
      pool->drop(std::move(conn));
    }
  }

  void fail_connection() {
    state = State::Failed;
    if (conn) {
      pool->drop(std::move(conn));
    }
  }

  Error failed(const boost::system::error_code& ec, const std::string& step, bool writing = false) {
    // Like Go's Transport: a request is replayed only if it cannot have had an effect (it was
    // not sent) or repeating it is harmless (a safe method), and only on a reused connection.
    bool safe = method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE";
    retryable = conn && conn->reused && closed_by_server(ec) && (writing || safe);
    auto peer = conn ? conn->peer : std::string("peer");
    fail_connection();
    return io_error(ec, step + " " + peer);
  }

  asio::awaitable<Result<void>> write_buffers(const std::array<asio::const_buffer, 3>& buffers) {
    auto [ec, n] = co_await asio::async_write(conn->stream, buffers, kUse);
    if (ec) {
      co_return failed(ec, "send request to", true);
    }
    co_return Result<void>{};
  }

  // Sends the head, and the body if `with_body`; leaves the call in SendingBody or AwaitingHead.
  asio::awaitable<Result<void>> send(const Origin& origin, const Request& r, bool with_body) {
    Headers headers = r.headers;
    if (r.method == "CONNECT" && !headers.contains("Host")) {
      headers.add("Host", r.target);  // RFC 9110 §9.3.6: the authority being connected to
    } else if (!headers.contains("Host")) {
      bool default_port = (origin.tls && origin.port == 443) || (!origin.tls && origin.port == 80);
      headers.add("Host", default_port
                              ? (origin.authority().substr(0, origin.authority().rfind(':')))
                              : origin.authority());
    }
    connect_request = r.method == "CONNECT";
    if (with_body) {
      bool wants_length =
          !r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH";
      if (wants_length && !headers.contains("Content-Length")) {
        headers.add("Content-Length", std::to_string(r.body.size()));
      }
      framing = Framing::None;
    } else if (headers.contains("Content-Length")) {
      if (!wire::parse_content_length(headers.get("Content-Length"), remaining)) {
        fail_connection();
        co_return fail(Errc::InvalidArgument, what + ": invalid Content-Length");
      }
      framing = Framing::Length;
    } else {
      headers.set("Transfer-Encoding", "chunked");
      framing = Framing::Chunked;
    }
    auto head = wire::request_head(r.method, r.target, r.version, headers);
    if (!head) {
      fail_connection();
      co_return Error(head.error().code(), what + ": " + head.error().message());
    }
    std::string_view body = with_body ? std::string_view(r.body) : std::string_view();
    auto sent =
        co_await write_buffers({asio::buffer(*head), asio::buffer(body), asio::const_buffer()});
    if (!sent) {
      co_return sent;
    }
    state = with_body ? State::AwaitingHead : State::SendingBody;
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> read_head_inner() {
    co_await asio::this_coro::throw_if_cancelled(false);
    for (;;) {
      parser.emplace();
      parser->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(
          pool->settings.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
      parser->body_limit(boost::none);  // streamed: read_all() applies its own limit
      if (method == "HEAD") {
        parser->skip(true);
      }
      auto [ec, n] = co_await http::async_read_header(conn->stream, buffer, *parser, kUse);
      if (ec) {
        co_return failed(ec, "read response from");
      }
      int status = static_cast<int>(parser->get().result_int());
      // Interim answers (100 Continue, 103 Early Hints) precede the real one; 101 is final.
      if (status >= 100 && status < 200 && status != 101) {
        continue;
      }
      co_return Result<void>{};
    }
  }

  asio::awaitable<Result<void>> end_request() {
    auto& s = *this;
    if (s.state != State::SendingBody) {
      co_return fail(Errc::InvalidArgument, s.what + ": end_request() twice or too late");
    }
    if (s.framing == Impl::Framing::Chunked) {
      auto r = co_await s.write_buffers(
          {asio::buffer(wire::kLastChunk), asio::const_buffer(), asio::const_buffer()});
      if (!r) {
        co_return r;
      }
    } else if (s.remaining != 0) {
      s.fail_connection();
      co_return fail(Errc::InvalidArgument, s.what + ": body ended " + std::to_string(s.remaining) +
                                                " bytes short of its Content-Length");
    }
    s.state = State::AwaitingHead;
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> read_head() {
    auto& s = *this;
    if (s.state == State::SendingBody) {
      if (auto r = co_await s.end_request(); !r) {
        co_return r;
      }
    }
    if (s.state != State::AwaitingHead) {
      co_return fail(Errc::InvalidArgument, s.what + ": read_head() in the wrong state");
    }
    auto timeout = s.pool->settings.response_header_timeout;
    auto result = co_await with_timeout(s.read_head_inner(), timeout);
    if (!result) {
      s.fail_connection();
      co_return fail(Errc::Timeout, s.what + ": no response header, " + timeout_text(timeout));
    }
    if (!*result) {
      co_return *result;
    }
    auto& msg = s.parser->get();
    s.response = Response{};
    s.response.status = static_cast<int>(msg.result_int());
    s.response.reason = std::string(msg.reason());
    s.response.version = static_cast<int>(msg.version());
    for (const auto& field : msg) {
      s.response.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    s.state = State::ReadingBody;
    if (!s.upgraded() && s.parser->is_done()) {
      s.finish_body();  // no body (HEAD, 204, 304): the connection is free again
    }
    co_return Result<void>{};
  }

  void finish_body() {
    if (!conn) {
      return;
    }
    state = State::Done;
    bool reusable = parser->keep_alive() && !parser->need_eof() && buffer.size() == 0;
    pool->release(std::move(conn), reusable);
  }

  bool upgraded() const {
    int status = response.status;
    return status == 101 || (connect_request && status >= 200 && status < 300);
  }

  std::shared_ptr<ClientPool> pool;
  ConnectionPtr conn;
  beast::flat_buffer buffer;
  std::optional<ResponseParser> parser;
  State state = State::SendingBody;
  Framing framing = Framing::None;
  std::uint64_t remaining = 0;
  Response response;
  std::string method;
  std::string what;  // "GET https://10.0.0.1:6443/readyz"
  bool connect_request = false;
  bool retryable = false;  // failed on a reused connection the server had closed
  std::unique_ptr<char[]> piece;
};

ClientCall::ClientCall(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientCall::ClientCall(ClientCall&&) noexcept = default;
ClientCall& ClientCall::operator=(ClientCall&&) noexcept = default;
ClientCall::~ClientCall() = default;

ClientCall::State ClientCall::state() const noexcept {
  return impl_->state;
}
const Response& ClientCall::response() const noexcept {
  return impl_->response;
}
bool ClientCall::reused() const noexcept {
  return impl_->conn && impl_->conn->reused;
}

std::optional<TlsSessionInfo> ClientCall::tls() const {
  return impl_->conn ? impl_->conn->stream.tls() : std::nullopt;
}

asio::awaitable<Result<void>> ClientCall::write(std::string_view data) {
  auto& s = *impl_;
  if (s.state != State::SendingBody) {
    co_return fail(Errc::InvalidArgument, s.what + ": write() after the request body ended");
  }
  if (data.empty()) {
    co_return Result<void>{};
  }
  if (s.framing == Impl::Framing::Chunked) {
    auto size = wire::chunk_header(data.size());
    co_return co_await s.write_buffers(
        {asio::buffer(size), asio::buffer(data), asio::buffer(wire::kCrlf)});
  }
  if (data.size() > s.remaining) {
    co_return fail(Errc::InvalidArgument, s.what + ": body exceeds the declared Content-Length");
  }
  s.remaining -= data.size();
  co_return co_await s.write_buffers(
      {asio::buffer(data), asio::const_buffer(), asio::const_buffer()});
}

asio::awaitable<Result<void>> ClientCall::end_request() {
  return impl_->end_request();
}

asio::awaitable<Result<void>> ClientCall::read_head() {
  return impl_->read_head();
}

asio::awaitable<Result<std::string_view>> ClientCall::read_some() {
  auto& s = *impl_;
  if (s.state == State::Done) {
    co_return std::string_view();
  }
  if (s.state != State::ReadingBody || s.upgraded()) {
    co_return fail(Errc::InvalidArgument, s.what + ": read_some() without a response body");
  }
  if (!s.piece) {
    s.piece = std::make_unique<char[]>(kBodyPiece);
    s.buffer.reserve(kBodyPiece);  // Beast reads at most the buffer's free capacity at a time
  }
  for (;;) {
    if (s.parser->is_done()) {
      s.finish_body();
      co_return std::string_view();
    }
    auto& body = s.parser->get().body();
    body.data = s.piece.get();
    body.size = kBodyPiece;
    body.more = true;
    auto [ec, n] = co_await http::async_read_some(s.conn->stream, s.buffer, *s.parser, kUse);
    if (ec == http::error::need_buffer) {
      ec = {};
    }
    if (!ec) {
      ec = detail::parse_buffered(*s.parser, s.buffer);
    }
    std::size_t got = kBodyPiece - s.parser->get().body().size;
    if (ec) {
      co_return s.failed(ec, "read response body from");
    }
    if (s.parser->is_done()) {
      s.finish_body();  // release the connection now; the piece lives in this call
      co_return std::string_view(s.piece.get(), got);
    }
    if (got > 0) {
      co_return std::string_view(s.piece.get(), got);
    }
  }
}

asio::awaitable<Result<std::string>> ClientCall::read_all(std::size_t limit) {
  std::string body;
  for (;;) {
    auto piece = co_await read_some();
    if (!piece) {
      co_return piece.error();
    }
    if (piece->empty()) {
      co_return body;
    }
    if (body.size() + piece->size() > limit) {
      impl_->fail_connection();
      co_return fail(Errc::TooLarge,
                     impl_->what + ": response body exceeds " + std::to_string(limit) + " bytes");
    }
    body.append(*piece);
  }
}

Result<AnyStream> ClientCall::take_stream() {
  auto& s = *impl_;
  if (s.state != State::ReadingBody || !s.upgraded()) {
    return fail(Errc::InvalidArgument, s.what + ": no connection to take over (status " +
                                           std::to_string(s.response.status) + ")");
  }
  AnyStream stream = std::move(s.conn->stream);
  auto pending = s.buffer.data();
  stream.prepend(std::string_view(static_cast<const char*>(pending.data()), pending.size()));
  s.buffer.consume(s.buffer.size());
  s.conn.reset();
  s.pool->forget();
  s.state = State::HandedOff;
  return stream;
}

// ---- HttpClient ----

namespace {

asio::awaitable<Result<ClientCall>> open_call(std::shared_ptr<ClientPool> pool,
                                              Origin origin,
                                              Request request,
                                              bool with_body) {
  if (!with_body && !request.body.empty()) {
    co_return fail(Errc::InvalidArgument, "start(): the body is streamed with write()");
  }
  // One retry, on a fresh connection, when a pooled one turns out closed by the server.
  for (int attempt = 0;; ++attempt) {
    auto conn = co_await pool->acquire(origin, attempt > 0);
    if (!conn) {
      co_return conn.error();
    }
    auto impl = std::make_unique<ClientCall::Impl>(pool, std::move(*conn), origin, request);
    auto sent = co_await impl->send(origin, request, with_body);
    if (sent && with_body) {
      sent = co_await impl->read_head();
    }
    if (sent) {
      co_return ClientCall(std::move(impl));
    }
    if (attempt == 0 && impl->retryable && with_body) {
      logger().debug("{}: pooled connection was closed by the server, retrying", impl->what);
      continue;
    }
    co_return sent.error();
  }
}

}  // namespace

std::string Origin::authority() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

HttpClient::HttpClient(Executor ex, ClientSettings settings)
    : pool_(std::make_shared<ClientPool>(std::move(ex), settings)) {}

HttpClient::~HttpClient() {
  pool_->close_idle();
}

asio::awaitable<Result<ClientCall>> HttpClient::open(Origin origin, Request request) {
  return open_call(pool_, std::move(origin), std::move(request), true);
}

asio::awaitable<Result<ClientCall>> HttpClient::start(Origin origin, Request request) {
  return open_call(pool_, std::move(origin), std::move(request), false);
}

namespace {

asio::awaitable<Result<Response>> whole_exchange(std::shared_ptr<ClientPool> pool,
                                                 Origin origin,
                                                 Request request) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto limit = pool->settings.max_body_bytes;
  auto call = co_await open_call(std::move(pool), std::move(origin), std::move(request), true);
  if (!call) {
    co_return call.error();
  }
  auto body = co_await call->read_all(limit);
  if (!body) {
    co_return body.error();
  }
  Response response = call->response();
  response.body = std::move(*body);
  co_return response;
}

}  // namespace

asio::awaitable<Result<Response>> HttpClient::request(Origin origin,
                                                      Request request,
                                                      std::optional<Millis> timeout) {
  auto pool = pool_;
  auto limit = timeout.value_or(pool->settings.request_timeout);
  auto what = request.method + " " + (origin.tls ? "https://" : "http://") + origin.authority() +
              request.target;
  auto result =
      co_await with_timeout(whole_exchange(pool, std::move(origin), std::move(request)), limit);
  if (!result) {
    co_return fail(Errc::Timeout, what + ": " + timeout_text(limit));
  }
  co_return std::move(*result);
}

HttpClient::Stats HttpClient::stats() const {
  return Stats{pool_->open, pool_->idle_count, pool_->created};
}

void HttpClient::close_idle() {
  pool_->close_idle();
}

}  // namespace yurt::net
