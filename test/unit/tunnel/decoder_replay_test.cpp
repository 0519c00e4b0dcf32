// Corpus replay: what the libFuzzer target does, with a fixed seed and g++, so every build runs
// it. Valid streams are mutated (bit flips, byte changes, insertions, deletions, truncation,
// splices) or replaced by random bytes, then fed in random chunk sizes through the invariant
// checker.

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test/unit/tunnel/decoder_invariants.hpp"

namespace yurt::tunnel {
namespace {

std::vector<std::string> corpus() {
  std::vector<Frame> frames = {
      Hello{1, 256, "edge-1"},
      HelloAck{0, 100},
      Open{1, 262144, "edge-1:10250"},
      Open{3, 100, "[fd00::1]:10250"},
      OpenAck{1, 262144},
      OpenFail{3, WireCode::ConnectFailed, "connection refused"},
      Data{1, "GET /containerLogs/default/web/app?follow=true HTTP/1.1\r\n\r\n"},
      Data{1, std::string(300, '\x16')},
      WindowUpdate{1, 65536},
      Fin{1},
      Reset{3, WireCode::Cancelled, "cancelled"},
      Ping{{1, 2, 3, 4, 5, 6, 7, 8}},
      Pong{{1, 2, 3, 4, 5, 6, 7, 8}},
      GoAway{3, WireCode::NoError, "bye"},
  };
  std::vector<std::string> out;
  for (const auto& f : frames) {
    out.push_back(*encode(f));
  }
  return out;
}

// 4 shards × 25 000 inputs = 100 000, each shard well under the 5 s budget even under ASan.
class DecoderReplay : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(DecoderReplay, RandomAndMutatedInputsKeepTheInvariants) {
  const auto seeds = corpus();
  std::mt19937_64 rng(GetParam());
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  std::size_t frames = 0;
  std::size_t failures = 0;
  constexpr int kIterations = 25'000;
  for (int i = 0; i < kIterations; ++i) {
    std::string wire;
    const bool with_preface = pick(2) == 0;
    if (with_preface) {
      wire = preface();
    }
    if (pick(10) == 0) {
      wire.resize(wire.size() + pick(200));
      for (auto& c : wire) {
        c = static_cast<char>(rng());
      }
    } else {
      for (std::size_t k = 1 + pick(6); k > 0; --k) {
        wire += seeds[pick(seeds.size())];
      }
      for (std::size_t m = pick(4); m > 0 && !wire.empty(); --m) {
        const auto at = pick(wire.size());
        switch (pick(6)) {
          case 0:
            wire[at] = static_cast<char>(wire[at] ^ (1 << pick(8)));
            break;
          case 1:
            wire[at] = static_cast<char>(rng());
            break;
          case 2:
            wire.insert(at, std::string(1 + pick(4), static_cast<char>(rng())));
            break;
          case 3:
            wire.erase(at, 1 + pick(8));
            break;
          case 4:
            wire.resize(at);
            break;
          default:
            wire.insert(at, seeds[pick(seeds.size())]);
            break;
        }
      }
    }
    std::vector<std::size_t> cuts(1 + pick(4));
    for (auto& c : cuts) {
      c = pick(3) == 0 ? 1 + pick(4) : 1 + pick(4096);
    }
    const Role sender = pick(2) == 0 ? Role::Agent : Role::Server;
    auto stats = test::check_decoder(sender, with_preface, wire, cuts);
    frames += stats.frames;
    failures += stats.failed ? 1 : 0;
  }
  // Both outcomes are exercised: the mutations keep many frames valid and break many streams.
  EXPECT_GT(frames, static_cast<std::size_t>(kIterations));
  EXPECT_GT(failures, static_cast<std::size_t>(kIterations) / 4);
}

INSTANTIATE_TEST_SUITE_P(FixedSeeds,
                         DecoderReplay,
                         ::testing::Values(0x7e575eedULL, 1ULL, 0xdeadbeefULL, 20240101ULL));

}  // namespace
}  // namespace yurt::tunnel
