#include "src/apps/hub/upstream.hpp"

#include <memory>
#include <thread>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "src/apps/hub/errc.hpp"
#include "test/unit/kube/async_util.hpp"

namespace yurt::hub {
namespace {

namespace asio = boost::asio;
using kube::test::poll;
using kube::test::Task;

std::vector<ServerAddress> servers(int n) {
  std::vector<ServerAddress> out;
  for (int i = 0; i < n; ++i) {
    out.push_back({"https://10.0.0." + std::to_string(i + 1) + ":6443",
                   "10.0.0." + std::to_string(i + 1), 6443});
  }
  return out;
}

TEST(Upstream, NothingHealthyAtStart) {
  Upstream u(servers(2), LbMode::RoundRobin);
  EXPECT_FALSE(u.healthy());
  EXPECT_FALSE(u.pick());
}

TEST(Upstream, RoundRobinSkipsDownEndpoints) {
  Upstream u(servers(3), LbMode::RoundRobin);
  for (std::size_t i = 0; i < 3; ++i) {
    u.mark_up(i);
  }
  std::vector<std::size_t> seen;
  for (int k = 0; k < 6; ++k) {
    seen.push_back(*u.pick());
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 0U), 2);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1U), 2);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 2U), 2);
  u.mark_down(1, "test");
  for (int k = 0; k < 6; ++k) {
    EXPECT_NE(*u.pick(), 1U);
  }
  EXPECT_TRUE(u.healthy());
}

TEST(Upstream, PriorityPrefersTheFirstHealthy) {
  Upstream u(servers(3), LbMode::Priority);
  u.mark_up(2);
  u.mark_up(1);
  EXPECT_EQ(*u.pick(), 1U);
  EXPECT_EQ(*u.pick(), 1U);
  u.mark_up(0);
  EXPECT_EQ(*u.pick(), 0U);
  u.mark_down(0, "test");
  u.mark_down(1, "test");
  EXPECT_EQ(*u.pick(), 2U);
  u.mark_down(2, "test");
  EXPECT_FALSE(u.pick());
  EXPECT_FALSE(u.healthy());
}

TEST(Upstream, MarkDownFiresTrackedCallsOnTheirExecutor) {
  asio::io_context io;
  Upstream u(servers(2), LbMode::RoundRobin);
  u.mark_up(0);
  u.mark_up(1);
  auto on0 = std::make_shared<KillSwitch>();
  auto on1 = std::make_shared<KillSwitch>();
  auto t0 = u.track(0, io.get_executor(), on0);
  auto t1 = u.track(1, io.get_executor(), on1);
  u.mark_down(0, "probe failed");
  EXPECT_FALSE(on0->fired());  // posted, not run inline on the caller's thread
  poll(io);
  EXPECT_TRUE(on0->fired());
  EXPECT_FALSE(on1->fired());
}

TEST(Upstream, UntrackedCallsAreNotFired) {
  asio::io_context io;
  Upstream u(servers(1), LbMode::RoundRobin);
  u.mark_up(0);
  auto kill = std::make_shared<KillSwitch>();
  { auto tracked = u.track(0, io.get_executor(), kill); }
  u.mark_down(0, "x");
  poll(io);
  EXPECT_FALSE(kill->fired());
  // A switch destroyed before the post runs is simply skipped.
  u.mark_up(0);
  auto gone = std::make_shared<KillSwitch>();
  auto tracked = u.track(0, io.get_executor(), gone);
  u.mark_down(0, "x");
  gone.reset();
  EXPECT_NO_THROW(poll(io));
}

TEST(Upstream, KillSwitchCancelsTheCall) {
  asio::io_context io;
  auto kill = std::make_shared<KillSwitch>();
  bool aborted = false;
  asio::steady_timer timer(io, std::chrono::hours(1));
  timer.async_wait(asio::bind_cancellation_slot(kill->slot(), [&](boost::system::error_code ec) {
    aborted = ec == asio::error::operation_aborted;
  }));
  poll(io);
  kill->fire();
  poll(io);
  EXPECT_TRUE(aborted);
  EXPECT_TRUE(kill->fired());
}

TEST(Upstream, WaitHealthyWakesOnTheFirstHealthyEndpoint) {
  asio::io_context io;
  Upstream u(servers(2), LbMode::RoundRobin);
  bool woke = false;
  auto task = Task::spawn(io, [](Upstream& up, bool& flag) -> asio::awaitable<void> {
    co_await up.wait_healthy();
    flag = true;
  }(u, woke));
  poll(io);
  EXPECT_FALSE(woke);
  u.mark_down(1, "still down");
  poll(io);
  EXPECT_FALSE(woke);
  // From another thread, as the probes on the main thread do for waiters on workers.
  std::thread([&] { u.mark_up(1); }).join();
  poll(io);
  EXPECT_TRUE(woke);
  EXPECT_TRUE(task.done());
  task.rethrow();
}

TEST(Upstream, WaitHealthyReturnsAtOnceWhenHealthyAndIsCancellable) {
  asio::io_context io;
  Upstream u(servers(1), LbMode::RoundRobin);
  auto waiting = Task::spawn(io, u.wait_healthy());
  poll(io);
  EXPECT_FALSE(waiting.done());
  waiting.cancel();
  poll(io);
  EXPECT_TRUE(waiting.done());
  u.mark_up(0);
  auto immediate = Task::spawn(io, u.wait_healthy());
  poll(io);
  EXPECT_TRUE(immediate.done());
}

/// Answers probes from a script; records how many it got.
class ScriptedProber final : public Prober {
 public:
  std::vector<bool> results;
  std::size_t calls = 0;
  asio::awaitable<Result<void>> probe(ServerAddress, std::chrono::milliseconds) override {
    const bool ok = calls < results.size() ? results[calls] : results.back();
    ++calls;
    if (ok) {
      co_return Result<void>{};
    }
    co_return fail(Errc::NoUpstream, "readyz answered 500");
  }
};

TEST(Upstream, ProbesMarkUpAndDownAtOnce) {
  asio::io_context io;
  Upstream u(servers(1), LbMode::RoundRobin);
  ScriptedProber prober;
  prober.results = {true, false, true};
  auto task = Task::spawn(
      io, u.run_probe(0, prober, std::chrono::milliseconds(1), std::chrono::milliseconds(100)));
  // Each probe result is applied before the next interval starts.
  while (prober.calls < 1) {
    io.run_one();
  }
  EXPECT_TRUE(u.endpoint_healthy(0));
  while (prober.calls < 2) {
    io.run_one();
  }
  EXPECT_FALSE(u.endpoint_healthy(0));
  while (prober.calls < 3) {
    io.run_one();
  }
  EXPECT_TRUE(u.endpoint_healthy(0));
  task.cancel();
  poll(io);
  EXPECT_TRUE(task.done());
}

TEST(Upstream, RendersHealthPerServer) {
  Upstream u(servers(2), LbMode::RoundRobin);
  u.mark_up(1);
  PromWriter w;
  u.render(w);
  EXPECT_NE(w.str().find("yurthub_upstream_healthy{server=\"https://10.0.0.1:6443\"} 0\n"),
            std::string::npos);
  EXPECT_NE(w.str().find("yurthub_upstream_healthy{server=\"https://10.0.0.2:6443\"} 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace yurt::hub
