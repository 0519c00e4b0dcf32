#include "yurt/base/backoff.hpp"

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "test/fakes/fake_clock.hpp"

namespace yurt {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

constexpr std::uint64_t kSeed = 42;

std::vector<nanoseconds> take(Backoff& b, int n) {
  std::vector<nanoseconds> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(b.next());
  }
  return out;
}

TEST(Backoff, WithoutJitterDoublesUpToCap) {
  FakeClock clock;
  BackoffPolicy policy{.initial = 800ms, .factor = 2.0, .cap = 5s, .jitter = 0.0};
  Backoff b(policy, clock, kSeed);
  const std::vector<nanoseconds> want{800ms, 1600ms, 3200ms, 5s, 5s, 5s};
  EXPECT_EQ(take(b, 6), want);
}

TEST(Backoff, JitteredDelaysStayWithinBounds) {
  FakeClock clock;
  BackoffPolicy policy;  // defaults: 800ms ×2 up to 30s, jitter 0.5
  Backoff b(policy, clock, kSeed);
  nanoseconds base = policy.initial;
  bool any_jitter = false;
  for (int i = 0; i < 200; ++i) {
    const auto d = b.next();
    EXPECT_GE(d, base / 2) << "attempt " << i;
    EXPECT_LE(d, base) << "attempt " << i;
    EXPECT_LE(d, policy.cap);
    any_jitter = any_jitter || d != base;
    base = std::min<nanoseconds>(base * 2, policy.cap);
  }
  EXPECT_TRUE(any_jitter);
}

TEST(Backoff, SameSeedSameSequence) {
  FakeClock clock;
  Backoff a(BackoffPolicy{}, clock, kSeed);
  Backoff b(BackoffPolicy{}, clock, kSeed);
  Backoff c(BackoffPolicy{}, clock, kSeed + 1);
  const auto sa = take(a, 20);
  EXPECT_EQ(sa, take(b, 20));
  EXPECT_NE(sa, take(c, 20));
}

TEST(Backoff, ResetStartsOver) {
  FakeClock clock;
  Backoff b(BackoffPolicy{.initial = 1s, .cap = 60s, .jitter = 0.0}, clock, kSeed);
  (void)take(b, 4);
  b.reset();
  EXPECT_EQ(b.next(), 1s);
  EXPECT_EQ(b.next(), 2s);
}

TEST(Backoff, StablePeriodResetsAutomatically) {
  FakeClock clock;
  BackoffPolicy policy{.initial = 1s, .cap = 60s, .jitter = 0.0, .reset_after = 2min};
  Backoff b(policy, clock, kSeed);
  EXPECT_EQ(b.next(), 1s);
  clock.advance(119s);  // shorter than reset_after: still the same failure streak
  EXPECT_EQ(b.next(), 2s);
  clock.advance(2min);  // ran stably for reset_after
  EXPECT_EQ(b.next(), 1s);
  EXPECT_EQ(b.next(), 2s);
}

TEST(Backoff, ZeroResetAfterNeverResets) {
  FakeClock clock;
  Backoff b(BackoffPolicy{.initial = 1s, .cap = 60s, .jitter = 0.0, .reset_after = 0s}, clock,
            kSeed);
  EXPECT_EQ(b.next(), 1s);
  clock.advance(24h);
  EXPECT_EQ(b.next(), 2s);
}

TEST(Backoff, HugeFactorDoesNotOverflow) {
  FakeClock clock;
  Backoff b(BackoffPolicy{.initial = 1s, .factor = 1e30, .cap = 1h, .jitter = 0.0}, clock, kSeed);
  EXPECT_EQ(b.next(), 1s);
  EXPECT_EQ(b.next(), 1h);
  EXPECT_EQ(b.next(), 1h);
}

TEST(Backoff, FullJitterMayReachZeroButNeverExceedsBase) {
  FakeClock clock;
  Backoff b(BackoffPolicy{.initial = 1ms, .factor = 1.0, .cap = 1ms, .jitter = 1.0}, clock, kSeed);
  for (int i = 0; i < 100; ++i) {
    const auto d = b.next();
    EXPECT_GE(d, 0ns);
    EXPECT_LE(d, 1ms);
  }
}

TEST(Backoff, RejectsInvalidPolicy) {
  FakeClock clock;
  EXPECT_THROW(Backoff(BackoffPolicy{.initial = 0s}, clock, kSeed), std::invalid_argument);
  EXPECT_THROW(Backoff(BackoffPolicy{.factor = 0.5}, clock, kSeed), std::invalid_argument);
  EXPECT_THROW(Backoff(BackoffPolicy{.initial = 2s, .cap = 1s}, clock, kSeed),
               std::invalid_argument);
  EXPECT_THROW(Backoff(BackoffPolicy{.jitter = 1.5}, clock, kSeed), std::invalid_argument);
  EXPECT_THROW(Backoff(BackoffPolicy{.jitter = -0.1}, clock, kSeed), std::invalid_argument);
  EXPECT_THROW(Backoff(BackoffPolicy{.reset_after = -1s}, clock, kSeed), std::invalid_argument);
}

}  // namespace
}  // namespace yurt
