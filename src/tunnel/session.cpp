#include "yurt/tunnel/session.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "yurt/base/log.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/tunnel/errc.hpp"

#include "src/tunnel/session_core.hpp"

namespace yurt::tunnel {

namespace asio = boost::asio;

namespace detail {
namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// One TLS record's worth of plaintext per DATA frame keeps streams interleaved finely (a stalled
// or bulk stream never holds the connection for long) at 10 bytes of framing per 16 KiB.
constexpr std::size_t kChunk = 16 * 1024;
// A write to the transport gathers up to this much, so small frames share a TLS record.
constexpr std::size_t kBatchTarget = 64 * 1024;
// asio::async_write's own completion conditions give a stream at most 64 KiB per write_some;
// a batch (a maximal frame, its header, control frames) goes in one, so that a direct TLS
// transport sends it with one send(2) rather than 64 KiB and then a 10-byte crumb.
constexpr auto kWholeBatch = [](const boost::system::error_code& ec, std::size_t) -> std::size_t {
  return ec ? 0 : std::size_t{1} << 20U;
};
constexpr std::size_t kReadBuffer = 64 * 1024;
constexpr std::size_t kIdleReadBuffer = 4 * 1024;
// Version 1 defines no capability bits; HELLO_ACK echoes the ones we share (none).
constexpr std::uint32_t kSupportedCapabilities = 0;

std::uint64_t next_session_id() {
  static std::atomic<std::uint64_t> counter{0};
  return ++counter;
}

std::string cut(std::string s, std::size_t max) {
  if (s.size() > max) {
    s.resize(max);
  }
  return s;
}

std::string millis(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

std::string reason_text(WireCode code, const std::string& message) {
  return to_string(code) + (message.empty() ? "" : ": " + quote(message, 256));
}

}  // namespace

SessionCore::SessionCore(net::AnyStream transport_in, SessionSettings settings_in, const Clock& c)
    : ex(transport_in.get_executor()),
      transport(std::move(transport_in)),
      settings(std::move(settings_in)),
      clock(c),
      id(next_session_id()),
      log(log::get("tunnel")),
      decoder(peer_of(settings.role)),
      next_local_id(settings.role == Role::Server ? 1 : 2),
      writer_wake(ex, TimePoint::max()),
      changed(ex, TimePoint::max()),
      done(ex, TimePoint::max()),
      ticker(ex) {}

std::string SessionCore::stream_prefix(const StreamCore& st) const {
  return "[C" + std::to_string(id) + "][S" + std::to_string(st.id) + "] ";
}

void SessionCore::notify_writer() {
  writer_wake.cancel();
}
void SessionCore::notify_changed() {
  changed.cancel();
}

void SessionCore::complete(IoHandler handler, ErrorCode ec, std::size_t n) {
  asio::post(ex, asio::append(std::move(handler), ec, n));
}

void SessionCore::complete(ShutdownHandler handler, ErrorCode ec) {
  asio::post(ex, asio::append(std::move(handler), ec));
}

// ---- lifecycle ----

void SessionCore::start() {
  started = true;
  started_at = last_rx = last_ping = clock.monotonic();
  // Our preface goes out first on both sides, so a peer speaking another version learns ours.
  control.emplace_back(preface());
  control_bytes += kPrefaceSize;
  if (settings.role == Role::Agent) {
    send(Hello{kSupportedCapabilities, settings.max_streams, settings.node_name});
    state = SessionState::AwaitingHelloAck;
  } else {
    state = SessionState::AwaitingHello;
  }
  notify_writer();
}

void SessionCore::send(const Frame& frame) {
  std::string bytes;
  if (auto ok = encode(frame, bytes); !ok) {
    // Our own frame failed validation: a bug. Fail this session only.
    log.error("[C{}] cannot encode {}: {}", id, to_string(type_of(frame)), ok.error().what());
    fail(yurt::fail(Errc::InvalidArgument, "internal error: " + ok.error().message()),
         GoAway{last_remote_id, WireCode::Internal, "internal error"}, false);
    return;
  }
  control_bytes += bytes.size();
  control.push_back(std::move(bytes));
  notify_writer();
}

void SessionCore::on_bytes(std::string_view bytes) {
  if (closing) {
    return;  // lingering after our last GOAWAY: the peer's frames no longer matter
  }
  last_rx = clock.monotonic();
  for (;;) {
    auto frame = decoder.next(bytes);
    if (!frame) {
      protocol_error(frame.error());
      return;
    }
    if (!*frame) {
      break;
    }
    ++stats.frames_received;
    on_frame(std::move(**frame));
    if (closing) {
      return;
    }
  }
  if (control_bytes > settings.max_control_bytes) {
    fail(yurt::fail(Errc::ProtocolViolation,
                    "peer does not read the answers it provokes: " + std::to_string(control_bytes) +
                        " bytes of control frames queued"),
         std::nullopt, true);
  }
}

void SessionCore::protocol_error(Error why) {
  log.error("[C{}] protocol error from peer {}: {}", id, transport.remote_endpoint(), why.what());
  WireCode code = WireCode::Protocol;
  if (why.code() == make_error_code(Errc::FlowControl)) {
    code = WireCode::FlowControl;
  } else if (why.code() == make_error_code(Errc::UnsupportedVersion)) {
    code = WireCode::UnsupportedVersion;
  }
  auto message = cut(why.message(), kMaxMessage);
  fail(std::move(why), GoAway{last_remote_id, code, std::move(message)}, false);
}

void SessionCore::on_frame(Frame&& frame) {
  const auto type = type_of(frame);
  auto violation = [&](const std::string& why) {
    protocol_error(yurt::fail(Errc::ProtocolViolation, why));
  };
  if (state == SessionState::AwaitingHello) {
    auto* hello = std::get_if<Hello>(&frame);
    if (hello == nullptr) {
      violation("expected HELLO, got " + to_string(type));
      return;
    }
    peer_hello = *hello;
    peer_max_streams = hello->max_streams;
    if (settings.authorize) {
      if (auto ok = settings.authorize(*hello); !ok) {
        log.error("[C{}] refusing agent {} (node {}): {}", id, transport.remote_endpoint(),
                  hello->node_name, ok.error().what());
        fail(yurt::fail(Errc::Refused, "agent refused: " + ok.error().message()),
             GoAway{0, WireCode::Unauthorized, cut(ok.error().message(), kMaxMessage)}, false);
        return;
      }
    }
    send(HelloAck{hello->capabilities & kSupportedCapabilities, settings.max_streams});
    state = SessionState::Open;
    log.info("[C{}] tunnel session open: agent node {} at {}", id, hello->node_name,
             transport.remote_endpoint());
    notify_changed();
    return;
  }
  if (state == SessionState::AwaitingHelloAck) {
    if (auto* ack = std::get_if<HelloAck>(&frame)) {
      peer_max_streams = ack->max_streams;
      state = SessionState::Open;
      log.info("[C{}] tunnel session open to {} as node {}", id, transport.remote_endpoint(),
               settings.node_name);
      notify_changed();
    } else if (auto* goaway = std::get_if<GoAway>(&frame)) {
      goaway_received = true;
      log.error("[C{}] server {} refused the session: {}", id, transport.remote_endpoint(),
                reason_text(goaway->code, goaway->message));
      fail(yurt::fail(Errc::Refused,
                      "server refused the session: " + reason_text(goaway->code, goaway->message)),
           std::nullopt, true);
    } else {
      violation("expected HELLO_ACK or GOAWAY, got " + to_string(type));
    }
    return;
  }
  if (state != SessionState::Open && state != SessionState::Draining) {
    return;
  }

  // Streams: find the one a frame is for. A frame for a stream we already finished (reset, or
  // closed) is stale and dropped; one for a stream never opened is a violation.
  auto find = [&](std::uint32_t sid) -> StreamPtr {
    if (auto it = streams.find(sid); it != streams.end()) {
      return it->second;
    }
    const bool ours = ((sid & 1U) != 0) == (settings.role == Role::Server);
    if (sid > (ours ? last_local_id : last_remote_id)) {
      violation(to_string(type) + " for stream " + std::to_string(sid) + " that was never opened");
    }
    return nullptr;
  };
  auto established = [&](const StreamPtr& st) {
    if (st->state == StreamState::Opening || st->state == StreamState::Pending) {
      violation(to_string(type) + " on stream " + std::to_string(st->id) + " before OPEN_ACK");
      return false;
    }
    return true;
  };

  switch (type) {
    case FrameType::Hello:
    case FrameType::HelloAck:
      violation(to_string(type) + " after the handshake");
      return;
    case FrameType::Open: {
      auto& open = std::get<Open>(frame);
      if (open.stream_id <= last_remote_id) {
        violation("OPEN for stream " + std::to_string(open.stream_id) + " not above stream " +
                  std::to_string(last_remote_id));
        return;
      }
      last_remote_id = open.stream_id;
      if (goaway_received) {
        violation("OPEN after the peer's GOAWAY");
        return;
      }
      if (goaway_sent) {
        send(OpenFail{open.stream_id, WireCode::Refused, "going away"});
        return;
      }
      if (remote_open >= settings.max_streams) {
        send(OpenFail{open.stream_id, WireCode::Refused,
                      "stream limit " + std::to_string(settings.max_streams) + " reached"});
        return;
      }
      auto st = std::make_shared<StreamCore>();
      st->id = open.stream_id;
      st->destination = std::move(open.destination);
      st->state = StreamState::Pending;
      start_receiving(st);
      st->send_window = open.initial_window;
      st->registered = true;
      streams.emplace(st->id, st);
      ++remote_open;
      accept_queue.push_back(st);
      log.debug("{}OPEN {}", stream_prefix(*st), st->destination);
      notify_changed();
      return;
    }
    case FrameType::OpenAck: {
      const auto& ack = std::get<OpenAck>(frame);
      auto st = find(ack.stream_id);
      if (!st) {
        return;
      }
      if (st->state != StreamState::Opening) {
        violation("OPEN_ACK for stream " + std::to_string(st->id) + " that is not opening");
        return;
      }
      st->send_window = ack.initial_window;
      st->state = StreamState::Open;
      ++stats.streams_opened;
      notify_changed();
      return;
    }
    case FrameType::OpenFail: {
      const auto& nak = std::get<OpenFail>(frame);
      auto st = find(nak.stream_id);
      if (!st) {
        return;
      }
      if (st->state != StreamState::Opening) {
        violation("OPEN_FAIL for stream " + std::to_string(st->id) + " that is not opening");
        return;
      }
      log.debug("{}OPEN {} refused: {}", stream_prefix(*st), st->destination,
                reason_text(nak.code, nak.message));
      fail_stream(st, StreamState::Refused,
                  yurt::fail(Errc::Refused, "open " + st->destination + ": refused by peer: " +
                                                reason_text(nak.code, nak.message)),
                  asio::error::connection_refused);
      notify_changed();
      return;
    }
    case FrameType::Data: {
      auto& data = std::get<Data>(frame);
      auto st = find(data.stream_id);
      if (!st || !established(st)) {
        return;
      }
      if (st->rx_fin) {
        violation("DATA on stream " + std::to_string(st->id) + " after FIN");
        return;
      }
      if (data.bytes.size() > st->recv_window) {
        protocol_error(yurt::fail(
            Errc::FlowControl,
            "stream " + std::to_string(st->id) + ": DATA of " + std::to_string(data.bytes.size()) +
                " bytes exceeds the window of " + std::to_string(st->recv_window)));
        return;
      }
      st->recv_window -= static_cast<std::uint32_t>(data.bytes.size());
      st->rx_bytes += data.bytes.size();
      st->rx.push_back(std::move(data.bytes));
      deliver(st);
      return;
    }
    case FrameType::WindowUpdate: {
      const auto& update = std::get<WindowUpdate>(frame);
      auto st = find(update.stream_id);
      if (!st || !established(st) || st->fin_sent) {
        return;
      }
      const auto window = st->send_window + update.credit;
      if (window > kMaxWindow) {
        protocol_error(yurt::fail(Errc::FlowControl, "stream " + std::to_string(st->id) +
                                                         ": WINDOW_UPDATE beyond 2^31-1"));
        return;
      }
      st->send_window = window;
      if (st->write) {
        make_ready(st);
      }
      return;
    }
    case FrameType::Fin: {
      auto st = find(stream_id_of(frame));
      if (!st || !established(st)) {
        return;
      }
      if (st->rx_fin) {
        violation("second FIN on stream " + std::to_string(st->id));
        return;
      }
      after_fin_received(st);
      return;
    }
    case FrameType::Reset: {
      const auto& reset = std::get<Reset>(frame);
      auto st = find(reset.stream_id);
      if (!st) {
        return;
      }
      log.debug("{}reset by peer: {}", stream_prefix(*st), reason_text(reset.code, reset.message));
      // After its FIN, a peer's RESET only says it reads no more (its application closed the
      // stream): what it sent before stays ours to read — the frames are ordered, so all of it
      // is here.
      fail_stream(st, StreamState::Reset,
                  yurt::fail(Errc::StreamReset,
                             "stream " + std::to_string(st->id) + " to " + st->destination +
                                 " reset by peer: " + reason_text(reset.code, reset.message)),
                  asio::error::connection_reset, /*keep_received=*/st->rx_fin);
      notify_changed();
      return;
    }
    case FrameType::Ping:
      send(Pong{std::get<Ping>(frame).opaque});
      return;
    case FrameType::Pong:
      ++stats.pongs_received;
      return;
    case FrameType::GoAway: {
      const auto& goaway = std::get<GoAway>(frame);
      goaway_received = true;
      if (goaway.code == WireCode::NoError) {
        log.info("[C{}] peer going away: {}", id, reason_text(goaway.code, goaway.message));
      } else {
        log.warn("[C{}] peer going away: {}", id, reason_text(goaway.code, goaway.message));
      }
      state = SessionState::Draining;
      notify_changed();
      maybe_finish_drain();
      return;
    }
  }
}

void SessionCore::on_transport_end(const ErrorCode& ec) {
  if (transport_closed) {
    return;
  }
  if (closing) {
    close_transport();  // the peer closed after our GOAWAY: done lingering
    return;
  }
  if (ec == asio::error::eof && state == SessionState::Draining && streams.empty()) {
    finish_graceful();
    close_transport();
    return;
  }
  std::string why =
      ec == asio::error::eof ? "peer closed the connection" : "read from peer: " + ec.message();
  if (handshaking()) {
    why += " during the handshake";
  }
  fail(yurt::fail(Errc::SessionClosed, why), std::nullopt, true);
}

void SessionCore::on_tick() {
  if (closing) {
    if (linger_until && std::chrono::steady_clock::now() >= *linger_until) {
      close_transport();
    }
    return;
  }
  const auto now = clock.monotonic();
  if (handshaking()) {
    if (now - started_at >= settings.handshake_timeout) {
      const char* what = settings.role == Role::Agent ? "HELLO_ACK" : "HELLO";
      fail(yurt::fail(Errc::Timeout,
                      std::string("no ") + what + " within " + millis(settings.handshake_timeout)),
           GoAway{0, WireCode::Timeout, "handshake timeout"}, false);
    }
    return;
  }
  if (now - last_rx >= settings.ping_timeout) {
    // The peer (or the path to it) is gone: nothing to flush, close at once.
    fail(yurt::fail(Errc::Timeout, "nothing received from peer for " +
                                       millis(settings.ping_timeout) + " (keepalive)"),
         std::nullopt, true);
    return;
  }
  if (now - last_ping >= settings.ping_interval) {
    Ping ping;
    auto counter = ++ping_counter;
    for (auto it = ping.opaque.rbegin(); it != ping.opaque.rend(); ++it) {
      *it = static_cast<std::uint8_t>(counter & 0xff);
      counter >>= 8;
    }
    send(ping);
    ++stats.pings_sent;
    last_ping = now;
  }
  std::vector<StreamPtr> expired;
  for (const auto& [sid, st] : streams) {
    if (st->state == StreamState::Opening && now >= st->open_deadline) {
      expired.push_back(st);
    }
  }
  for (const auto& st : expired) {
    send(Reset{st->id, WireCode::Timeout, "no answer to OPEN"});
    fail_stream(st, StreamState::Reset,
                yurt::fail(Errc::Timeout, "open " + st->destination + ": no answer within " +
                                              millis(settings.open_timeout)),
                asio::error::timed_out);
    notify_changed();
  }
  if (drain_deadline && now >= *drain_deadline && !streams.empty()) {
    log.warn("[C{}] drain deadline passed: resetting {} streams", id, streams.size());
    std::vector<StreamPtr> all;
    for (const auto& [sid, st] : streams) {
      all.push_back(st);
    }
    for (const auto& st : all) {
      if (st->state == StreamState::Pending) {
        refuse(st, WireCode::Refused, "going away");
      } else {
        local_reset(st, WireCode::Cancelled, "session drain deadline passed");
      }
    }
  }
}

void SessionCore::go_away(std::chrono::milliseconds drain, WireCode code, std::string message) {
  if (state == SessionState::Closed) {
    return;
  }
  if (handshaking()) {
    fail(yurt::fail(Errc::GoingAway, "going away during the handshake"),
         GoAway{0, code, cut(message, kMaxMessage)}, false);
    return;
  }
  if (!goaway_sent) {
    log.info("[C{}] going away: {} streams to drain", id, streams.size());
    send(GoAway{last_remote_id, code, cut(std::move(message), kMaxMessage)});
    goaway_sent = true;
  }
  state = SessionState::Draining;
  auto deadline = clock.monotonic() + drain;
  drain_deadline = drain_deadline ? std::min(*drain_deadline, deadline) : deadline;
  notify_changed();
  maybe_finish_drain();
}

void SessionCore::maybe_finish_drain() {
  if (state == SessionState::Draining && streams.empty()) {
    finish_graceful();
  }
}

void SessionCore::finish_graceful() {
  if (state == SessionState::Closed) {
    return;
  }
  if (!goaway_sent) {
    send(GoAway{last_remote_id, WireCode::NoError, "drained"});
    goaway_sent = true;
  }
  state = SessionState::Closed;
  closing = true;
  linger_until = std::chrono::steady_clock::now() + settings.linger;
  accept_queue.clear();
  log.info("[C{}] tunnel session closed gracefully", id);
  notify_changed();
  notify_writer();
}

void SessionCore::fail(Error why, std::optional<GoAway> goaway, bool close_now) {
  if (state == SessionState::Closed) {
    if (close_now) {
      close_transport();
    }
    return;
  }
  state = SessionState::Closed;
  error = std::move(why);
  closing = true;
  linger_until = std::chrono::steady_clock::now() + settings.linger;
  if (!is_protocol_error(error.code()) && error.code() != make_error_code(Errc::Refused)) {
    log.warn("[C{}] tunnel session to {} closed: {}", id, transport.remote_endpoint(),
             error.what());
  }
  std::vector<StreamPtr> all;
  for (const auto& [sid, st] : streams) {
    all.push_back(st);
  }
  for (const auto& st : all) {
    fail_stream(st, StreamState::Reset,
                yurt::fail(Errc::SessionClosed, "tunnel session closed: " + error.what()),
                asio::error::connection_aborted);
  }
  accept_queue.clear();
  ready.clear();
  control.clear();
  control_bytes = 0;
  if (goaway && !close_now && !transport_closed) {
    send(*goaway);
    goaway_sent = true;
  }
  notify_changed();
  notify_writer();
  if (close_now) {
    close_transport();
  }
}

void SessionCore::close_transport() {
  if (transport_closed) {
    return;
  }
  transport_closed = true;
  transport.close();
  ticker.cancel();
  notify_writer();
  notify_changed();
}

// ---- writer side ----

bool SessionCore::has_output() const {
  return !control.empty() || (!closing && !ready.empty());
}

void SessionCore::make_ready(const StreamPtr& st) {
  if (!st->in_ready) {
    st->in_ready = true;
    ready.push_back(st);
    notify_writer();
  }
}

void SessionCore::fill_batch(std::string& batch) {
  while (!control.empty()) {
    batch += control.front();
    control_bytes -= control.front().size();
    control.pop_front();
  }
  // Round-robin: each ready stream contributes one chunk per turn.
  while (!closing && !ready.empty() && batch.size() < kBatchTarget) {
    auto st = std::move(ready.front());
    ready.pop_front();
    st->in_ready = false;
    if (!st->registered || st->asio_error) {
      continue;
    }
    if (st->write) {
      if (st->send_window <= 0) {
        continue;  // WINDOW_UPDATE makes it ready again
      }
      // Alone, a stream sends all it has (up to a maximal frame) as one frame: fewer headers,
      // records and wakeups; with others waiting, it takes its chunk and goes to the back.
      const std::size_t turn = ready.empty() ? std::size_t{kMaxPayload} : kChunk;
      const std::size_t available = asio::buffer_size(st->write->buffers);
      const std::size_t n = std::min({turn, static_cast<std::size_t>(st->send_window), available});
      encode_data_header(st->id, n, batch);
      std::size_t left = n;
      for (const auto& b : st->write->buffers) {
        const auto take = std::min(left, b.size());
        batch.append(static_cast<const char*>(b.data()), take);
        left -= take;
        if (left == 0) {
          break;
        }
      }
      st->send_window -= static_cast<std::int64_t>(n);
      auto write = std::move(*st->write);
      st->write.reset();
      asio::get_associated_cancellation_slot(write.handler).clear();
      complete(std::move(write.handler), {}, n);
    } else if (st->fin_wanted && !st->fin_sent) {
      (void)encode(Fin{st->id}, batch);  // cannot fail: the id is valid
      st->fin_sent = true;
      if (st->fin_handler) {
        auto handler = std::move(*st->fin_handler);
        st->fin_handler.reset();
        complete(std::move(handler), {});
      }
      after_fin_sent(st);
      continue;
    }
    if (st->registered && st->fin_wanted && !st->fin_sent && !st->write && !st->in_ready) {
      st->in_ready = true;
      ready.push_back(st);
    }
  }
}

// ---- streams ----

StreamPtr SessionCore::register_local(std::string destination) {
  auto st = std::make_shared<StreamCore>();
  st->id = next_local_id;
  next_local_id += 2;
  last_local_id = st->id;
  st->destination = std::move(destination);
  st->local = true;
  st->state = StreamState::Opening;
  start_receiving(st);
  st->registered = true;
  st->open_deadline = clock.monotonic() + settings.open_timeout;
  streams.emplace(st->id, st);
  ++local_open;
  send(Open{st->id, settings.initial_window, st->destination});
  log.debug("{}opening {}", stream_prefix(*st), st->destination);
  return st;
}

void SessionCore::start_receiving(const StreamPtr& st) {
  st->recv_window = st->window = settings.initial_window;
  st->last_grant = clock.monotonic();
}

void SessionCore::unregister(const StreamPtr& st) {
  if (!st->registered) {
    return;
  }
  st->registered = false;
  window_growth -= st->window > settings.initial_window ? st->window - settings.initial_window : 0;
  streams.erase(st->id);
  if (st->local) {
    --local_open;
  } else {
    --remote_open;
  }
  maybe_finish_drain();
}

void SessionCore::fail_stream(
    const StreamPtr& st, StreamState to, Error why, ErrorCode code, bool keep_received) {
  if (st->state == StreamState::Reset || st->state == StreamState::Refused) {
    return;
  }
  st->state = to;
  st->error = std::move(why);
  st->asio_error = code;
  if (!keep_received) {
    st->rx.clear();
    st->rx_pos = 0;
    st->rx_bytes = 0;
  }
  if (st->read && keep_received) {
    deliver(st);  // the data left, or the end of the stream
  } else if (st->read) {
    auto read = std::move(*st->read);
    st->read.reset();
    asio::get_associated_cancellation_slot(read.handler).clear();
    complete(std::move(read.handler), code, 0);
  }
  if (st->write) {
    auto write = std::move(*st->write);
    st->write.reset();
    asio::get_associated_cancellation_slot(write.handler).clear();
    complete(std::move(write.handler), code, 0);
  }
  if (st->fin_handler) {
    auto handler = std::move(*st->fin_handler);
    st->fin_handler.reset();
    complete(std::move(handler), code);
  }
  unregister(st);
}

void SessionCore::local_reset(const StreamPtr& st, WireCode code, std::string message) {
  if (!st->registered) {
    return;
  }
  send(Reset{st->id, code, cut(message, kMaxMessage)});
  fail_stream(st, StreamState::Reset,
              yurt::fail(Errc::StreamReset,
                         "stream " + std::to_string(st->id) + " reset locally: " + message),
              asio::error::operation_aborted);
}

void SessionCore::deliver(const StreamPtr& st) {
  if (!st->read) {
    return;
  }
  if (st->rx_bytes > 0) {
    std::size_t total = 0;
    for (const auto& b : st->read->buffers) {
      auto* out = static_cast<char*>(b.data());
      std::size_t room = b.size();
      while (room > 0 && !st->rx.empty()) {
        const auto& chunk = st->rx.front();
        const auto take = std::min(room, chunk.size() - st->rx_pos);
        std::copy_n(chunk.data() + st->rx_pos, take, out);
        out += take;
        room -= take;
        total += take;
        st->rx_pos += take;
        if (st->rx_pos == chunk.size()) {
          st->rx.pop_front();
          st->rx_pos = 0;
        }
      }
    }
    st->rx_bytes -= total;
    auto read = std::move(*st->read);
    st->read.reset();
    asio::get_associated_cancellation_slot(read.handler).clear();
    complete(std::move(read.handler), {}, total);
    consumed(st, total);
  } else if (st->rx_fin) {
    auto read = std::move(*st->read);
    st->read.reset();
    asio::get_associated_cancellation_slot(read.handler).clear();
    complete(std::move(read.handler), asio::error::eof, 0);
  } else if (st->asio_error) {
    auto read = std::move(*st->read);
    st->read.reset();
    asio::get_associated_cancellation_slot(read.handler).clear();
    complete(std::move(read.handler), st->asio_error, 0);
  }
}

void SessionCore::consumed(const StreamPtr& st, std::size_t n) {
  if (st->rx_fin || !st->registered || closing) {
    return;  // nothing more will arrive on it
  }
  st->unacked += static_cast<std::uint32_t>(n);
  // Grant credit back in halves of the window: each WINDOW_UPDATE is a record, a send and a
  // wakeup at the peer (at quarters, one per 64 KiB frame of a bulk stream); the sender still
  // has the other half to send while it travels.
  const auto threshold = std::max<std::uint32_t>(1, st->window / 2);
  if (st->unacked < threshold) {
    return;
  }
  std::uint32_t grant = st->unacked;
  // Half the window read within the growth period, the reader not behind by more than a
  // quarter of it: a fast stream, whose credit may run out before the grant reaches the peer
  // (the receiver cannot see that directly: data in flight looks like unused credit). A slow
  // or stalled reader never grows it.
  const auto now = clock.monotonic();
  if (now - st->last_grant < settings.window_growth_period && st->rx_bytes <= st->window / 4) {
    grant += grow_window(st);
  }
  st->last_grant = now;
  send(WindowUpdate{st->id, grant});
  st->recv_window += grant;
  st->unacked = 0;
}

std::uint32_t SessionCore::grow_window(const StreamPtr& st) {
  const std::uint64_t ceiling = std::min<std::uint64_t>(
      kMaxWindow / 2, std::max(settings.max_window, settings.initial_window));
  const std::uint64_t target = std::min<std::uint64_t>(ceiling, std::uint64_t{2} * st->window);
  const std::size_t budget_left = settings.window_growth_budget > window_growth
                                      ? settings.window_growth_budget - window_growth
                                      : 0;
  const auto extra = static_cast<std::uint32_t>(
      std::min<std::uint64_t>(target > st->window ? target - st->window : 0, budget_left));
  if (extra > 0) {
    st->window += extra;
    window_growth += extra;
    log.debug("{}window grown to {} bytes", stream_prefix(*st), st->window);
  }
  return extra;
}

void SessionCore::after_fin_sent(const StreamPtr& st) {
  log.debug("{}FIN sent", stream_prefix(*st));
  if (st->state == StreamState::Open) {
    st->state = StreamState::HalfClosedLocal;
  } else if (st->state == StreamState::HalfClosedRemote) {
    st->state = StreamState::Closed;
    unregister(st);
  }
}

void SessionCore::after_fin_received(const StreamPtr& st) {
  st->rx_fin = true;
  if (st->state == StreamState::Open) {
    st->state = StreamState::HalfClosedRemote;
  } else if (st->state == StreamState::HalfClosedLocal) {
    st->state = StreamState::Closed;
    unregister(st);
  }
  deliver(st);
}

void SessionCore::start_read(const StreamPtr& st,
                             net::detail::MutableBuffers buffers,
                             IoHandler handler) {
  if (st->handle_closed) {
    complete(std::move(handler), asio::error::bad_descriptor, 0);
    return;
  }
  if (st->read) {
    complete(std::move(handler), asio::error::already_started, 0);
    return;
  }
  if (buffers.count() == 0) {
    complete(std::move(handler), {}, 0);
    return;
  }
  const auto op = st->next_op++;
  auto slot = asio::get_associated_cancellation_slot(handler);
  st->read.emplace(PendingRead{buffers, std::move(handler), op});
  if (slot.is_connected()) {
    slot.assign([weak = std::weak_ptr<StreamCore>(st), self = weak_from_this(),
                 op](asio::cancellation_type) {
      auto s = weak.lock();
      auto core = self.lock();
      if (s && core && s->read && s->read->op == op) {
        auto read = std::move(*s->read);
        s->read.reset();
        core->complete(std::move(read.handler), asio::error::operation_aborted, 0);
      }
    });
  }
  deliver(st);
}

void SessionCore::start_write(const StreamPtr& st,
                              net::detail::ConstBuffers buffers,
                              IoHandler handler) {
  if (st->handle_closed) {
    complete(std::move(handler), asio::error::bad_descriptor, 0);
  } else if (st->asio_error) {
    complete(std::move(handler), st->asio_error, 0);
  } else if (st->state == StreamState::Pending || st->state == StreamState::Opening) {
    complete(std::move(handler), asio::error::not_connected, 0);
  } else if (st->fin_wanted) {
    complete(std::move(handler), asio::error::shut_down, 0);
  } else if (st->write) {
    complete(std::move(handler), asio::error::already_started, 0);
  } else if (asio::buffer_size(buffers) == 0) {
    complete(std::move(handler), {}, 0);
  } else {
    const auto op = st->next_op++;
    auto slot = asio::get_associated_cancellation_slot(handler);
    st->write.emplace(PendingWrite{buffers, std::move(handler), op});
    if (slot.is_connected()) {
      slot.assign([weak = std::weak_ptr<StreamCore>(st), self = weak_from_this(),
                   op](asio::cancellation_type) {
        auto s = weak.lock();
        auto core = self.lock();
        if (s && core && s->write && s->write->op == op) {
          auto write = std::move(*s->write);
          s->write.reset();
          core->complete(std::move(write.handler), asio::error::operation_aborted, 0);
        }
      });
    }
    if (st->send_window > 0) {
      make_ready(st);
    }
  }
}

void SessionCore::start_shutdown(const StreamPtr& st, ShutdownHandler handler) {
  if (st->handle_closed) {
    complete(std::move(handler), asio::error::bad_descriptor);
  } else if (st->asio_error) {
    complete(std::move(handler), st->asio_error);
  } else if (st->state == StreamState::Pending || st->state == StreamState::Opening) {
    complete(std::move(handler), asio::error::not_connected);
  } else if (st->fin_wanted) {
    complete(std::move(handler),
             st->fin_handler ? ErrorCode(asio::error::already_started) : ErrorCode());
  } else {
    st->fin_wanted = true;
    st->fin_handler.emplace(std::move(handler));
    if (!st->write) {
      make_ready(st);
    }
  }
}

Result<void> SessionCore::accept(const StreamPtr& st) {
  if (st->state != StreamState::Pending) {
    if (st->error.code()) {
      return st->error;
    }
    return yurt::fail(Errc::InvalidArgument, "stream " + std::to_string(st->id) + " is " +
                                                 std::string(to_string(st->state)) +
                                                 ", not pending");
  }
  send(OpenAck{st->id, settings.initial_window});
  st->state = StreamState::Open;
  log.debug("{}accepted {}", stream_prefix(*st), st->destination);
  return {};
}

void SessionCore::refuse(const StreamPtr& st, WireCode code, std::string message) {
  if (st->state != StreamState::Pending || !st->registered) {
    return;
  }
  send(OpenFail{st->id, code, cut(message, kMaxMessage)});
  fail_stream(
      st, StreamState::Refused,
      yurt::fail(Errc::Refused, "stream " + std::to_string(st->id) + " to " + st->destination +
                                    " refused locally: " + reason_text(code, message)),
      asio::error::connection_refused);
}

void SessionCore::close_stream(const StreamPtr& st) {
  if (st->handle_closed) {
    return;
  }
  if (st->state == StreamState::Pending) {
    refuse(st, WireCode::Cancelled, "stream closed before it was accepted");
  } else if (st->registered) {
    local_reset(st, WireCode::Cancelled, "closed by the application");
  }
  st->handle_closed = true;
  st->rx.clear();
  st->rx_pos = 0;
  st->rx_bytes = 0;
  if (st->read) {  // a Closed stream can still have a read waiting for nothing
    auto read = std::move(*st->read);
    st->read.reset();
    asio::get_associated_cancellation_slot(read.handler).clear();
    complete(std::move(read.handler), asio::error::operation_aborted, 0);
  }
}

namespace {

asio::awaitable<void> reader_task(std::shared_ptr<SessionCore> s) {
  // Two sizes: an idle connection (PINGs, small control frames) reads into one page; a read that
  // fills it switches to kReadBuffer for bulk data, and the first small read after that gives the
  // large buffer back. A thousand idle agents then hold 4 KiB each here, not 64 KiB (the large
  // buffer would often land on heap pages the TLS handshake already made resident).
  std::array<char, kIdleReadBuffer> small{};
  std::unique_ptr<char[]> large;
  for (;;) {
    char* data = large ? large.get() : small.data();
    const std::size_t size = large ? kReadBuffer : small.size();
    auto [ec, n] = co_await s->transport.async_read_some(asio::buffer(data, size), kUse);
    if (n > 0) {
      s->on_bytes(std::string_view(data, n));
    }
    if (ec) {
      s->on_transport_end(ec);
      co_return;
    }
    if (s->transport_closed) {
      co_return;
    }
    if (!large && n == size) {
      large = std::make_unique_for_overwrite<char[]>(kReadBuffer);
    } else if (large && n < kIdleReadBuffer) {
      large.reset();
    }
  }
}

asio::awaitable<void> writer_task(std::shared_ptr<SessionCore> s) {
  std::string batch;
  for (;;) {
    while (!s->has_output() && !s->closing && !s->transport_closed) {
      co_await s->writer_wake.async_wait(kUse);
    }
    if (s->transport_closed) {
      co_return;
    }
    if (!s->has_output()) {
      break;  // closing, everything flushed
    }
    batch.clear();
    s->fill_batch(batch);
    if (batch.empty()) {
      continue;
    }
    auto [ec, n] = co_await asio::async_write(s->transport, asio::buffer(batch), kWholeBatch, kUse);
    if (ec) {
      if (!s->transport_closed) {
        s->fail(yurt::fail(Errc::SessionClosed, "write to peer: " + ec.message()), std::nullopt,
                true);
      }
      co_return;
    }
  }
  // Half-close after the last GOAWAY: the peer reads it, then EOF; the reader lingers for the
  // peer's own close (so unread input does not turn our close into a TCP reset).
  auto [ec] = co_await s->transport.async_shutdown_send(kUse);
  if (ec) {
    s->close_transport();
  }
}

asio::awaitable<void> keepalive_task(std::shared_ptr<SessionCore> s) {
  for (;;) {
    s->ticker.expires_after(s->settings.tick);
    co_await s->ticker.async_wait(kUse);
    if (s->transport_closed) {
      co_return;
    }
    s->on_tick();
  }
}

}  // namespace
}  // namespace detail

// ---- Session ----

std::string_view to_string(SessionState state) noexcept {
  switch (state) {
    case SessionState::Idle:
      return "Idle";
    case SessionState::AwaitingHello:
      return "AwaitingHello";
    case SessionState::AwaitingHelloAck:
      return "AwaitingHelloAck";
    case SessionState::Open:
      return "Open";
    case SessionState::Draining:
      return "Draining";
    case SessionState::Closed:
      return "Closed";
  }
  return "?";
}

Session::Session(net::AnyStream transport, SessionSettings settings, const Clock& clock) {
  if (!transport.valid()) {
    throw std::invalid_argument("tunnel session: transport is not a connected stream");
  }
  if (settings.role == Role::Agent) {
    if (auto ok = check_node_name(settings.node_name); !ok) {
      throw std::invalid_argument("tunnel session: " + ok.error().message());
    }
  }
  if (settings.max_streams == 0 || settings.max_streams > kMaxStreamsLimit) {
    throw std::invalid_argument("tunnel session: max_streams must be 1..65536");
  }
  if (settings.initial_window == 0 || settings.initial_window > kMaxWindow) {
    throw std::invalid_argument("tunnel session: initial_window must be 1..2^31-1");
  }
  if (settings.ping_timeout <= settings.ping_interval || settings.tick.count() <= 0) {
    throw std::invalid_argument(
        "tunnel session: ping_timeout must exceed ping_interval, and tick be positive");
  }
  core_ = std::make_shared<detail::SessionCore>(std::move(transport), std::move(settings), clock);
}

Session::~Session() {
  core_->fail(yurt::fail(Errc::SessionClosed, "session destroyed"), std::nullopt, true);
}

namespace {

// The coroutines take the core by value: their frames keep it alive whatever happens to the
// Session object while they wait.
asio::awaitable<Result<void>> wait_open_impl(std::shared_ptr<detail::SessionCore> s);

asio::awaitable<Result<void>> run_impl(std::shared_ptr<detail::SessionCore> s) {
  if (s->started) {
    co_return yurt::fail(Errc::InvalidArgument, "Session::run() called twice");
  }
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  co_await asio::this_coro::throw_if_cancelled(false);
  if (s->state == SessionState::Closed) {  // closed before it ran
    s->close_transport();
    co_return s->error;
  }
  s->start();
  auto spawn = [&s](asio::awaitable<void> task, const char* name) {
    ++s->tasks;
    asio::co_spawn(s->ex, std::move(task), [s, name](const std::exception_ptr& e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          s->log.error("[C{}] {} failed: {}", s->id, name, x.what());
          s->fail(yurt::fail(Errc::SessionClosed, std::string(name) + " failed: " + x.what()),
                  std::nullopt, true);
        }
      }
      --s->tasks;
      s->done.cancel();
    });
  };
  spawn(detail::reader_task(s), "reader");
  spawn(detail::writer_task(s), "writer");
  spawn(detail::keepalive_task(s), "keepalive");
  bool asked_graceful = false;
  bool asked_abort = false;
  while (s->tasks > 0) {
    co_await s->done.async_wait(detail::kUse);
    auto cs = co_await asio::this_coro::cancellation_state;
    auto cancelled = cs.cancelled();
    if (cancelled == asio::cancellation_type::none) {
      continue;
    }
    if ((cancelled & asio::cancellation_type::terminal) != asio::cancellation_type::none) {
      if (!asked_abort) {
        asked_abort = true;
        s->fail(yurt::fail(Errc::SessionClosed, "session aborted"), std::nullopt, true);
      }
    } else if (!asked_graceful) {
      asked_graceful = true;
      s->go_away(s->settings.drain_timeout, WireCode::NoError, "shutting down");
    }
    // Listen again: a terminal request may follow a graceful one.
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  }
  if (s->error.code()) {
    co_return s->error;
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> wait_open_impl(std::shared_ptr<detail::SessionCore> s) {
  while (s->handshaking()) {
    co_await s->changed.async_wait(detail::kUse);
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      co_return yurt::fail(Errc::SessionClosed, "wait_open cancelled");
    }
  }
  if (s->state == SessionState::Closed && s->error.code()) {
    co_return s->error;
  }
  if (s->state == SessionState::Closed) {
    co_return yurt::fail(Errc::SessionClosed, "tunnel session closed");
  }
  co_return Result<void>{};
}

asio::awaitable<Result<Stream>> open_stream_impl(std::shared_ptr<detail::SessionCore> s,
                                                 std::string destination) {
  auto open = co_await wait_open_impl(s);
  if (!open) {
    co_return open.error();
  }
  if (auto ok = parse_destination(destination); !ok) {
    co_return yurt::fail(Errc::InvalidArgument, ok.error().message());
  }
  if (s->state != SessionState::Open) {
    co_return yurt::fail(Errc::GoingAway, "open " + destination + ": tunnel session is " +
                                              std::string(to_string(s->state)));
  }
  if (s->local_open >= s->peer_max_streams) {
    co_return yurt::fail(Errc::TooManyStreams, "open " + destination + ": the peer allows " +
                                                   std::to_string(s->peer_max_streams) +
                                                   " streams at once");
  }
  if (s->next_local_id > kMaxStreamId) {
    co_return yurt::fail(Errc::GoingAway, "stream ids exhausted; the session must reconnect");
  }
  auto st = s->register_local(std::move(destination));
  while (st->state == StreamState::Opening) {
    co_await s->changed.async_wait(detail::kUse);
    auto cs = co_await asio::this_coro::cancellation_state;
    if (st->state == StreamState::Opening && cs.cancelled() != asio::cancellation_type::none) {
      s->local_reset(st, WireCode::Cancelled, "open cancelled");
      co_return Error(make_error_code(asio::error::operation_aborted),
                      "open " + st->destination + " cancelled");
    }
  }
  if (st->state == StreamState::Open) {
    co_return Stream(s, st);
  }
  co_return st->error;
}

asio::awaitable<Result<Stream>> accept_stream_impl(std::shared_ptr<detail::SessionCore> s) {
  for (;;) {
    while (!s->accept_queue.empty()) {
      auto st = std::move(s->accept_queue.front());
      s->accept_queue.pop_front();
      if (st->state == StreamState::Pending) {  // skip ones the peer reset meanwhile
        ++s->stats.streams_accepted;
        co_return Stream(s, st);
      }
    }
    if (s->state == SessionState::Closed) {
      co_return s->error.code() ? s->error
                                : yurt::fail(Errc::SessionClosed, "tunnel session closed");
    }
    if (s->goaway_sent || s->goaway_received) {
      co_return yurt::fail(Errc::GoingAway, "tunnel session is going away: no more streams");
    }
    co_await s->changed.async_wait(detail::kUse);
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      co_return Error(make_error_code(asio::error::operation_aborted), "accept cancelled");
    }
  }
}

}  // namespace

asio::awaitable<Result<void>> Session::run() {
  return run_impl(core_);
}
asio::awaitable<Result<void>> Session::wait_open() {
  return wait_open_impl(core_);
}
asio::awaitable<Result<Stream>> Session::open_stream(std::string destination) {
  return open_stream_impl(core_, std::move(destination));
}
asio::awaitable<Result<Stream>> Session::accept_stream() {
  return accept_stream_impl(core_);
}

void Session::go_away(std::chrono::milliseconds drain_timeout, WireCode code, std::string message) {
  core_->go_away(drain_timeout, code, std::move(message));
}

void Session::close(std::string reason) {
  core_->fail(yurt::fail(Errc::SessionClosed, std::move(reason)), std::nullopt, true);
}

SessionState Session::state() const noexcept {
  return core_->state;
}
const Error& Session::error() const noexcept {
  return core_->error;
}
const std::optional<Hello>& Session::peer_hello() const noexcept {
  return core_->peer_hello;
}
std::size_t Session::stream_count() const noexcept {
  return core_->streams.size();
}
SessionStats Session::stats() const noexcept {
  return core_->stats;
}
std::uint64_t Session::id() const noexcept {
  return core_->id;
}

}  // namespace yurt::tunnel
