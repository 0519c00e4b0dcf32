#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "yurt/base/result.hpp"
#include "yurt/tunnel/frame.hpp"

namespace yurt::tunnel {

/// Incremental decoder of one direction of a tunnel connection: feed it the bytes as they arrive,
/// in chunks of any size, and it yields frames or the first protocol error.
///
///     FrameDecoder decoder(Role::Server);   // decodes what the server sends
///     std::string_view input = chunk;
///     for (;;) {
///       auto frame = decoder.next(input);   // consumes from the front of `input`
///       if (!frame) { /* protocol error: frame.error() */ }
///       if (!*frame) break;                 // `input` is used up; wait for more bytes
///       handle(**frame);
///     }
///
/// Every rule of docs/tunnel-protocol.md that a single frame can break is checked here: preface
/// and version, type, reserved flags, per-type length limits (checked on the header, before any
/// payload is buffered), field ranges, trailing bytes, stream id 0 / non-0 / OPEN parity,
/// destination and node-name syntax, and which side may send the type. Rules about frame order
/// (HELLO first, streams that exist) belong to the Session.
///
/// Memory: holds at most one partial frame (kHeaderSize + kMaxPayload bytes); a frame that is
/// complete in the input is decoded without copying it into the buffer first.
///
/// @par Thread Safety
/// A value type; not for concurrent use.
/// @par Errors
/// Values, never exceptions or UB. Messages give the byte offset of the offending frame in the
/// stream and the reason: "frame at byte 18 (DATA, stream 3): length 70000 exceeds 65536". After an
/// error the decoder is failed: every later call returns the same error and consumes nothing.
class FrameDecoder {
 public:
  /// `sender` is the side whose bytes this decoder reads. `expect_preface` = false starts
  /// directly with frames (tests, fuzzing).
  explicit FrameDecoder(Role sender, bool expect_preface = true);

  /// Consumes bytes from the front of `input` up to the end of the next frame and returns it;
  /// returns an empty optional once `input` is used up without completing a frame (the partial
  /// frame is kept for the next call).
  [[nodiscard]] Result<std::optional<Frame>> next(std::string_view& input);

  /// Bytes held from an incomplete preface or frame.
  [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size(); }
  /// Bytes consumed since construction (frames decoded + buffered()).
  [[nodiscard]] std::uint64_t consumed() const noexcept { return consumed_; }
  [[nodiscard]] bool failed() const noexcept { return error_.code().value() != 0; }

 private:
  enum class Phase { Preface, Header, Payload };

  Result<std::optional<Frame>> fail(Error error);
  [[nodiscard]] Result<void> check_preface(std::string_view bytes) const;
  [[nodiscard]] Result<void> check_header();
  [[nodiscard]] Result<Frame> parse_payload(std::string_view payload) const;
  [[nodiscard]] std::string where() const;

  Role sender_;
  Phase phase_;
  std::string buffer_;
  std::uint64_t consumed_ = 0;
  std::uint64_t frame_offset_ = 0;  // stream offset of the frame being decoded
  Error error_;
  // Header of the frame being decoded.
  std::uint8_t type_ = 0;
  std::uint8_t flags_ = 0;
  std::uint32_t stream_id_ = 0;
  std::uint32_t length_ = 0;
};

}  // namespace yurt::tunnel
