#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"
#include "yurt/net/any_stream.hpp"
#include "yurt/net/asio.hpp"
#include "yurt/tunnel/frame.hpp"
#include "yurt/tunnel/stream.hpp"

namespace yurt::tunnel {

namespace detail {
struct SessionCore;
}  // namespace detail

/// Handshake and lifetime of a session (docs/tunnel.md).
///
///   agent:  Idle → AwaitingHelloAck → Open → Draining → Closed
///   server: Idle → AwaitingHello    → Open → Draining → Closed
///
/// Any state goes to Closed on a protocol error, a dead peer, a lost connection or close().
enum class SessionState { Idle, AwaitingHello, AwaitingHelloAck, Open, Draining, Closed };

[[nodiscard]] std::string_view to_string(SessionState state) noexcept;

/// Configuration of one session. Defaults suit a tunnel over a flaky 4G link.
struct SessionSettings {
  Role role = Role::Agent;
  /// Agent: the node name sent in HELLO (must pass check_node_name()). Server: unused.
  std::string node_name;
  /// Streams the peer may have open toward us at once (advertised in HELLO / HELLO_ACK). With
  /// initial_window it bounds receive buffering: max_streams × initial_window (64 MiB).
  std::uint32_t max_streams = 256;
  /// Our receive window per stream: the most DATA the peer may send ahead of our reads.
  std::uint32_t initial_window = 256 * 1024;
  /// A stream's receive window doubles, up to this, each time our reader, keeping up, has read
  /// half of it within window_growth_period: a bulk stream, whose credit must outlast the round
  /// trip through the processes at both ends (on a loaded 2-core node, milliseconds) — a fixed
  /// 256 KiB window held kubectl port-forward through the tunnel to ~150 MB/s there. The window
  /// settles near rate × 2 × window_growth_period. Never below initial_window.
  std::uint32_t max_window = 4 * 1024 * 1024;
  std::chrono::milliseconds window_growth_period{10};
  /// What the windows of one session's streams may grow by in total, beyond initial_window each:
  /// the bound on the extra buffering growth can cost (max_streams × initial_window + this).
  std::size_t window_growth_budget = std::size_t{16} << 20;
  /// From run() to an accepted HELLO / HELLO_ACK.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// open_stream() waits this long for OPEN_ACK / OPEN_FAIL, then resets the stream.
  std::chrono::milliseconds open_timeout{10'000};
  /// A PING goes out when this much time passed since the last one.
  std::chrono::milliseconds ping_interval{10'000};
  /// The peer is declared dead when nothing at all arrived for this long (> ping_interval).
  std::chrono::milliseconds ping_timeout{30'000};
  /// Grace given to streams when run() receives a total (graceful) cancellation.
  std::chrono::milliseconds drain_timeout{30'000};
  /// How often deadlines are checked. All deadlines above are measured with the injected Clock;
  /// this is the real timer that samples it (tests: a FakeClock and a tick of 1 ms).
  std::chrono::milliseconds tick{1'000};
  /// After our final GOAWAY, how long (real time) to wait for the peer to close before closing.
  std::chrono::milliseconds linger{2'000};
  /// Control frames (PONG, WINDOW_UPDATE, OPEN_FAIL ...) queued but unsent beyond this mean the
  /// peer provokes answers without reading them: the session fails.
  std::size_t max_control_bytes = 1 << 20;
  /// Server: decides whether to accept the agent's HELLO (e.g. node name == certificate CN). An
  /// error refuses the session with GOAWAY(Unauthorized, its message). Empty = accept all.
  std::function<Result<void>(const Hello&)> authorize;
};

/// Counters for tests and metrics.
struct SessionStats {
  std::uint64_t pings_sent = 0;
  std::uint64_t pongs_received = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t streams_opened = 0;    ///< by us, acknowledged
  std::uint64_t streams_accepted = 0;  ///< by the peer, handed to accept_stream()
};

/// One tunnel connection: the handshake, then many streams multiplexed over the transport with
/// per-stream credit-based flow control, keepalive PINGs with a dead-peer timeout, and graceful
/// GOAWAY. A single reader coroutine decodes frames and never waits for the application (data is
/// buffered within the stream's window), a single writer drains control frames and streams'
/// data round-robin; a keepalive coroutine checks the deadlines.
///
///     auto session = std::make_shared<Session>(std::move(tls_stream), settings, clock);
///     group.spawn(ex, run_session(session));                  // co_await session->run()
///     auto stream = co_await session->open_stream("10.0.0.12:10250");  // server side
///     auto incoming = co_await session->accept_stream();               // agent side
///
/// @par Thread Safety
/// Everything on the transport's executor (single-threaded or a strand).
/// @par Lifetime
/// The Clock must outlive the session. Destroying the Session aborts it (as close()); run() and
/// streams keep the internal state alive until they finish.
/// @par Errors
/// Values with Errc codes (errc.hpp) and messages naming the peer's reason; a protocol error by
/// the peer is logged at error level, answered with GOAWAY(Protocol), and fails every stream.
class Session {
 public:
  Session(net::AnyStream transport, SessionSettings settings, const Clock& clock);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Runs the session: handshake, then frames until it is closed. Returns success after a
  /// graceful GOAWAY drain, otherwise why it ended (Errc::Refused when the server refused the
  /// HELLO, Timeout, SessionClosed, a protocol error ...). Call once.
  ///
  /// Cancellation: total (graceful) → go_away(settings.drain_timeout); terminal → close().
  /// Either way run() returns once the connection is closed.
  net::asio::awaitable<Result<void>> run();

  /// Waits until the handshake completed (success) or the session ended (its error).
  net::asio::awaitable<Result<void>> wait_open();

  /// Opens a stream to `destination` ("host:port", see parse_destination()) and waits for the
  /// peer's answer. Errors: InvalidArgument (bad destination), GoingAway, TooManyStreams (the
  /// peer's max_streams is reached: no waiting), Refused (OPEN_FAIL: message has the peer's
  /// code and reason), Timeout (open_timeout), SessionClosed.
  net::asio::awaitable<Result<Stream>> open_stream(std::string destination);

  /// The next stream the peer opened, in state Pending: route it, then accept() or refuse().
  /// Errors: GoingAway once no more streams can arrive, SessionClosed.
  net::asio::awaitable<Result<Stream>> accept_stream();

  /// Graceful shutdown: sends GOAWAY (no new streams either way); existing streams go on until
  /// they finish or `drain_timeout` passes, then they are reset and the connection closes.
  void go_away(std::chrono::milliseconds drain_timeout,
               WireCode code = WireCode::NoError,
               std::string message = "going away");

  /// Aborts: fails every stream and closes the connection.
  void close(std::string reason = "closed locally");

  [[nodiscard]] SessionState state() const noexcept;
  /// Why the session ended (empty code while it runs, and after a graceful drain).
  [[nodiscard]] const Error& error() const noexcept;
  /// Server: the agent's HELLO once received.
  [[nodiscard]] const std::optional<Hello>& peer_hello() const noexcept;
  /// Streams not yet finished (both directions), including Pending ones.
  [[nodiscard]] std::size_t stream_count() const noexcept;
  [[nodiscard]] SessionStats stats() const noexcept;
  /// Process-unique id used in log lines ("[C7]").
  [[nodiscard]] std::uint64_t id() const noexcept;

 private:
  std::shared_ptr<detail::SessionCore> core_;
};

}  // namespace yurt::tunnel
