#include "yurt/kube/reflector.hpp"

#include <map>
#include <random>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "yurt/kube/informer.hpp"
#include "yurt/kube/object_store.hpp"

#include "test/fakes/fake_clock.hpp"
#include "test/fakes/fake_lister_watcher.hpp"
#include "test/fakes/fake_timers.hpp"
#include "test/unit/kube/async_util.hpp"

namespace yurt::kube {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using test::poll;
using test::Task;

json cm(const std::string& name, const std::string& value = "v", const std::string& ns = "ns") {
  return {{"kind", "ConfigMap"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"data", {{"k", value}}}};
}

// name → resourceVersion, for comparing a store with the fake's truth.
std::map<std::string, std::string> versions(const ObjectStore& store) {
  std::map<std::string, std::string> out;
  for (const auto& key : store.keys()) {
    out[key] = resource_version_of(*store.get(key));
  }
  return out;
}

std::map<std::string, std::string> versions(const FakeListerWatcher& lw) {
  std::map<std::string, std::string> out;
  for (const auto& [key, object] : lw.objects()) {
    out[key] = resource_version_of(object);
  }
  return out;
}

Error unavailable() {
  return to_error(service_unavailable("apiserver is restarting"));
}

class ReflectorTest : public ::testing::Test {
 protected:
  void start() { task_ = Task::spawn(io_, reflector_.run()); }

  void TearDown() override {
    task_.cancel();
    poll(io_);
    EXPECT_TRUE(task_.done());
    task_.rethrow();
  }

  // Advances time past the "very short watch" threshold so clean ends count as normal.
  void pass_time() {
    timers_.advance(2s);
    poll(io_);
  }

  boost::asio::io_context io_;
  FakeClock clock_;
  FakeTimers timers_{io_.get_executor(), clock_};
  FakeListerWatcher lw_{io_.get_executor()};
  ObjectStore store_;
  Reflector reflector_{lw_, store_, clock_, timers_.sleep_function(),
                       ReflectorOptions{.name = "test"}};
  Task task_;
};

TEST_F(ReflectorTest, ListsAnyVersionThenWatchesFromTheListsVersion) {
  lw_.add(cm("a"));
  lw_.add(cm("b"));
  EXPECT_EQ(reflector_.state(), ReflectorState::Idle);
  start();
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::Watching);
  EXPECT_TRUE(reflector_.has_synced());
  EXPECT_EQ(lw_.list_requests, std::vector<std::string>{"0"});
  EXPECT_EQ(lw_.watch_requests, std::vector<std::string>{lw_.resource_version()});
  EXPECT_EQ(versions(store_), versions(lw_));

  lw_.add(cm("c"));
  lw_.modify(cm("a", "changed"));
  lw_.remove("ns/b");
  poll(io_);
  EXPECT_EQ(versions(store_), versions(lw_));
  EXPECT_EQ((*store_.get("ns/a"))["data"]["k"], "changed");
  EXPECT_EQ(reflector_.last_sync_resource_version(), lw_.resource_version());
  EXPECT_EQ(reflector_.stats().events, 3U);
}

TEST_F(ReflectorTest, WatchTimeoutsAreSpreadOverFiveToTenMinutes) {
  start();
  poll(io_);
  for (int i = 0; i < 20; ++i) {
    pass_time();
    lw_.end_watches();
    poll(io_);
  }
  ASSERT_EQ(lw_.watch_timeouts.size(), 21U);
  std::set<std::chrono::seconds> distinct;
  for (auto t : lw_.watch_timeouts) {
    EXPECT_GE(t, 300s);
    EXPECT_LT(t, 600s);
    distinct.insert(t);
  }
  EXPECT_GT(distinct.size(), 5U);
}

