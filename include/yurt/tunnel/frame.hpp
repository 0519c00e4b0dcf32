#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "yurt/base/result.hpp"

/// The tunnel wire protocol, version 1 (docs/tunnel-protocol.md): frame types, their fields, the
/// limits, and a pure encoder. No I/O here; FrameDecoder (frame_decoder.hpp) is the other half.
namespace yurt::tunnel {

/// Which end of a tunnel connection. The agent dials and sends HELLO; the server answers.
/// Streams opened by the server have odd ids, streams opened by the agent even ids.
enum class Role { Agent, Server };

[[nodiscard]] constexpr Role peer_of(Role r) noexcept {
  return r == Role::Agent ? Role::Server : Role::Agent;
}

// ---- limits (fixed by protocol version 1) ----

inline constexpr std::uint16_t kProtocolVersion = 1;
/// "YTUN", version (u16), two zero bytes: the first bytes each side sends.
inline constexpr std::size_t kPrefaceSize = 8;
/// type u8 | flags u8 | stream id u32 | length u32, big-endian.
inline constexpr std::size_t kHeaderSize = 10;
/// Largest payload of any frame (a DATA frame's maximum).
inline constexpr std::uint32_t kMaxPayload = 64 * 1024;
/// Stream ids and windows are 31-bit (the high bit is reserved, as in HTTP/2).
inline constexpr std::uint32_t kMaxStreamId = 0x7fff'ffff;
inline constexpr std::uint32_t kMaxWindow = 0x7fff'ffff;
/// host (≤ 253) ':' port (≤ 5 digits).
inline constexpr std::size_t kMaxDestination = 259;
inline constexpr std::size_t kMaxNodeName = 253;
/// Reason text in OPEN_FAIL, RESET and GOAWAY.
inline constexpr std::size_t kMaxMessage = 1024;
/// Upper bound of the max_streams a side may advertise in HELLO / HELLO_ACK.
inline constexpr std::uint32_t kMaxStreamsLimit = 65'536;

/// Frame type byte. Values are stable across versions; new types get new values.
enum class FrameType : std::uint8_t {
  Hello = 0x01,
  HelloAck = 0x02,
  Open = 0x03,
  OpenAck = 0x04,
  OpenFail = 0x05,
  Data = 0x06,
  WindowUpdate = 0x07,
  Fin = 0x08,
  Reset = 0x09,
  Ping = 0x0A,
  Pong = 0x0B,
  GoAway = 0x0C,
};

/// "OPEN", "DATA", ... ("0x47" for a value outside the enum).
[[nodiscard]] std::string to_string(FrameType type);

/// Reason codes of OPEN_FAIL, RESET and GOAWAY. A receiver must accept values it does not know
/// (a newer peer may send them) and treat them like Internal.
enum class WireCode : std::uint32_t {
  NoError = 0,             ///< graceful GOAWAY
  Protocol = 1,            ///< the peer broke the protocol
  Internal = 2,            ///< a bug or resource failure on the sender
  FlowControl = 3,         ///< more DATA than the window allowed
  Refused = 4,             ///< not processed (stream limit, going away): safe to retry elsewhere
  Cancelled = 5,           ///< the application gave up on the stream
  ConnectFailed = 6,       ///< the destination could not be dialled (refused, unreachable)
  NotAllowed = 7,          ///< policy forbids this destination or node
  Timeout = 8,             ///< dial, handshake or keepalive deadline
  UnsupportedVersion = 9,  ///< the peer's protocol version is not spoken here
  Unauthorized = 10,       ///< HELLO's node name does not match the peer's certificate
};

/// "no error", "connect failed", ... ("code 42" for a value outside the enum).
[[nodiscard]] std::string to_string(WireCode code);

// ---- frames ----

/// Agent → server, first frame after the preface.
struct Hello {
  std::uint32_t capabilities = 0;  ///< bit set; version 1 defines none, unknown bits are ignored
  std::uint32_t max_streams = 0;   ///< streams the server may have open toward the agent at once
  std::string node_name;           ///< RFC 1123 subdomain, ≤ 253 bytes
  friend bool operator==(const Hello&, const Hello&) = default;
};
/// Server → agent, accepts the session.
struct HelloAck {
  std::uint32_t capabilities = 0;  ///< the capabilities the server will use (⊆ the agent's)
  std::uint32_t max_streams = 0;   ///< streams the agent may have open toward the server at once
  friend bool operator==(const HelloAck&, const HelloAck&) = default;
};
/// Opens a stream to `destination`; the opener's receive window is `initial_window`.
struct Open {
  std::uint32_t stream_id = 0;
  std::uint32_t initial_window = 0;
  std::string destination;  ///< "host:port", "10.0.0.1:10250", "[fd00::1]:10250"
  friend bool operator==(const Open&, const Open&) = default;
};
/// The destination is connected; the acceptor's receive window is `initial_window`.
struct OpenAck {
  std::uint32_t stream_id = 0;
  std::uint32_t initial_window = 0;
  friend bool operator==(const OpenAck&, const OpenAck&) = default;
};
struct OpenFail {
  std::uint32_t stream_id = 0;
  WireCode code = WireCode::Internal;
  std::string message;
  friend bool operator==(const OpenFail&, const OpenFail&) = default;
};
struct Data {
  std::uint32_t stream_id = 0;
  std::string bytes;  ///< 1..kMaxPayload bytes
  friend bool operator==(const Data&, const Data&) = default;
};
/// Grants `credit` more bytes of DATA on the stream.
struct WindowUpdate {
  std::uint32_t stream_id = 0;
  std::uint32_t credit = 0;  ///< 1..kMaxWindow
  friend bool operator==(const WindowUpdate&, const WindowUpdate&) = default;
};
/// The sender will send no more DATA on the stream (half-close).
struct Fin {
  std::uint32_t stream_id = 0;
  friend bool operator==(const Fin&, const Fin&) = default;
};
/// Aborts the stream in both directions.
struct Reset {
  std::uint32_t stream_id = 0;
  WireCode code = WireCode::Cancelled;
  std::string message;
  friend bool operator==(const Reset&, const Reset&) = default;
};
struct Ping {
  std::array<std::uint8_t, 8> opaque{};
  friend bool operator==(const Ping&, const Ping&) = default;
};
/// Echoes a Ping's opaque bytes.
struct Pong {
  std::array<std::uint8_t, 8> opaque{};
  friend bool operator==(const Pong&, const Pong&) = default;
};
/// No new streams; `last_stream_id` is the highest peer-opened stream the sender processed.
struct GoAway {
  std::uint32_t last_stream_id = 0;
  WireCode code = WireCode::NoError;
  std::string message;
  friend bool operator==(const GoAway&, const GoAway&) = default;
};

using Frame = std::variant<Hello,
                           HelloAck,
                           Open,
                           OpenAck,
                           OpenFail,
                           Data,
                           WindowUpdate,
                           Fin,
                           Reset,
                           Ping,
                           Pong,
                           GoAway>;

[[nodiscard]] FrameType type_of(const Frame& frame) noexcept;
/// The frame's stream id (0 for connection-level frames).
[[nodiscard]] std::uint32_t stream_id_of(const Frame& frame) noexcept;

// ---- encoding ----

/// The 8 preface bytes of this version.
[[nodiscard]] std::string_view preface() noexcept;

/// Appends the wire form of `frame` to `out`. Fields are checked with the decoder's rules (lengths,
/// ranges, destination and node-name syntax, stream id 0 or not) so we never send what a peer
/// must reject; OPEN's stream-id parity is the session's business. On error `out` is unchanged.
/// Errors: Errc::InvalidArgument naming the field.
[[nodiscard]] Result<void> encode(const Frame& frame, std::string& out);
/// encode() into a new string.
[[nodiscard]] Result<std::string> encode(const Frame& frame);

/// Appends a DATA frame carrying `bytes` (1..kMaxPayload, a precondition) without building a
/// Frame: the session's write path.
void encode_data(std::uint32_t stream_id, std::string_view bytes, std::string& out);
/// Appends only the header of a DATA frame of `length` bytes (1..kMaxPayload, a precondition);
/// the caller appends the payload (gathered from several buffers).
void encode_data_header(std::uint32_t stream_id, std::size_t length, std::string& out);

// ---- field syntax (shared with the decoder and the tunnel server) ----

/// A destination split into its parts.
struct Destination {
  std::string host;  ///< DNS name, IPv4, or IPv6 without brackets
  std::uint16_t port = 0;
};

/// Checks "host:port": host a DNS name (labels of letters, digits and '-'), an IPv4 address, or
/// an IPv6 address in brackets (no zone); port 1..65535 in decimal without leading zeros; at most
/// kMaxDestination bytes. Errors: Errc::InvalidDestination with the reason.
[[nodiscard]] Result<Destination> parse_destination(std::string_view destination);

/// Checks a Kubernetes node name: an RFC 1123 subdomain (lower-case letters, digits, '-', '.'),
/// 1..253 bytes. Errors: Errc::InvalidNodeName with the reason.
[[nodiscard]] Result<void> check_node_name(std::string_view name);

}  // namespace yurt::tunnel
