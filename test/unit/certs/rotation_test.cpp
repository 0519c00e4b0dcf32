#include "yurt/certs/rotation.hpp"

#include <gtest/gtest.h>

#include "test/fakes/fake_clock.hpp"

namespace yurt::certs {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using std::chrono::sys_seconds;

sys_seconds start() {
  return sys_seconds{FakeClock::kStartWall};
}

TEST(RotationDeadline, StaysWithin70To90PercentOverManySeeds) {
  const Lifetime lifetime{start(), start() + hours(24 * 365)};
  const auto total = (lifetime.not_after - lifetime.not_before).count();
  double lowest = 1.0;
  double highest = 0.0;
  for (std::uint64_t seed = 0; seed < 5000; ++seed) {
    std::mt19937_64 random(seed);
    const auto deadline = rotation_deadline(lifetime, random);
    const double fraction =
        static_cast<double>((deadline - lifetime.not_before).count()) / static_cast<double>(total);
    ASSERT_GE(fraction, 0.7) << "seed " << seed;
    ASSERT_LT(fraction, 0.9) << "seed " << seed;
    lowest = std::min(lowest, fraction);
    highest = std::max(highest, fraction);
  }
  // The jitter really spreads nodes over the window (not a constant 80 %).
  EXPECT_LT(lowest, 0.701);
  EXPECT_GT(highest, 0.899);
}

TEST(RotationDeadline, IsDeterministicPerSeed) {
  const Lifetime lifetime{start(), start() + hours(24)};
  std::mt19937_64 a(42);
  std::mt19937_64 b(42);
  EXPECT_EQ(rotation_deadline(lifetime, a), rotation_deadline(lifetime, b));
}

TEST(RotationDeadline, HandlesDegenerateAndHugeLifetimes) {
  std::mt19937_64 random(1);
  EXPECT_EQ(rotation_deadline({start(), start()}, random), start());
  EXPECT_EQ(rotation_deadline({start(), start() - hours(1)}, random), start());
  EXPECT_EQ(rotation_deadline({start(), start() + seconds(1)}, random), start());
  // RFC 5280's "no well-defined expiration": 9999-12-31T23:59:59Z.
  const sys_seconds forever = std::chrono::sys_days{std::chrono::year{9999} / 12 / 31} + hours(23) +
                              std::chrono::minutes(59) + seconds(59);
  for (std::uint64_t seed = 0; seed < 100; ++seed) {
    std::mt19937_64 r(seed);
    const auto deadline = rotation_deadline({start(), forever}, r);
    EXPECT_GT(deadline, start() + (forever - start()) * 7 / 10 - seconds(1));
    EXPECT_LT(deadline, start() + (forever - start()) * 9 / 10);
  }
}

TEST(RotationScheduler, KeepsOneDeadlinePerCertificate) {
  FakeClock clock;
  RotationScheduler scheduler(clock, 7);
  const Lifetime lifetime{start(), start() + hours(100)};
  const auto deadline = scheduler.deadline(lifetime);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(scheduler.deadline(lifetime), deadline);
  }
  EXPECT_GE(deadline, start() + hours(70));
  EXPECT_LT(deadline, start() + hours(90));
  const Lifetime renewed{start() + hours(80), start() + hours(180)};
  const auto next = scheduler.deadline(renewed);
  EXPECT_GE(next, start() + hours(150));
  EXPECT_LT(next, start() + hours(170));
}

TEST(RotationScheduler, SaysWhenRotationIsDue) {
  FakeClock clock;
  RotationScheduler scheduler(clock, 7);
  const Lifetime lifetime{start(), start() + hours(100)};
  const auto deadline = scheduler.deadline(lifetime);
  EXPECT_FALSE(scheduler.needs_rotation(lifetime));
  EXPECT_EQ(scheduler.time_until_rotation(lifetime), deadline - start());
  clock.set(deadline - seconds(1));
  EXPECT_FALSE(scheduler.needs_rotation(lifetime));
  EXPECT_EQ(scheduler.time_until_rotation(lifetime), seconds(1));
  clock.set(deadline);
  EXPECT_TRUE(scheduler.needs_rotation(lifetime));
  EXPECT_EQ(scheduler.time_until_rotation(lifetime), seconds(0));
  clock.set(start() + hours(200));  // expired long ago
  EXPECT_TRUE(scheduler.needs_rotation(lifetime));
}

}  // namespace
}  // namespace yurt::certs
