#pragma once

#include <system_error>

namespace yurt::tunnel {

/// Error codes of the tunnel module. The first group says how a peer broke the wire protocol
/// (docs/tunnel-protocol.md); FrameDecoder reports them and a Session answers them with GOAWAY.
/// The second group is what sessions and streams report to their owners.
enum class Errc {
  // Peer broke the protocol (decoder).
  BadPreface = 1,      ///< the connection does not start with "YTUN"
  UnsupportedVersion,  ///< the preface names a protocol version this build does not speak
  UnknownFrameType,    ///< a frame type byte outside 0x01..0x0C
  ReservedFlags,       ///< a flag bit set that version 1 reserves
  FrameTooLarge,       ///< a length above the frame type's maximum
  MalformedFrame,      ///< a payload shorter or longer than its fields, or a field out of range
  InvalidStreamId,     ///< stream id 0 where a stream is needed (or not 0 where none is), wrong
                       ///< parity for OPEN, the reserved high bit set
  InvalidDestination,  ///< OPEN's destination is not host:port, or too long
  InvalidNodeName,     ///< HELLO's node name is not an RFC 1123 subdomain
  WrongDirection,      ///< a frame only the other side may send (HELLO from the server)
  ProtocolViolation,   ///< well-formed frames in an order the protocol forbids (session level)
  FlowControl,         ///< the peer sent more than the window allowed

  // Sessions and streams.
  InvalidArgument,  ///< the caller asked to encode or open something invalid
  Refused,          ///< the peer refused (OPEN_FAIL, or GOAWAY during the handshake)
  StreamReset,      ///< the stream was reset (RESET from the peer, or reset locally)
  SessionClosed,    ///< the session ended (connection lost, protocol error, aborted)
  GoingAway,        ///< no new streams: GOAWAY was sent or received
  TooManyStreams,   ///< the peer's max_streams limit is reached
  Timeout,          ///< handshake, open or keepalive deadline passed
};

[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// True for the codes that mean "the peer broke the protocol" (BadPreface..FlowControl).
[[nodiscard]] bool is_protocol_error(const std::error_code& code) noexcept;

}  // namespace yurt::tunnel

template <>
struct std::is_error_code_enum<yurt::tunnel::Errc> : std::true_type {};