TEST_F(ReflectorTest, BookmarksMoveTheResourceVersionWithoutTouchingTheStore) {
  lw_.add(cm("a"));
  start();
  poll(io_);
  const auto listed = reflector_.last_sync_resource_version();
  lw_.bookmark();
  poll(io_);
  EXPECT_NE(reflector_.last_sync_resource_version(), listed);
  EXPECT_EQ(reflector_.last_sync_resource_version(), lw_.resource_version());
  EXPECT_EQ(reflector_.stats().bookmarks, 1U);
  EXPECT_EQ(store_.size(), 1U);

  // The server ends the watch: we resume from the bookmark's RV, without a relist.
  lw_.end_watches();
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::Watching);
  EXPECT_EQ(lw_.watch_requests.back(), lw_.resource_version());
  EXPECT_EQ(lw_.list_requests.size(), 1U);
}

TEST_F(ReflectorTest, ErrorEvent410RelistsConsistentlyAndCatchesUp) {
  lw_.add(cm("a"));
  lw_.add(cm("b"));
  start();
  poll(io_);
  // The watch expires, and more happens before we list again.
  lw_.reset_watch();
  lw_.add(cm("c"));
  lw_.remove("ns/a");
  poll(io_);
  EXPECT_EQ(reflector_.stats().gone, 1U);
  EXPECT_EQ(lw_.list_requests, (std::vector<std::string>{"0", ""}));
  EXPECT_EQ(reflector_.state(), ReflectorState::Watching);
  EXPECT_EQ(versions(store_), versions(lw_));
  EXPECT_EQ(timers_.pending(), 0U);  // a first 410 relists at once
  EXPECT_EQ(reflector_.last_error(), make_error_code(Errc::Gone));
}

TEST_F(ReflectorTest, Http410OnWatchStartRelists) {
  lw_.add(cm("a"));
  start();
  poll(io_);
  pass_time();
  // The watch breaks; while we back off the history we would resume from is compacted.
  lw_.break_watches(Error(std::make_error_code(std::errc::connection_reset), "reset"));
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::BackingOff);
  lw_.add(cm("b"));
  lw_.compact();
  ASSERT_TRUE(timers_.advance_to_next());
  poll(io_);
  EXPECT_EQ(reflector_.stats().gone, 1U);
  EXPECT_EQ(lw_.list_requests.back(), "");
  EXPECT_EQ(reflector_.state(), ReflectorState::Watching);
  EXPECT_EQ(versions(store_), versions(lw_));
}

TEST_F(ReflectorTest, A410RightAfterARelistBacksOff) {
  start();
  poll(io_);
  lw_.fail_next_watch(to_error(expired("too old resource version")));
  lw_.reset_watch();
  poll(io_);
  // ERROR 410 → relist at once → the new watch 410s again before any event → back off.
  EXPECT_EQ(reflector_.stats().gone, 2U);
  EXPECT_EQ(reflector_.state(), ReflectorState::BackingOff);
  EXPECT_EQ(timers_.pending(), 1U);
  ASSERT_TRUE(timers_.advance_to_next());
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::Watching);
  EXPECT_EQ(lw_.list_requests, (std::vector<std::string>{"0", "", ""}));
}

TEST_F(ReflectorTest, ListFailuresBackOffExponentiallyWithClientGoConstants) {
  for (int i = 0; i < 4; ++i) {
    lw_.fail_next_list(unavailable());
  }
  start();
  poll(io_);
  for (int attempt = 0; attempt < 4; ++attempt) {
    ASSERT_EQ(reflector_.state(), ReflectorState::BackingOff) << attempt;
    EXPECT_FALSE(reflector_.has_synced());
    ASSERT_EQ(timers_.requested().size(), static_cast<std::size_t>(attempt + 1));
    // 800 ms × 2^attempt, less at most half (the base Backoff's equal jitter).
    const auto base = 800ms * (1 << attempt);
    EXPECT_LE(timers_.requested().back(), base) << attempt;
    EXPECT_GE(timers_.requested().back(), base / 2) << attempt;
    ASSERT_TRUE(timers_.advance_to_next());
    poll(io_);
  }
  EXPECT_EQ(reflector_.state(), ReflectorState::Watching);
  EXPECT_TRUE(reflector_.has_synced());
  EXPECT_EQ(lw_.list_requests, std::vector<std::string>(5, "0"));
  EXPECT_EQ(reflector_.stats().failures, 4U);
}

