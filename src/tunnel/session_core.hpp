#pragma once

// The state shared by Session, its coroutines and its Streams. Everything here runs on the
// session's executor; nothing locks.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include "yurt/base/clock.hpp"
#include "yurt/net/any_stream.hpp"
#include "yurt/tunnel/frame.hpp"
#include "yurt/tunnel/frame_decoder.hpp"
#include "yurt/tunnel/session.hpp"
#include "yurt/tunnel/stream.hpp"

namespace yurt::tunnel::detail {

using IoHandler = net::AnyStream::IoHandler;
using ShutdownHandler = net::AnyStream::ShutdownHandler;
using ErrorCode = boost::system::error_code;
using TimePoint = std::chrono::steady_clock::time_point;

struct PendingRead {
  net::detail::MutableBuffers buffers;
  IoHandler handler;
  std::uint64_t op = 0;
};

struct PendingWrite {
  net::detail::ConstBuffers buffers;
  IoHandler handler;
  std::uint64_t op = 0;
};

struct StreamCore {
  std::uint32_t id = 0;
  std::string destination;
  bool local = false;  // we opened it
  StreamState state = StreamState::Opening;
  bool registered = false;     // in SessionCore::streams (counts against the limits)
  bool handle_closed = false;  // close() was called on the Stream
  Error error;                 // why it failed
  ErrorCode asio_error;        // what reads/writes report once it failed

  // Receive side: rx holds DATA payloads; rx_pos is the offset into rx.front().
  std::deque<std::string> rx;
  std::size_t rx_pos = 0;
  std::size_t rx_bytes = 0;
  bool rx_fin = false;
  std::uint32_t recv_window = 0;  // what the peer may still send
  std::uint32_t unacked = 0;      // read by the application, not yet granted back
  std::uint32_t window = 0;       // the window we grant: initial_window, grown by grow_window()
  TimePoint last_grant{};         // of credit (or the stream's start)
  std::optional<PendingRead> read;

  // Send side.
  std::int64_t send_window = 0;
  std::optional<PendingWrite> write;
  bool fin_wanted = false;
  bool fin_sent = false;
  std::optional<ShutdownHandler> fin_handler;
  bool in_ready = false;

  TimePoint open_deadline{};
  std::uint64_t next_op = 1;
};

using StreamPtr = std::shared_ptr<StreamCore>;

struct SessionCore : std::enable_shared_from_this<SessionCore> {
  SessionCore(net::AnyStream transport, SessionSettings settings, const Clock& clock);

  // ---- lifecycle (session.cpp) ----
  void start();
  void on_bytes(std::string_view bytes);
  void on_frame(Frame&& frame);
  void on_transport_end(const ErrorCode& ec);
  void on_tick();
  void go_away(std::chrono::milliseconds drain, WireCode code, std::string message);
  /// Ends the session: fails all streams, queues `goaway` (if any) for a last flush.
  void fail(Error error, std::optional<GoAway> goaway, bool close_now);
  void protocol_error(Error error);
  void finish_graceful();
  void maybe_finish_drain();
  void close_transport();

  // ---- frames out ----
  void send(const Frame& frame);
  [[nodiscard]] bool has_output() const;
  void fill_batch(std::string& batch);
  void notify_writer();
  void notify_changed();

  // ---- streams ----
  StreamPtr register_local(std::string destination);
  /// A new stream's receive side: the initial window, growth measured from now.
  void start_receiving(const StreamPtr& st);
  void unregister(const StreamPtr& st);
  /// Marks the stream failed: pending operations complete with `code`. With `keep_received`
  /// (the peer's FIN came before: all it sent is here), what was received stays readable,
  /// then end of stream; only sending fails.
  void fail_stream(const StreamPtr& st,
                   StreamState state,
                   Error error,
                   ErrorCode code,
                   bool keep_received = false);
  void local_reset(const StreamPtr& st, WireCode code, std::string message);
  void make_ready(const StreamPtr& st);
  void deliver(const StreamPtr& st);
  void consumed(const StreamPtr& st, std::size_t n);
  /// How much to add to the stream's window now (0 when at max_window or out of budget).
  std::uint32_t grow_window(const StreamPtr& st);
  void after_fin_sent(const StreamPtr& st);
  void after_fin_received(const StreamPtr& st);

  // Stream operations (stream.cpp calls these).
  void start_read(const StreamPtr& st, net::detail::MutableBuffers buffers, IoHandler handler);
  void start_write(const StreamPtr& st, net::detail::ConstBuffers buffers, IoHandler handler);
  void start_shutdown(const StreamPtr& st, ShutdownHandler handler);
  Result<void> accept(const StreamPtr& st);
  void refuse(const StreamPtr& st, WireCode code, std::string message);
  void close_stream(const StreamPtr& st);

  // Completes handlers on the executor (never inline from an initiating function).
  void complete(IoHandler handler, ErrorCode ec, std::size_t n);
  void complete(ShutdownHandler handler, ErrorCode ec);

  [[nodiscard]] bool handshaking() const {
    return state == SessionState::Idle || state == SessionState::AwaitingHello ||
           state == SessionState::AwaitingHelloAck;
  }
  [[nodiscard]] std::string stream_prefix(const StreamCore& st) const;

  net::Executor ex;
  net::AnyStream transport;
  SessionSettings settings;
  const Clock& clock;
  std::uint64_t id;
  spdlog::logger& log;

  SessionState state = SessionState::Idle;
  Error error;
  bool started = false;
  FrameDecoder decoder;
  std::optional<Hello> peer_hello;
  std::uint32_t peer_max_streams = 0;
  SessionStats stats;

  std::map<std::uint32_t, StreamPtr> streams;
  std::size_t local_open = 0;
  std::size_t remote_open = 0;
  std::size_t window_growth = 0;  // sum over registered streams of window - initial_window
  std::uint32_t next_local_id;
  std::uint32_t last_local_id = 0;
  std::uint32_t last_remote_id = 0;
  std::deque<StreamPtr> accept_queue;

  std::deque<std::string> control;
  std::size_t control_bytes = 0;
  std::deque<StreamPtr> ready;

  // Wake-ups: each timer never expires; cancel() wakes whoever waits on it.
  boost::asio::steady_timer writer_wake;
  boost::asio::steady_timer changed;  // state, open answers, accept queue
  boost::asio::steady_timer done;     // a task of run() finished
  boost::asio::steady_timer ticker;

  TimePoint started_at{};
  TimePoint last_rx{};
  TimePoint last_ping{};
  std::uint64_t ping_counter = 0;
  bool goaway_sent = false;
  bool goaway_received = false;
  std::optional<TimePoint> drain_deadline;
  bool closing = false;  // Closed; flushing the last control frames, then lingering
  std::optional<std::chrono::steady_clock::time_point> linger_until;  // real time
  bool transport_closed = false;
  int tasks = 0;
};

}  // namespace yurt::tunnel::detail
