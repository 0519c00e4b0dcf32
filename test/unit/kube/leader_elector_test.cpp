#include "yurt/kube/leader_elector.hpp"

#include <deque>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "test/fakes/fake_clock.hpp"
#include "test/fakes/fake_timers.hpp"
#include "test/unit/kube/async_util.hpp"

namespace yurt::kube {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using test::poll;
using test::Task;
namespace asio = boost::asio;

// One Lease in memory with the apiserver's rules: create fails if it exists, update needs the
// current resourceVersion (else 409), every write bumps it.
class FakeLeaseLock final : public LeaseLock {
 public:
  explicit FakeLeaseLock(asio::any_io_executor ex) : executor_(std::move(ex)) {}

  asio::awaitable<Result<json>> get() override {
    ++gets;
    auto stepped = co_await step();
    if (!stepped) {
      co_return stepped.error();
    }
    if (!lease) {
      co_return to_error(not_found({"coordination.k8s.io", "leases"}, "ctrl"));
    }
    co_return *lease;
  }

  asio::awaitable<Result<json>> create(json object) override {
    ++creates;
    auto stepped = co_await step();
    if (!stepped) {
      co_return stepped.error();
    }
    if (lease) {
      co_return to_error(already_exists({"coordination.k8s.io", "leases"}, "ctrl"));
    }
    object["metadata"]["resourceVersion"] = std::to_string(++rv);
    lease = object;
    co_return object;
  }

  asio::awaitable<Result<json>> update(json object) override {
    ++updates;
    auto stepped = co_await step();
    if (!stepped) {
      co_return stepped.error();
    }
    if (!lease) {
      co_return to_error(not_found({"coordination.k8s.io", "leases"}, "ctrl"));
    }
    if (object["metadata"].value("resourceVersion", "") != std::to_string(rv)) {
      co_return to_error(
          conflict({"coordination.k8s.io", "leases"}, "ctrl", "the object has been modified"));
    }
    object["metadata"]["resourceVersion"] = std::to_string(++rv);
    lease = object;
    ++writes;
    co_return object;
  }

  [[nodiscard]] std::string describe() const override { return "kube-system/ctrl"; }
  [[nodiscard]] std::string namespace_name() const override { return "kube-system"; }
  [[nodiscard]] std::string name() const override { return "ctrl"; }

  [[nodiscard]] LeaderElectionRecord record() const { return *record_from_lease(*lease); }

  std::optional<json> lease;
  std::uint64_t rv = 1;
  int gets = 0;
  int creates = 0;
  int updates = 0;
  int writes = 0;
  bool failing = false;  // every call fails with 503
  bool hanging = false;  // every call waits until cancelled (a partitioned network)

 private:
  asio::awaitable<Result<void>> step() {
    co_await asio::post(executor_, asio::use_awaitable);
    if (hanging) {
      asio::steady_timer forever(executor_, asio::steady_timer::time_point::max());
      co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return Error(std::make_error_code(std::errc::operation_canceled), "cancelled");
    }
    if (failing) {
      co_return to_error(service_unavailable("apiserver is restarting"));
    }
    co_return Result<void>{};
  }

  asio::any_io_executor executor_;
};

LeaderElectionConfig config(std::string identity, bool release = true) {
  LeaderElectionConfig c;
  c.identity = std::move(identity);
  c.release_on_cancel = release;
  return c;
}

// One contender: its own clock (wall clocks of machines disagree) and elector.
struct Contender {
  Contender(asio::io_context& io,
            FakeLeaseLock& lock,
            LeaderElectionConfig cfg,
            std::chrono::seconds wall_skew = 0s,
            std::uint64_t seed = 1)
      : timers(io.get_executor(), clock),
        elector(lock, std::move(cfg), clock, timers.sleep_function(), seed),
        io_(io) {
    clock.set(clock.now() + wall_skew);
  }

  void start(std::function<asio::awaitable<void>()> lead = {}) {
    LeaderCallbacks callbacks;
    callbacks.lead = std::move(lead);
    callbacks.on_stopped_leading = [this] { ++stopped; };
    callbacks.on_new_leader = [this](const std::string& id) { leaders.push_back(id); };
    task = Task::spawn(io_, elector.run(std::move(callbacks)));
  }