TEST_F(ReflectorTest, BackoffIsCappedAtThirtySeconds) {
  for (int i = 0; i < 10; ++i) {
    lw_.fail_next_list(unavailable());
  }
  start();
  poll(io_);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(timers_.advance_to_next());
    poll(io_);
  }
  for (auto d : timers_.requested()) {
    EXPECT_LE(d, 30s);
  }
  EXPECT_GE(timers_.requested().back(), 15s);
}

TEST_F(ReflectorTest, WatchFailureBacksOffAndResumesFromTheLastVersion) {
  lw_.add(cm("a"));
  start();
  poll(io_);
  lw_.modify(cm("a", "x"));
  poll(io_);
  const auto seen = reflector_.last_sync_resource_version();
  lw_.break_watches(Error(std::make_error_code(std::errc::connection_reset), "reset by peer"));
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::BackingOff);
  lw_.modify(cm("a", "y"));  // happens while we are away; the resumed watch replays it
  ASSERT_TRUE(timers_.advance_to_next());
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::Watching);
  EXPECT_EQ(lw_.list_requests.size(), 1U);
  EXPECT_EQ(lw_.watch_requests.back(), seen);
  EXPECT_EQ((*store_.get("ns/a"))["data"]["k"], "y");
}

TEST_F(ReflectorTest, WatchRequestFailureBacksOff) {
  start();
  poll(io_);
  pass_time();
  lw_.fail_next_watch(to_error(too_many_requests("slow down", 1)));
  lw_.end_watches();
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::BackingOff);
  EXPECT_EQ(reflector_.last_error(), make_error_code(Errc::TooManyRequests));
  ASSERT_TRUE(timers_.advance_to_next());
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::Watching);
  EXPECT_EQ(lw_.list_requests.size(), 1U);
}

TEST_F(ReflectorTest, VeryShortWatchWithoutEventsBacksOff) {
  start();
  poll(io_);
  lw_.end_watches();  // no time has passed, no event was received
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::BackingOff);
  EXPECT_EQ(reflector_.stats().failures, 1U);
  ASSERT_TRUE(timers_.advance_to_next());
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::Watching);
}

TEST_F(ReflectorTest, SkipsObjectsWithoutAKeyAndSurvivesMalformedStreams) {
  start();
  poll(io_);
  lw_.inject(std::optional<WatchEvent>(WatchEvent{EventType::Added, json{{"metadata", {}}}}));
  poll(io_);
  EXPECT_EQ(store_.size(), 0U);
  EXPECT_EQ(reflector_.stats().events, 0U);
  lw_.inject(fail(Errc::Malformed, "watch event 3: not JSON"));
  poll(io_);
  EXPECT_EQ(reflector_.state(), ReflectorState::BackingOff);
  lw_.add(cm("a"));
  ASSERT_TRUE(timers_.advance_to_next());
  poll(io_);
  EXPECT_EQ(versions(store_), versions(lw_));
}

TEST_F(ReflectorTest, GracefulCancellationStopsAWatchAtOnce) {
  start();
  poll(io_);
  ASSERT_EQ(reflector_.state(), ReflectorState::Watching);
  task_.cancel(boost::asio::cancellation_type::total);
  poll(io_);
  EXPECT_TRUE(task_.done());
  EXPECT_EQ(reflector_.state(), ReflectorState::Stopped);
}

TEST_F(ReflectorTest, CancellationDuringBackoffStops) {
  lw_.fail_next_list(unavailable());
  start();
  poll(io_);
  ASSERT_EQ(reflector_.state(), ReflectorState::BackingOff);
  task_.cancel(boost::asio::cancellation_type::total);
  poll(io_);
  EXPECT_TRUE(task_.done());
  EXPECT_EQ(reflector_.state(), ReflectorState::Stopped);
  EXPECT_EQ(timers_.pending(), 0U);
}

// ---- Informer: handler view and final state ----

