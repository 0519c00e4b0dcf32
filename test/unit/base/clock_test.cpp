#include "yurt/base/clock.hpp"

#include <chrono>

#include <gtest/gtest.h>

#include "test/fakes/fake_clock.hpp"

namespace yurt {
namespace {

using namespace std::chrono_literals;

TEST(FakeClock, MovesOnlyWhenAdvanced) {
  FakeClock clock;
  const auto wall = clock.now();
  const auto mono = clock.monotonic();
  EXPECT_EQ(wall, std::chrono::system_clock::time_point(FakeClock::kStartWall));
  EXPECT_EQ(clock.now(), wall);

  clock.advance(1500ms);
  EXPECT_EQ(clock.now() - wall, 1500ms);
  EXPECT_EQ(clock.monotonic() - mono, 1500ms);
}

TEST(FakeClock, SetMovesWallClockOnly) {
  FakeClock clock;
  const auto mono = clock.monotonic();
  const auto earlier = clock.now() - 24h;
  clock.set(earlier);
  EXPECT_EQ(clock.now(), earlier);
  EXPECT_EQ(clock.monotonic(), mono);
}

TEST(FakeClock, NegativeAdvanceNeverMovesMonotonicBack) {
  FakeClock clock;
  const auto wall = clock.now();
  const auto mono = clock.monotonic();
  clock.advance(-10s);
  EXPECT_EQ(clock.now(), wall - 10s);
  EXPECT_EQ(clock.monotonic(), mono);
}

TEST(SystemClock, MonotonicDoesNotGoBack) {
  SystemClock clock;
  const Clock& c = clock;
  const auto a = c.monotonic();
  const auto b = c.monotonic();
  EXPECT_LE(a, b);
  EXPECT_GT(c.now().time_since_epoch().count(), 0);
}

}  // namespace
}  // namespace yurt
