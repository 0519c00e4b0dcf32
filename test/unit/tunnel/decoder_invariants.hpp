#pragma once

// The invariants a FrameDecoder keeps on any input, shared by the corpus-replay unit test and the
// libFuzzer target (test/fuzz/tunnel_frame_fuzz.cpp). Violations abort, so both harnesses see them
// as crashes.

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "yurt/tunnel/errc.hpp"
#include "yurt/tunnel/frame.hpp"
#include "yurt/tunnel/frame_decoder.hpp"

namespace yurt::tunnel::test {

inline void invariant(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "decoder invariant violated: %s\n", what);
    std::abort();
  }
}

struct DecodeStats {
  std::size_t frames = 0;
  bool failed = false;
};

/// Feeds `wire` to a decoder in the chunk sizes given by `cuts` (cycled; 0 is read as 1) and
/// checks: consumed bytes are exactly what left the input; an empty result means the input is
/// used up; at most one frame is buffered; every frame re-encodes to exactly the bytes it was
/// decoded from; errors are protocol-error values and sticky (later calls consume nothing).
inline DecodeStats check_decoder(Role sender,
                                 bool expect_preface,
                                 std::string_view wire,
                                 std::span<const std::size_t> cuts) {
  FrameDecoder decoder(sender, expect_preface);
  DecodeStats stats;
  std::size_t offset = 0;       // bytes of `wire` handed to the decoder so far
  std::size_t frame_start = 0;  // where the current frame began (after the preface, if any)
  bool preface_done = !expect_preface;
  std::size_t turn = 0;
  while (offset < wire.size()) {
    std::size_t n =
        cuts.empty() ? wire.size() : std::max<std::size_t>(1, cuts[turn++ % cuts.size()]);
    std::string_view input = wire.substr(offset, n);
    const std::size_t offered = input.size();
    for (;;) {
      const auto before_input = input.size();
      const auto before_consumed = decoder.consumed();
      auto r = decoder.next(input);
      invariant(input.size() <= before_input, "input grew");
      invariant(decoder.consumed() - before_consumed == before_input - input.size(),
                "consumed() does not match the bytes taken from the input");
      invariant(decoder.buffered() <= kMaxPayload, "more than one frame buffered");
      if (!r) {
        invariant(is_protocol_error(r.error().code()), "error is not a protocol error code");
        invariant(!r.error().message().empty(), "error without a message");
        invariant(decoder.failed(), "failed() false after an error");
        std::string_view again = input;
        auto second = decoder.next(again);
        invariant(!second && second.error().message() == r.error().message() &&
                      again.size() == input.size(),
                  "error is not sticky");
        stats.failed = true;
        return stats;
      }
      if (!preface_done && decoder.consumed() >= kPrefaceSize) {
        preface_done = true;
        frame_start = kPrefaceSize;
      }
      if (!*r) {
        invariant(input.empty(), "no frame although input is left");
        break;
      }
      const auto end = static_cast<std::size_t>(decoder.consumed());
      auto again = encode(**r);
      invariant(again.has_value(), "a decoded frame does not re-encode");
      invariant(*again == wire.substr(frame_start, end - frame_start),
                "a decoded frame does not re-encode to its own bytes");
      frame_start = end;
      ++stats.frames;
    }
    offset += offered;
  }
  invariant(decoder.consumed() == wire.size(), "not all input consumed");
  return stats;
}

}  // namespace yurt::tunnel::test