// What a handler would build from the callbacks; flags any add of a known key or any
// update/delete of an unknown one.
struct Replay {
  std::map<std::string, std::string> state;  // key → rv
  int violations = 0;
  int adds = 0;
  int updates = 0;
  int deletes = 0;

  ResourceEventHandlers handlers() {
    ResourceEventHandlers h;
    h.on_add = [this](const json& o) {
      ++adds;
      auto key = *object_key(o);
      violations += state.contains(key) ? 1 : 0;
      state[key] = resource_version_of(o);
    };
    h.on_update = [this](const json& old_object, const json& new_object) {
      ++updates;
      auto key = *object_key(new_object);
      violations += (!state.contains(key) || state[key] != resource_version_of(old_object)) ? 1 : 0;
      state[key] = resource_version_of(new_object);
    };
    h.on_delete = [this](const json& o) {
      ++deletes;
      auto key = *object_key(o);
      violations += state.erase(key) == 1 ? 0 : 1;
    };
    return h;
  }
};

class InformerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    task_.cancel();
    poll(io_);
    EXPECT_TRUE(task_.done());
    task_.rethrow();
  }

  boost::asio::io_context io_;
  FakeClock clock_;
  FakeTimers timers_{io_.get_executor(), clock_};
  FakeListerWatcher lw_{io_.get_executor()};
  Informer informer_{io_.get_executor(), lw_, clock_, timers_.sleep_function(),
                     ReflectorOptions{.name = "informer-test"}};
  Replay replay_;
  Task task_;
};

TEST_F(InformerTest, RelistIsReportedAsTheDifference) {
  lw_.add(cm("a"));
  lw_.add(cm("b"));
  lw_.add(cm("same"));
  informer_.add_handlers(replay_.handlers());
  bool synced = false;
  auto waiter = Task::spawn(io_, [](Informer& i, bool& s) -> boost::asio::awaitable<void> {
    s = co_await i.wait_for_sync();
  }(informer_, synced));
  task_ = Task::spawn(io_, informer_.run());
  poll(io_);
  EXPECT_TRUE(synced);
  EXPECT_TRUE(informer_.has_synced());
  EXPECT_EQ(replay_.adds, 3);

  timers_.advance(2s);
  lw_.break_watches(Error(std::make_error_code(std::errc::connection_reset), "reset"));
  poll(io_);
  lw_.modify(cm("a", "new"));
  lw_.remove("ns/b");
  lw_.add(cm("c"));
  lw_.compact();  // the resumed watch gets 410: the changes arrive through a relist
  ASSERT_TRUE(timers_.advance_to_next());
  poll(io_);
  EXPECT_EQ(informer_.reflector().stats().gone, 1U);
  EXPECT_EQ(replay_.adds, 4);     // + c
  EXPECT_EQ(replay_.updates, 1);  // a (not "same": unchanged)
  EXPECT_EQ(replay_.deletes, 1);  // b
  EXPECT_EQ(replay_.violations, 0);
  EXPECT_EQ(replay_.state, versions(lw_));
  EXPECT_EQ(versions(informer_.store()), versions(lw_));
}

TEST_F(InformerTest, WaitForSyncReturnsFalseWhenCancelled) {
  lw_.fail_next_list(unavailable());
  bool synced = true;
  auto waiter = Task::spawn(io_, [](Informer& i, bool& s) -> boost::asio::awaitable<void> {
    s = co_await i.wait_for_sync();
  }(informer_, synced));
  task_ = Task::spawn(io_, informer_.run());
  poll(io_);
  EXPECT_FALSE(waiter.done());
  waiter.cancel();
  poll(io_);
  EXPECT_TRUE(waiter.done());
  EXPECT_FALSE(synced);
}

