// libFuzzer target for the tunnel frame decoder (docs/tunnel.md#fuzzing). Built only with clang and
// -DYURT_FUZZ=ON:
//   cmake -S . -B build/fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DYURT_FUZZ=ON
//   cmake --build build/fuzz --target tunnel_frame_fuzz
//   build/fuzz/test/fuzz/tunnel_frame_fuzz -max_total_time=60 -max_len=70000
// The same invariants run in every g++ build through the corpus-replay unit test.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "yurt/tunnel/frame.hpp"

#include "test/unit/tunnel/decoder_invariants.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace yurt::tunnel;  // NOLINT(google-build-using-namespace): fuzz entry point
  if (size < 1) {
    return 0;
  }
  // The first byte chooses the sender, the preface mode and how the bytes are chunked; the rest
  // is the connection's byte stream.
  const std::uint8_t control = data[0];
  const Role sender = (control & 1U) != 0 ? Role::Server : Role::Agent;
  const bool with_preface = (control & 2U) != 0;
  std::vector<std::size_t> cuts;
  switch ((control >> 2) & 3U) {
    case 0:
      break;  // one chunk
    case 1:
      cuts = {1};  // byte by byte
      break;
    case 2:
      cuts = {static_cast<std::size_t>(control >> 4) + 1, 7, 4096};
      break;
    default:
      cuts = {kHeaderSize - 1, kHeaderSize + 1, 3};
      break;
  }
  const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
  test::check_decoder(sender, with_preface, wire, cuts);
  // The field parsers see raw attacker bytes too (the tunnel server calls parse_destination() on
  // CONNECT targets).
  (void)parse_destination(wire.substr(0, 512));
  (void)check_node_name(wire.substr(0, 512));
  return 0;
}