  FakeClock clock;
  FakeTimers timers;
  LeaderElector elector;
  Task task;
  int stopped = 0;
  std::vector<std::string> leaders;

 private:
  asio::io_context& io_;
};

class LeaderElectorTest : public ::testing::Test {
 protected:
  // Moves every contender's clock by `d` (in 100 ms steps, so timers fire in order).
  void advance(std::chrono::milliseconds d) {
    for (auto t = 0ms; t < d; t += 100ms) {
      for (auto* c : contenders_) {
        c->timers.advance(100ms);
      }
      poll(io_);
    }
  }

  void TearDown() override {
    for (auto* c : contenders_) {
      c->task.cancel();
    }
    poll(io_);
  }

  Contender& add(LeaderElectionConfig cfg, std::chrono::seconds skew = 0s) {
    owned_.push_back(
        std::make_unique<Contender>(io_, lock_, std::move(cfg), skew, owned_.size() + 1));
    contenders_.push_back(owned_.back().get());
    return *owned_.back();
  }

  asio::io_context io_;
  FakeLeaseLock lock_{io_.get_executor()};
  std::vector<std::unique_ptr<Contender>> owned_;
  std::vector<Contender*> contenders_;
};

TEST_F(LeaderElectorTest, FirstContenderCreatesTheLease) {
  auto& a = add(config("a"));
  bool leading = false;
  a.start([&]() -> asio::awaitable<void> {
    leading = true;
    asio::steady_timer forever(io_.get_executor(), asio::steady_timer::time_point::max());
    co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
  });
  poll(io_);
  EXPECT_EQ(a.elector.state(), LeaderState::Leading);
  EXPECT_TRUE(leading);
  ASSERT_TRUE(lock_.lease);
  const auto& spec = (*lock_.lease)["spec"];
  EXPECT_EQ(spec["holderIdentity"], "a");
  EXPECT_EQ(spec["leaseDurationSeconds"], 15);
  EXPECT_EQ(spec["leaseTransitions"], 0);
  EXPECT_EQ(spec["acquireTime"], spec["renewTime"]);
  EXPECT_EQ(spec["renewTime"], "2024-01-01T00:00:00.000000Z");  // MicroTime: 6 digits
  EXPECT_EQ((*lock_.lease)["kind"], "Lease");
  EXPECT_EQ((*lock_.lease)["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ((*lock_.lease)["metadata"]["namespace"], "kube-system");
  EXPECT_EQ(a.leaders, std::vector<std::string>{"a"});
}

TEST_F(LeaderElectorTest, LeaderRenewsEveryRetryPeriodOnTheFastPath) {
  auto& a = add(config("a"));
  a.start();
  poll(io_);
  const auto acquired = lock_.record().acquire_time;
  const int gets = lock_.gets;
  advance(2100ms);
  EXPECT_EQ(lock_.writes, 1);
  EXPECT_EQ(lock_.gets, gets);  // renewed with one PUT on the observed record
  EXPECT_EQ(lock_.record().acquire_time, acquired);
  EXPECT_EQ(*lock_.record().renew_time, *acquired + 2s);
  advance(10s);
  EXPECT_EQ(lock_.writes, 6);
  EXPECT_EQ(lock_.record().lease_transitions, 0);
}

TEST_F(LeaderElectorTest, StandbyTakesOverOnlyAfterTheLeaseExpiresFromItsOwnObservation) {
  auto& a = add(config("a", /*release=*/false));
  // b's wall clock is an hour behind: a's renewTimes look like they are in the future. Only
  // b's monotonic observation counts.
  auto& b = add(config("b"), -3600s);
  a.start();
  poll(io_);
  b.start();
  advance(30s);
  EXPECT_EQ(a.elector.state(), LeaderState::Leading);
  EXPECT_EQ(b.elector.state(), LeaderState::Acquiring);
  EXPECT_EQ(b.elector.observed_leader(), "a");

  a.task.cancel();  // killed: no release
  poll(io_);
  EXPECT_EQ(a.elector.state(), LeaderState::Stopped);
  EXPECT_EQ(lock_.record().holder_identity, "a");
  const auto last_renewal = b.clock.monotonic();  // a renewed at most 2 s before this
  std::optional<std::chrono::steady_clock::duration> took_over;
  for (int i = 0; i < 300 && !took_over; ++i) {
    advance(100ms);
    if (b.elector.is_leader()) {
      took_over = b.clock.monotonic() - last_renewal;
    }
  }
  ASSERT_TRUE(took_over);
  EXPECT_GE(*took_over, 15s - 2s);      // never before the lease could have expired
  EXPECT_LE(*took_over, 15s + 4400ms);  // at the latest one jittered retry after
  const auto r = lock_.record();
  EXPECT_EQ(r.holder_identity, "b");
  EXPECT_EQ(r.lease_transitions, 1);
  EXPECT_EQ(r.acquire_time, r.renew_time);
  EXPECT_EQ(b.leaders, (std::vector<std::string>{"a", "b"}));
}

TEST_F(LeaderElectorTest, StandbyAheadInWallTimeStillWaitsWhileTheLeaderRenews) {
  auto& a = add(config("a"));
  auto& b = add(config("b"), 3600s);  // a's renewTimes look an hour old to b
  a.start();
  poll(io_);
  b.start();
  advance(60s);
  EXPECT_TRUE(a.elector.is_leader());
  EXPECT_FALSE(b.elector.is_leader());
  EXPECT_EQ(lock_.record().holder_identity, "a");
}

TEST_F(LeaderElectorTest, GracefulStopReleasesAndTheSuccessorNeedNotWait) {
  auto& a = add(config("a"));
  auto& b = add(config("b"));
  bool lead_cancelled = false;
  a.start([&]() -> asio::awaitable<void> {
    asio::steady_timer forever(io_.get_executor(), asio::steady_timer::time_point::max());
    co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
    lead_cancelled = true;
  });
  poll(io_);
  b.start();
  advance(5s);
  a.task.cancel(asio::cancellation_type::total);
  poll(io_);
  EXPECT_TRUE(a.task.done());
  EXPECT_TRUE(lead_cancelled);
  EXPECT_EQ(a.stopped, 1);
  EXPECT_EQ(a.elector.state(), LeaderState::Stopped);
  auto released = lock_.record();
  EXPECT_EQ(released.holder_identity, "");
  EXPECT_EQ(released.lease_duration_seconds, 1);
  EXPECT_EQ(released.lease_transitions, 0);
  EXPECT_FALSE((*lock_.lease)["spec"].contains("holderIdentity"));

  advance(4500ms);  // one jittered retry period at most, far less than the 15 s lease
  EXPECT_TRUE(b.elector.is_leader());
  EXPECT_EQ(lock_.record().lease_transitions, 1);
}

TEST_F(LeaderElectorTest, StepsDownWhenRenewalsFailForTheRenewDeadline) {
  auto& a = add(config("a"));
  bool lead_cancelled = false;
  a.start([&]() -> asio::awaitable<void> {
    asio::steady_timer forever(io_.get_executor(), asio::steady_timer::time_point::max());
    co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
    lead_cancelled = true;
  });
  poll(io_);
  advance(2100ms);
  ASSERT_EQ(lock_.writes, 1);
  const auto last_renewal = a.clock.monotonic();
  lock_.failing = true;
  std::optional<std::chrono::steady_clock::duration> stepped_down;
  for (int i = 0; i < 200 && !stepped_down; ++i) {
    advance(100ms);
    if (!a.elector.is_leader()) {
      stepped_down = a.clock.monotonic() - last_renewal;
    }
  }
  ASSERT_TRUE(stepped_down);
  // Renewal attempts start 2 s after the last success and give up 10 s later: well within the
  // 15 s others wait.
  EXPECT_LE(*stepped_down, 12s + 200ms);
  EXPECT_LT(*stepped_down, 15s);
  EXPECT_TRUE(lead_cancelled);
  EXPECT_EQ(a.stopped, 1);
  EXPECT_TRUE(a.task.done());
  EXPECT_EQ(lock_.record().holder_identity, "a");  // lost, not released
}

TEST_F(LeaderElectorTest, HungRequestsCannotKeepAStaleLeader) {
  auto& a = add(config("a"));
  a.start();
  poll(io_);
  lock_.hanging = true;
  advance(13s);
  EXPECT_FALSE(a.elector.is_leader());
  EXPECT_TRUE(a.task.done());
}

TEST_F(LeaderElectorTest, LosingTheRaceForAFreeLeaseIsAConflict) {
  auto& a = add(config("a"));
  auto& b = add(config("b"));
  // A released lease both see free at the same moment.
  json lease = {
      {"apiVersion", "coordination.k8s.io/v1"},
      {"kind", "Lease"},
      {"metadata", {{"name", "ctrl"}, {"namespace", "kube-system"}, {"resourceVersion", "1"}}},
      {"spec", {{"leaseDurationSeconds", 1}, {"leaseTransitions", 3}}}};
  lock_.lease = lease;
  bool a_won = false;
  bool b_won = false;
  auto ta = Task::spawn(io_, [](LeaderElector& e, bool& won) -> asio::awaitable<void> {
    won = co_await e.try_acquire_or_renew();
  }(a.elector, a_won));
  auto tb = Task::spawn(io_, [](LeaderElector& e, bool& won) -> asio::awaitable<void> {
    won = co_await e.try_acquire_or_renew();
  }(b.elector, b_won));
  poll(io_);
  ASSERT_TRUE(ta.done() && tb.done());
  EXPECT_NE(a_won, b_won);
  EXPECT_EQ(lock_.writes, 1);
  EXPECT_EQ(lock_.record().lease_transitions, 4);
  EXPECT_EQ(lock_.record().holder_identity, a_won ? "a" : "b");
}

TEST_F(LeaderElectorTest, LeadReturningStepsDownAndReleases) {
  auto& a = add(config("a"));
  a.start([]() -> asio::awaitable<void> { co_return; });
  poll(io_);
  EXPECT_TRUE(a.task.done());
  EXPECT_EQ(a.stopped, 1);
  EXPECT_EQ(lock_.record().holder_identity, "");
}

TEST(LeaderElectionConfig, ValidationFollowsClientGo) {
  EXPECT_TRUE(config("a").validate());
  auto no_id = config("");
  EXPECT_EQ(no_id.validate().error(), make_error_code(Errc::InvalidConfig));
  auto c = config("a");
  c.renew_deadline = 15s;
  EXPECT_FALSE(c.validate());
  c = config("a");
  c.renew_deadline = 2s;  // not > 1.2 × 2 s
  EXPECT_FALSE(c.validate());
  c = config("a");
  c.retry_period = 0s;
  EXPECT_FALSE(c.validate());
  FakeClock clock;
  asio::io_context io;
  FakeLeaseLock lock(io.get_executor());
  EXPECT_THROW(LeaderElector(lock, no_id, clock, steady_sleep(), 1), std::invalid_argument);
}

TEST(LeaderElectionRecord, RoundTripsThroughALease) {
  LeaderElectionRecord r;
  r.holder_identity = "node-1_abc";
  r.lease_duration_seconds = 15;
  r.acquire_time = *parse_rfc3339("2026-07-24T10:00:00.000001Z");
  r.renew_time = *parse_rfc3339("2026-07-24T10:03:12.418221Z");
  r.lease_transitions = 4;
  json lease = {{"spec", {{"strategy", "OldestEmulationVersion"}}}};
  apply_record(lease, r);
  EXPECT_EQ(lease["spec"]["renewTime"], "2026-07-24T10:03:12.418221Z");
  EXPECT_EQ(lease["spec"]["strategy"], "OldestEmulationVersion");  // kept
  auto back = record_from_lease(lease);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, r);

  EXPECT_TRUE(record_from_lease(json{{"metadata", {}}}));  // no spec: empty record
  for (const char* bad : {R"({"spec":[]})", R"({"spec":{"holderIdentity":1}})",
                          R"({"spec":{"leaseDurationSeconds":"15"}})",
                          R"({"spec":{"renewTime":"yesterday"}})", R"("lease")"}) {
    auto e = record_from_lease(json::parse(bad));
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error(), make_error_code(Errc::Malformed)) << bad;
  }
}

}  // namespace
}  // namespace yurt::kube