// A long random mix of changes and faults; whatever happens, the store ends equal to the truth
// and the handlers' view never saw a duplicate add or a phantom update/delete.
TEST_F(InformerTest, NoLostOrDuplicatedFinalStateUnderRandomFaults) {
  informer_.add_handlers(replay_.handlers());
  task_ = Task::spawn(io_, informer_.run());
  std::mt19937 random(42);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  for (int step = 0; step < 2000; ++step) {
    const std::string name = "o" + std::to_string(pick(30));
    switch (pick(12)) {
      case 0:
      case 1:
      case 2:
        lw_.add(cm(name, std::to_string(step)));
        break;
      case 3:
      case 4:
        lw_.modify(cm(name, std::to_string(step)));
        break;
      case 5:
      case 6:
        lw_.remove("ns/" + name);
        break;
      case 7:
        lw_.bookmark();
        break;
      case 8:
        lw_.reset_watch();
        break;
      case 9:
        timers_.advance(std::chrono::milliseconds(pick(3000)));
        lw_.end_watches();
        break;
      case 10:
        lw_.break_watches(Error(std::make_error_code(std::errc::connection_reset), "reset"));
        break;
      case 11:
        if (pick(2) == 0) {
          lw_.fail_next_list(unavailable());
        } else {
          lw_.compact();
        }
        break;
    }
    if (pick(3) == 0) {
      poll(io_);
    }
    if (pick(5) == 0) {
      timers_.advance_to_next();
    }
  }
  // Let it settle: wake any backoff until it watches, then deliver what is pending.
  for (int i = 0; i < 20 && informer_.reflector().state() != ReflectorState::Watching; ++i) {
    timers_.advance_to_next();
    poll(io_);
  }
  poll(io_);
  ASSERT_EQ(informer_.reflector().state(), ReflectorState::Watching);
  EXPECT_GT(informer_.reflector().stats().gone, 10U);
  EXPECT_EQ(versions(informer_.store()), versions(lw_));
  EXPECT_EQ(replay_.state, versions(lw_));
  EXPECT_EQ(replay_.violations, 0);
}

// ---- ObjectStore ----

TEST(ObjectStore, ReplaceAddUpdateRemoveAndNamespaces) {
  ObjectStore store;
  store.replace({cm("a"), cm("b"), cm("x", "v", "other"), json{{"metadata", {}}}}, "10");
  EXPECT_EQ(store.size(), 3U);
  EXPECT_EQ(store.resource_version(), "10");
  EXPECT_EQ(store.keys(), (std::vector<std::string>{"ns/a", "ns/b", "other/x"}));
  EXPECT_EQ(store.list("ns").size(), 2U);
  EXPECT_EQ(store.list("other").size(), 1U);
  EXPECT_EQ(store.list("n").size(), 0U);

  auto changed = cm("a", "changed");
  changed["metadata"]["resourceVersion"] = "11";
  store.update(changed);
  EXPECT_EQ((*store.get("ns/a"))["data"]["k"], "changed");
  EXPECT_EQ(store.resource_version(), "11");
  store.remove(cm("b"));
  EXPECT_EQ(store.get("ns/b"), nullptr);
  store.remove(cm("never"));
  store.add(json{{"metadata", {{"name", 5}}}});
  EXPECT_EQ(store.size(), 2U);

  auto node = json{{"kind", "Node"}, {"metadata", {{"name", "n1"}}}};
  store.add(node);
  EXPECT_NE(store.get("n1"), nullptr);
}

TEST(ObjectStore, SnapshotsDoNotChangeUnderLaterWrites) {
  ObjectStore store;
  store.replace({cm("a"), cm("b")}, "1");
  auto before = store.snapshot();
  auto a_before = store.get("ns/a");
  store.update(cm("a", "new"));
  store.remove(cm("b"));
  store.add(cm("c"));
  EXPECT_EQ(before->size(), 2U);
  EXPECT_EQ((*before->at("ns/a"))["data"]["k"], "v");
  EXPECT_EQ((*a_before)["data"]["k"], "v");
  EXPECT_EQ(store.size(), 2U);
  auto after = store.snapshot();
  EXPECT_TRUE(after->contains("ns/c"));
  EXPECT_FALSE(after->contains("ns/b"));
}

}  // namespace
}  // namespace yurt::kube
