// NodeLifecycle's decisions, driven by a FakeClock: a small simulation applies each decision to
// in-memory Node objects the way LifecycleController applies them to the apiserver.
#include "src/apps/controller/node_lifecycle.hpp"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "yurt/kube/time.hpp"

#include "test/fakes/fake_clock.hpp"

namespace yurt::controller {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json condition(const std::string& type, const std::string& status, const std::string& heartbeat) {
  return {{"type", type},
          {"status", status},
          {"reason", "Kubelet" + status},
          {"message", "kubelet says " + status},
          {"lastHeartbeatTime", heartbeat},
          {"lastTransitionTime", "2023-12-31T00:00:00Z"}};
}

json make_node(const std::string& name, const std::string& zone = "") {
  json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata",
                {{"name", name},
                 {"uid", "uid-" + name},
                 {"resourceVersion", "1"},
                 {"creationTimestamp", "2023-12-01T00:00:00Z"},
                 {"labels", {{"kubernetes.io/hostname", name}}},
                 {"annotations", json::object()}}},
               {"spec", json::object()},
               {"status",
                {{"conditions", json::array({condition("MemoryPressure", "False", "h0"),
                                             condition("DiskPressure", "False", "h0"),
                                             condition("PIDPressure", "False", "h0"),
                                             condition("NetworkUnavailable", "False", "h0"),
                                             condition("Ready", "True", "h0")})}}}};
  if (!zone.empty()) {
    node["metadata"]["labels"]["topology.kubernetes.io/zone"] = zone;
  }
  return node;
}

json& ready_of(json& node) {
  for (auto& c : node["status"]["conditions"]) {
    if (c["type"] == "Ready") {
      return c;
    }
  }
  throw std::logic_error("no Ready");
}

/// Applies decisions to in-memory nodes as the driver does, counting pod markings.
struct Sim {
  explicit Sim(LifecycleSettings s = {}) : lc(s, clock) {}

  FakeClock clock;
  NodeLifecycle lc;
  std::map<std::string, json> nodes;
  std::map<std::string, int> pods_marked;
  std::map<std::string, int> status_writes;
  int beats = 0;

  void add(json node) {
    const std::string name = node["metadata"]["name"];
    lc.observe_node(node);
    nodes[name] = std::move(node);
  }
  json& node(const std::string& name) { return nodes.at(name); }

  /// The kubelet posts status: a new heartbeat, and Ready as given.
  void post(const std::string& name, const std::string& ready = "True") {
    auto& r = ready_of(node(name));
    r["lastHeartbeatTime"] = "beat-" + std::to_string(++beats);
    if (r["status"] != ready) {
      r["status"] = ready;
      r["lastTransitionTime"] = "t-" + std::to_string(beats);
    }
    lc.observe_node(node(name));
  }
  /// The kubelet renews its Lease only.
  void renew(const std::string& name) {
    lc.observe_lease({{"metadata", {{"name", name}, {"namespace", "kube-node-lease"}}},
                      {"spec", {{"renewTime", "renew-" + std::to_string(++beats)}}}});
  }
  void annotate(const std::string& name, const std::string& key, const std::string& value) {
    node(name)["metadata"]["annotations"][key] = value;
    lc.observe_node(node(name));
  }
  void unannotate(const std::string& name, const std::string& key) {
    node(name)["metadata"]["annotations"].erase(key);
    lc.observe_node(node(name));
  }

  NodeDecision reconcile(const std::string& name) {
    auto d = lc.evaluate(node(name));
    if (d.status_update) {
      ++status_writes[name];
      node(name) = *d.status_update;
      lc.observe_node(node(name));  // the watch event of our own write
      auto notes = d.notes;
      d = lc.evaluate(node(name));
      d.notes.insert(d.notes.begin(), notes.begin(), notes.end());
      d.status_update = node(name);
    }
    if (d.taints) {
      node(name)["spec"]["taints"] = to_json(*d.taints);
      lc.observe_node(node(name));
    }
    if (d.mark_pods_not_ready) {
      ++pods_marked[name];
      lc.pods_marked(name);
    }
    return d;
  }
  void reconcile_all() {
    for (auto& [name, n] : nodes) {
      (void)reconcile(name);
    }
  }
  /// The driver's monitor pass, with the nodes' own events just before (so zone states see the
  /// conditions as they are now) and the evaluation of every node after.
  void monitor() {
    reconcile_all();
    std::vector<std::shared_ptr<const json>> all;
    for (auto& [name, n] : nodes) {
      all.push_back(std::make_shared<const json>(n));
    }
    lc.update_zones(all);
    reconcile_all();
  }
  /// One NoExecute tainting pass; returns the nodes tainted.
  std::vector<std::string> taint_pass() {
    std::vector<std::string> tainted;
    for (const auto& name : lc.take_due_taints()) {
      auto t = lc.no_execute_taints(node(name));
      if (t) {
        node(name)["spec"]["taints"] = to_json(*t);
        lc.observe_node(node(name));
        tainted.push_back(name);
      }
      lc.taint_done(name, true);
    }
    return tainted;
  }
  [[nodiscard]] bool has(const std::string& name, std::string_view key, std::string_view effect) {
    return has_taint(taints_of(node(name)), key, effect);
  }
  [[nodiscard]] std::string ready(const std::string& name) {
    return condition_status(node(name), "Ready").value_or("<none>");
  }
};

constexpr auto kAutonomy = "node.beta.openyurt.io/autonomy";
constexpr auto kDuration = "node.openyurt.io/autonomy-duration";

// ---- health: grace period, heartbeats, Unknown conditions ---------------------------------------

TEST(NodeLifecycle, StaysReadyWhileHeartbeatsArriveWithinTheGracePeriod) {
  Sim sim;
  sim.add(make_node("n1"));
  for (int i = 0; i < 10; ++i) {
    sim.clock.advance(30s);
    sim.post("n1");
    auto d = sim.reconcile("n1");
    EXPECT_FALSE(d.status_update);
    EXPECT_FALSE(d.taints);
    EXPECT_FALSE(d.mark_pods_not_ready);
  }
  EXPECT_EQ(sim.ready("n1"), "True");
}

TEST(NodeLifecycle, ConditionsBecomeUnknownJustAfterTheGracePeriodWithUpstreamWording) {
  Sim sim;
  sim.add(make_node("n1"));
  sim.clock.advance(40s);
  auto d = sim.reconcile("n1");
  EXPECT_FALSE(d.status_update) << "exactly the grace period is not yet over";
  ASSERT_TRUE(d.recheck_after);
  EXPECT_EQ(*d.recheck_after, 1ms) << "re-evaluated just after the grace period ends";

  sim.clock.advance(1ms);
  d = sim.reconcile("n1");
  ASSERT_TRUE(d.status_update);
  EXPECT_EQ(sim.status_writes["n1"], 1);
  const std::string now = kube::format_rfc3339(
      std::chrono::time_point_cast<std::chrono::microseconds>(sim.clock.now()));
  for (const auto& c : sim.node("n1")["status"]["conditions"]) {
    if (c["type"] == "NetworkUnavailable") {
      EXPECT_EQ(c["status"], "False") << "the network plugin's condition is not ours";
      continue;
    }
    EXPECT_EQ(c["status"], "Unknown") << c.dump();
    EXPECT_EQ(c["reason"], "NodeStatusUnknown");
    EXPECT_EQ(c["message"], "Kubelet stopped posting node status.");
    EXPECT_EQ(c["lastHeartbeatTime"], "h0") << "the kubelet's heartbeat is kept";
    EXPECT_EQ(c["lastTransitionTime"], now);
  }
  // Writing it again would be pointless: Ready is Unknown already.
  sim.clock.advance(10s);
  EXPECT_FALSE(sim.lc.evaluate(sim.node("n1")).status_update);
}

TEST(NodeLifecycle, LeaseRenewalsAloneKeepANodeAlive) {
  Sim sim;
  sim.add(make_node("n1"));
  for (int i = 0; i < 30; ++i) {
    sim.clock.advance(10s);
    sim.renew("n1");
    EXPECT_FALSE(sim.reconcile("n1").status_update) << "after " << (i + 1) * 10 << " s";
  }
  // Renewals stop: 40 s later the node is Unknown.
  sim.clock.advance(41s);
  EXPECT_TRUE(sim.reconcile("n1").status_update);
}

TEST(NodeLifecycle, FreshnessIsWhenWeObservedAChangeNotTheNodesTimestamps) {
  Sim sim;
  auto node = make_node("n1");
  // A node whose clock is a year behind ours, and one a year ahead: neither matters.
  ready_of(node)["lastHeartbeatTime"] = "2023-01-01T00:00:00Z";
  sim.add(node);
  auto ahead = make_node("n2");
  ready_of(ahead)["lastHeartbeatTime"] = "2025-01-01T00:00:00Z";
  sim.add(ahead);
  sim.clock.set(sim.clock.now() + std::chrono::hours(24 * 400));  // our wall clock jumps
  sim.clock.advance(39s);
  EXPECT_FALSE(sim.reconcile("n1").status_update);
  EXPECT_FALSE(sim.reconcile("n2").status_update);
  // The same heartbeat seen again (a relist) is no heartbeat.
  sim.lc.observe_node(sim.node("n1"));
  sim.clock.advance(2s);
  EXPECT_TRUE(sim.reconcile("n1").status_update);
  EXPECT_TRUE(sim.reconcile("n2").status_update);
}

TEST(NodeLifecycle, ANodeThatNeverPostedStatusGetsTheStartupGraceAndNeverUpdatedConditions) {
  Sim sim;
  auto node = make_node("fresh");
  node["status"] = json::object();
  sim.add(node);
  sim.clock.advance(59s);
  EXPECT_FALSE(sim.reconcile("fresh").status_update);
  sim.clock.advance(2s);
  auto d = sim.reconcile("fresh");
  ASSERT_TRUE(d.status_update);
  const auto* ready = find_condition(sim.node("fresh"), "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ((*ready)["status"], "Unknown");
  EXPECT_EQ((*ready)["reason"], "NodeStatusNeverUpdated");
  EXPECT_EQ((*ready)["message"], "Kubelet never posted node status.");
  EXPECT_EQ((*ready)["lastHeartbeatTime"], "2023-12-01T00:00:00Z");
  EXPECT_EQ(sim.node("fresh")["status"]["conditions"].size(), 4U);
  // Our own write (Ready appearing) is not taken for a heartbeat.
  sim.clock.advance(1s);
  sim.lc.observe_node(sim.node("fresh"));
  EXPECT_FALSE(sim.reconcile("fresh").status_update);
  EXPECT_TRUE(sim.lc.queued_for_taint("fresh"));
}

TEST(NodeLifecycle, StartingToLeadRestartsEveryObservationClock) {
  Sim sim;
  sim.add(make_node("n1"));
  sim.clock.advance(35s);
  sim.lc.start_leading();
  sim.clock.advance(35s);
  EXPECT_FALSE(sim.reconcile("n1").status_update) << "70 s silent, but only 35 s as leader";
  sim.clock.advance(6s);
  EXPECT_TRUE(sim.reconcile("n1").status_update);
}

// ---- taints and pods --------------------------------------------------------------------------

TEST(NodeLifecycle, AnUnreachableNodeIsTaintedNoScheduleAtOnceAndNoExecuteThroughTheQueue) {
  Sim sim;
  sim.add(make_node("n1"));
  sim.clock.advance(41s);
  auto d = sim.reconcile("n1");
  EXPECT_EQ(sim.ready("n1"), "Unknown");
  EXPECT_TRUE(sim.has("n1", kTaintUnreachable, kNoSchedule));
  EXPECT_FALSE(sim.has("n1", kTaintUnreachable, kNoExecute))
      << "NoExecute goes through the limiter";
  EXPECT_TRUE(sim.lc.queued_for_taint("n1"));
  EXPECT_TRUE(d.mark_pods_not_ready);
  EXPECT_EQ(sim.pods_marked["n1"], 1);

  EXPECT_EQ(sim.taint_pass(), std::vector<std::string>{"n1"});
  EXPECT_TRUE(sim.has("n1", kTaintUnreachable, kNoExecute));
  const auto taints = taints_of(sim.node("n1"));
  ASSERT_EQ(taints.size(), 2U);
  EXPECT_FALSE(taints[1].time_added.empty()) << "timeAdded is set for the eviction controller";
  EXPECT_FALSE(sim.lc.queued_for_taint("n1"));

  // Evaluating again changes nothing and marks the pods only once per outage.
  sim.clock.advance(5s);
  d = sim.reconcile("n1");
  EXPECT_FALSE(d.taints);
  EXPECT_FALSE(d.mark_pods_not_ready);
  EXPECT_EQ(sim.pods_marked["n1"], 1);
  EXPECT_TRUE(sim.taint_pass().empty());
}

TEST(NodeLifecycle, AKubeletReportingNotReadyGetsTheNotReadyTaints) {
  Sim sim;
  sim.add(make_node("n1"));
  sim.clock.advance(5s);
  sim.post("n1", "False");
  auto d = sim.reconcile("n1");
  EXPECT_FALSE(d.status_update) << "the kubelet is alive: no Unknown";
  EXPECT_TRUE(sim.has("n1", kTaintNotReady, kNoSchedule));
  EXPECT_TRUE(d.mark_pods_not_ready);
  EXPECT_EQ(sim.taint_pass(), std::vector<std::string>{"n1"});
  EXPECT_TRUE(sim.has("n1", kTaintNotReady, kNoExecute));
  EXPECT_FALSE(sim.has("n1", kTaintUnreachable, kNoExecute));
}

TEST(NodeLifecycle, AnUnreachableTaintIsSwappedForNotReadyAtOnceWhenTheKubeletReportsFalse) {
  Sim sim;
  sim.add(make_node("n1"));
  sim.clock.advance(41s);
  (void)sim.reconcile("n1");
  ASSERT_EQ(sim.taint_pass().size(), 1U);
  sim.clock.advance(1s);  // the limiter has no token for 10 s: the swap must not need one
  sim.post("n1", "False");
  auto d = sim.reconcile("n1");
  EXPECT_TRUE(sim.has("n1", kTaintNotReady, kNoExecute));
  EXPECT_FALSE(sim.has("n1", kTaintUnreachable, kNoExecute));
  EXPECT_TRUE(sim.has("n1", kTaintNotReady, kNoSchedule));
  EXPECT_FALSE(sim.has("n1", kTaintUnreachable, kNoSchedule));
  EXPECT_FALSE(sim.lc.queued_for_taint("n1"));
}

TEST(NodeLifecycle, RecoveryRemovesTheTaintsAndTheNextOutageMarksPodsAgain) {
  Sim sim;
  auto node = make_node("n1");
  node["spec"]["taints"] =
      json::array({{{"key", "dedicated"}, {"value", "edge"}, {"effect", "NoSchedule"}}});
  sim.add(node);
  sim.clock.advance(41s);
  (void)sim.reconcile("n1");
  (void)sim.taint_pass();
  ASSERT_EQ(taints_of(sim.node("n1")).size(), 3U);

  sim.post("n1");
  auto d = sim.reconcile("n1");
  EXPECT_EQ(sim.ready("n1"), "True");
  const auto taints = taints_of(sim.node("n1"));
  ASSERT_EQ(taints.size(), 1U) << to_json(taints).dump();
  EXPECT_EQ(taints[0].key, "dedicated") << "taints of others stay";
  EXPECT_FALSE(d.notes.empty());

  sim.clock.advance(41s);
  (void)sim.reconcile("n1");
  EXPECT_EQ(sim.pods_marked["n1"], 2);
}

TEST(NodeLifecycle, AHealthyNodeWithOthersTaintsIsLeftAlone) {
  Sim sim;
  auto node = make_node("master-node");
  node["spec"]["taints"] =
      json::array({{{"effect", "NoSchedule"}, {"key", "node-role.kubernetes.io/control-plane"}}});
  node["status"]["conditions"].erase(3);  // no NetworkUnavailable, as on a kubeadm node
  sim.add(node);
  sim.lc.start_leading();
  auto d = sim.lc.evaluate(sim.node("master-node"));
  EXPECT_FALSE(d.taints) << to_json(*d.taints).dump();
  EXPECT_FALSE(d.status_update);
  EXPECT_FALSE(d.mark_pods_not_ready);
}

TEST(NodeLifecycle, UnschedulableNodesGetTheUnschedulableTaintAndPressureConditionsTheirs) {
  Sim sim;
  auto node = make_node("n1");
  node["spec"]["unschedulable"] = true;
  for (auto& c : node["status"]["conditions"]) {
    if (c["type"] == "DiskPressure") {
      c["status"] = "True";
    }
  }
  sim.add(node);
  (void)sim.reconcile("n1");
  EXPECT_TRUE(sim.has("n1", kTaintUnschedulable, kNoSchedule));
  EXPECT_TRUE(sim.has("n1", kTaintDiskPressure, kNoSchedule));
  sim.node("n1")["spec"].erase("unschedulable");
  (void)sim.reconcile("n1");
  EXPECT_FALSE(sim.has("n1", kTaintUnschedulable, kNoSchedule));
  EXPECT_TRUE(sim.has("n1", kTaintDiskPressure, kNoSchedule));
}

// ---- autonomy ---------------------------------------------------------------------------------

TEST(NodeLifecycle, AnAutonomousNodeRecordsNotReadyButIsNeitherEvictedNorItsPodsMarked) {
  for (const char* annotation : {kAutonomy, "node.beta.alibabacloud.com/autonomy"}) {
    SCOPED_TRACE(annotation);
    Sim sim;
    auto node = make_node("edge");
    node["metadata"]["annotations"][annotation] = "true";
    sim.add(node);
    sim.add(make_node("ok"));
    sim.clock.advance(41s);
    sim.post("ok");
    auto d = sim.reconcile("edge");
    EXPECT_TRUE(d.status_update);
    EXPECT_EQ(sim.ready("edge"), "Unknown");
    EXPECT_TRUE(sim.has("edge", kTaintUnreachable, kNoSchedule));
    EXPECT_FALSE(d.mark_pods_not_ready);
    EXPECT_FALSE(sim.lc.queued_for_taint("edge"));
    EXPECT_EQ(sim.lc.autonomous_offline(), 1U);
    for (int i = 0; i < 60; ++i) {  // ten minutes
      sim.clock.advance(10s);
      sim.post("ok");
      sim.monitor();
      EXPECT_TRUE(sim.taint_pass().empty());
    }
    EXPECT_FALSE(sim.has("edge", kTaintUnreachable, kNoExecute));
    EXPECT_EQ(sim.pods_marked["edge"], 0);
  }
}

TEST(NodeLifecycle, AutonomyDurationBoundsAutonomyFromWhenTheNodeWentNotReady) {
  Sim sim;
  auto node = make_node("edge");
  node["metadata"]["annotations"][kDuration] = "30s";
  sim.add(node);
  sim.add(make_node("ok"));  // keeps the zone healthy
  sim.clock.advance(41s);
  sim.post("ok");
  auto d = sim.reconcile("edge");
  EXPECT_EQ(sim.ready("edge"), "Unknown");
  EXPECT_FALSE(d.mark_pods_not_ready);
  ASSERT_TRUE(d.recheck_after);
  EXPECT_EQ(*d.recheck_after, 30s + 1ms) << "re-evaluated when autonomy ends";
  sim.clock.advance(29s);
  sim.post("ok");
  sim.monitor();
  EXPECT_TRUE(sim.taint_pass().empty()) << "not before 30 s";
  EXPECT_EQ(sim.pods_marked["edge"], 0);
  sim.clock.advance(1s + 1ms);
  d = sim.reconcile("edge");
  EXPECT_TRUE(d.mark_pods_not_ready);
  EXPECT_EQ(sim.taint_pass(), std::vector<std::string>{"edge"});
  EXPECT_TRUE(sim.has("edge", kTaintUnreachable, kNoExecute));
}

TEST(NodeLifecycle, AutonomyDurationZeroMeansForever) {
  Sim sim;
  auto node = make_node("edge");
  node["metadata"]["annotations"][kDuration] = "0";
  sim.add(node);
  sim.clock.advance(41s);
  auto d = sim.reconcile("edge");
  EXPECT_FALSE(d.recheck_after);
  sim.clock.advance(std::chrono::hours(24));
  d = sim.reconcile("edge");
  EXPECT_FALSE(d.mark_pods_not_ready);
  EXPECT_TRUE(sim.taint_pass().empty());
}

TEST(NodeLifecycle, BecomingAutonomousDuringAnOutageRemovesTheNoExecuteTaintAtOnce) {
  Sim sim;
  sim.add(make_node("edge"));
  sim.clock.advance(41s);
  (void)sim.reconcile("edge");
  ASSERT_EQ(sim.taint_pass().size(), 1U);
  sim.annotate("edge", kAutonomy, "true");
  auto d = sim.reconcile("edge");
  EXPECT_FALSE(sim.has("edge", kTaintUnreachable, kNoExecute));
  EXPECT_TRUE(sim.has("edge", kTaintUnreachable, kNoSchedule));
  ASSERT_FALSE(d.notes.empty());
  EXPECT_NE(d.notes.back().find("removed"), std::string::npos) << d.notes.back();
}

TEST(NodeLifecycle, RemovingAutonomyDuringAnOutageMakesTheNodeOrdinaryFromThen) {
  Sim sim;
  auto node = make_node("edge");
  node["metadata"]["annotations"][kAutonomy] = "true";
  sim.add(node);
  sim.add(make_node("ok"));
  sim.clock.advance(41s);
  sim.post("ok");
  (void)sim.reconcile("edge");
  EXPECT_TRUE(sim.taint_pass().empty());
  sim.clock.advance(60s);
  sim.unannotate("edge", kAutonomy);
  auto d = sim.reconcile("edge");
  EXPECT_TRUE(d.mark_pods_not_ready);
  EXPECT_TRUE(sim.lc.queued_for_taint("edge"));
  EXPECT_EQ(sim.taint_pass(), std::vector<std::string>{"edge"});
}

TEST(NodeLifecycle, AnInvalidDurationIsIgnoredWithAWarning) {
  Sim sim;
  auto forever = make_node("flagged");
  forever["metadata"]["annotations"][kAutonomy] = "true";
  forever["metadata"]["annotations"][kDuration] = "3d";
  sim.add(forever);
  auto plain = make_node("plain");
  plain["metadata"]["annotations"][kDuration] = "-5s";
  sim.add(plain);
  sim.clock.advance(41s);
  auto d = sim.reconcile("flagged");
  EXPECT_FALSE(d.mark_pods_not_ready) << "the flag alone: autonomous forever";
  bool warned = false;
  for (const auto& n : d.notes) {
    warned = warned || n.find("ignored") != std::string::npos;
  }
  EXPECT_TRUE(warned);
  EXPECT_TRUE(sim.reconcile("plain").mark_pods_not_ready) << "no valid autonomy: ordinary";
}

// ---- the NoExecute rate limit and zones --------------------------------------------------------

TEST(NodeLifecycle, NoExecuteTaintsAreAddedAtMostAtTheEvictionRatePerZone) {
  Sim sim;  // 0.1/s: one per 10 s
  for (int i = 0; i < 10; ++i) {
    sim.add(make_node("n" + std::to_string(i), "a"));
  }
  sim.add(make_node("b0", "b"));
  sim.add(make_node("b1", "b"));
  sim.clock.advance(41s);
  for (int i = 3; i < 10; ++i) {
    sim.post("n" + std::to_string(i));
  }
  sim.post("b1");
  sim.monitor();  // zone a: 3 of 10 down (normal); zone b: 1 of 2 (normal)
  EXPECT_EQ(sim.lc.zone_state(zone_key(sim.node("n0"))), ZoneState::Normal);
  auto first = sim.taint_pass();
  EXPECT_EQ(first.size(), 2U) << "one per zone at once";
  for (int s = 1; s < 10; ++s) {
    sim.clock.advance(1s);
    EXPECT_TRUE(sim.taint_pass().empty()) << s << " s later";
  }
  sim.clock.advance(1s);
  EXPECT_EQ(sim.taint_pass().size(), 1U);
  sim.clock.advance(10s);
  EXPECT_EQ(sim.taint_pass().size(), 1U);
  sim.clock.advance(10s);
  EXPECT_TRUE(sim.taint_pass().empty()) << "all three of zone a tainted";
  for (const char* n : {"n0", "n1", "n2", "b0"}) {
    EXPECT_TRUE(sim.has(n, kTaintUnreachable, kNoExecute)) << n;
  }
}

TEST(NodeLifecycle, ASmallPartiallyDisruptedZoneStopsTaintingALargeOneSlowsDown) {
  {
    Sim sim;
    for (int i = 0; i < 5; ++i) {
      sim.add(make_node("n" + std::to_string(i), "a"));
    }
    sim.clock.advance(41s);
    sim.post("n4");
    sim.monitor();  // 4 of 5 down: partial disruption, 5 ≤ 50 nodes
    EXPECT_EQ(sim.lc.zone_state(zone_key(sim.node("n0"))), ZoneState::PartialDisruption);
    for (int i = 0; i < 30; ++i) {
      sim.clock.advance(10s);
      sim.post("n4");
      sim.monitor();
      EXPECT_TRUE(sim.taint_pass().empty());
    }
  }
  {
    LifecycleSettings s;
    s.large_cluster_size_threshold = 5;
    Sim sim(s);
    for (int i = 0; i < 8; ++i) {
      sim.add(make_node("n" + std::to_string(i), "a"));
    }
    sim.clock.advance(41s);
    sim.post("n7");
    sim.monitor();  // 7 of 8 down, 8 > 5: the secondary rate, 0.01/s
    ASSERT_EQ(sim.lc.zones().size(), 1U);
    EXPECT_DOUBLE_EQ(sim.lc.zones()[0].taint_rate, 0.01);
    int tainted = 0;
    for (int i = 0; i < 30; ++i) {  // 300 s
      sim.clock.advance(10s);
      sim.post("n7");
      sim.monitor();
      tainted += static_cast<int>(sim.taint_pass().size());
    }
    EXPECT_EQ(tainted, 3) << "one at once, then one per 100 s";
  }
}

TEST(NodeLifecycle, AFullyDisruptedZoneIsTaintedAtTheNormalRateWhileOthersAreHealthy) {
  Sim sim;
  sim.add(make_node("a0", "a"));
  sim.add(make_node("a1", "a"));
  sim.add(make_node("b0", "b"));
  sim.clock.advance(41s);
  sim.post("b0");
  sim.monitor();
  EXPECT_EQ(sim.lc.zone_state(zone_key(sim.node("a0"))), ZoneState::FullDisruption);
  EXPECT_FALSE(sim.lc.master_disruption());
  EXPECT_EQ(sim.taint_pass().size(), 1U);
  sim.clock.advance(10s);
  sim.post("b0");
  sim.monitor();
  EXPECT_EQ(sim.taint_pass().size(), 1U);
}

TEST(NodeLifecycle, WhenEveryZoneIsDownNothingIsTaintedAndTaintsAreRemoved) {
  Sim sim;
  sim.add(make_node("a0", "a"));
  sim.add(make_node("b0", "b"));
  sim.add(make_node("b1", "b"));
  sim.clock.advance(30s);
  sim.post("a0");
  sim.clock.advance(11s);
  sim.monitor();  // b down, a up
  ASSERT_EQ(sim.taint_pass().size(), 1U);
  sim.clock.advance(30s);
  sim.monitor();  // a0 down too: every zone fully disrupted
  EXPECT_TRUE(sim.lc.master_disruption());
  sim.reconcile_all();
  for (const char* n : {"a0", "b0", "b1"}) {
    EXPECT_FALSE(sim.has(n, kTaintUnreachable, kNoExecute)) << n;
    EXPECT_TRUE(sim.has(n, kTaintUnreachable, kNoSchedule)) << n;
  }
  for (int i = 0; i < 10; ++i) {
    sim.clock.advance(10s);
    sim.monitor();
    EXPECT_TRUE(sim.taint_pass().empty());
  }
  // One node is back: out of disruption; the others' taints return at the normal rate (the new
  // limiters start without a token).
  sim.post("a0");
  sim.monitor();
  EXPECT_FALSE(sim.lc.master_disruption());
  EXPECT_EQ(sim.lc.zone_state(zone_key(sim.node("b0"))), ZoneState::FullDisruption);
  (void)sim.taint_pass();
  int tainted = 0;
  for (int i = 0; i < 10; ++i) {
    sim.clock.advance(10s);
    sim.post("a0");
    sim.monitor();
    tainted += static_cast<int>(sim.taint_pass().size());
  }
  EXPECT_EQ(tainted, 2) << "b0 and b1 again, at the normal rate";
}

TEST(NodeLifecycle, NodesExcludedFromDisruptionChecksAreNotCounted) {
  Sim sim;
  auto excluded = make_node("x", "a");
  excluded["metadata"]["labels"][std::string(kExcludeDisruptionLabel)] = "";
  sim.add(excluded);
  sim.add(make_node("a0", "a"));
  sim.clock.advance(30s);
  sim.post("x");
  sim.clock.advance(11s);
  sim.monitor();
  EXPECT_EQ(sim.lc.zone_state(zone_key(sim.node("a0"))), ZoneState::FullDisruption)
      << "the ready node x does not count";
}

TEST(NodeLifecycle, ADeletedNodeLeavesTheQueue) {
  Sim sim;
  sim.add(make_node("n1"));
  sim.clock.advance(41s);
  (void)sim.reconcile("n1");
  ASSERT_TRUE(sim.lc.queued_for_taint("n1"));
  sim.lc.forget_node("n1");
  EXPECT_FALSE(sim.lc.queued_for_taint("n1"));
  EXPECT_TRUE(sim.lc.take_due_taints().empty());
}

TEST(NodeLifecycle, AFailedTaintWriteIsRetriedAfterThePause) {
  Sim sim;
  sim.add(make_node("n1"));
  sim.clock.advance(41s);
  (void)sim.reconcile("n1");
  auto due = sim.lc.take_due_taints();
  ASSERT_EQ(due.size(), 1U);
  sim.lc.taint_done("n1", false);
  EXPECT_TRUE(sim.lc.queued_for_taint("n1"));
  (void)sim.reconcile("n1");  // evaluating meanwhile does not queue it twice
  sim.clock.advance(10s);     // a token and the retry pause
  EXPECT_EQ(sim.taint_pass(), std::vector<std::string>{"n1"});
}

// ---- pieces ----------------------------------------------------------------------------------

TEST(TaintQueue, HandsOutOldestFirstOnePerTokenAndSwapsLimitersWithoutAFreeToken) {
  FakeClock clock;
  TaintQueue q(0.5, clock.monotonic());
  EXPECT_TRUE(q.add("a", clock.monotonic()));
  clock.advance(1ms);
  EXPECT_TRUE(q.add("b", clock.monotonic()));
  EXPECT_FALSE(q.add("a", clock.monotonic()));
  EXPECT_EQ(q.take_due(clock.monotonic()), std::vector<std::string>{"a"});
  EXPECT_FALSE(q.add("a", clock.monotonic())) << "in flight";
  q.done("a", true, clock.monotonic(), 1s);
  EXPECT_TRUE(q.take_due(clock.monotonic()).empty());
  clock.advance(2s);
  q.set_rate(1.0, clock.monotonic());  // the old bucket had a token: the new one starts full
  EXPECT_EQ(q.take_due(clock.monotonic()), std::vector<std::string>{"b"});
  EXPECT_TRUE(q.add("c", clock.monotonic()));
  q.set_rate(2.0, clock.monotonic());  // no token now: none after the swap either
  EXPECT_TRUE(q.take_due(clock.monotonic()).empty());
  clock.advance(500ms);
  EXPECT_EQ(q.take_due(clock.monotonic()), std::vector<std::string>{"c"});
  q.set_rate(0, clock.monotonic());
  EXPECT_TRUE(q.add("d", clock.monotonic()));
  clock.advance(std::chrono::hours(1));
  EXPECT_TRUE(q.take_due(clock.monotonic()).empty()) << "rate 0 never hands out";
  EXPECT_TRUE(q.remove("d"));
  EXPECT_EQ(q.size(), 2U) << "b and c still in flight";
}

TEST(NodeModel, AutonomyAnnotations) {
  auto node = make_node("n");
  EXPECT_EQ(autonomy_of(node), Autonomy{});
  node["metadata"]["annotations"][kAutonomy] = "True";
  EXPECT_EQ(autonomy_of(node), (Autonomy{true, std::nullopt, ""}));
  node["metadata"]["annotations"][kAutonomy] = "false";
  EXPECT_FALSE(autonomy_of(node).enabled);
  node["metadata"]["annotations"][kDuration] = "1h30m";
  EXPECT_EQ(autonomy_of(node), (Autonomy{true, std::chrono::minutes(90), ""}));
  node["metadata"]["annotations"][kDuration] = 30;  // not a string: as absent
  EXPECT_FALSE(autonomy_of(node).enabled);
  node["metadata"]["annotations"] = "junk";
  EXPECT_FALSE(autonomy_of(node).enabled);
  EXPECT_FALSE(autonomy_of(json::array()).enabled);
}

TEST(NodeModel, ZoneKeysFollowUpstream) {
  auto node = make_node("n");
  EXPECT_EQ(zone_key(node), "");
  node["metadata"]["labels"]["failure-domain.beta.kubernetes.io/zone"] = "old";
  EXPECT_EQ(zone_key(node), std::string(":\0:old", 6));
  node["metadata"]["labels"]["topology.kubernetes.io/zone"] = "z1";
  node["metadata"]["labels"]["topology.kubernetes.io/region"] = "r1";
  EXPECT_EQ(zone_key(node), std::string("r1:\0:z1", 7));
  EXPECT_EQ(printable_zone(zone_key(node)), "r1/z1");
}

TEST(NodeModel, OddObjectsAreReadAsEmpty) {
  const json odd = {
      {"metadata", 5}, {"spec", {{"taints", {1, "x", {{"key", 3}}}}}}, {"status", "no"}};
  EXPECT_EQ(name_of(odd), "");
  EXPECT_TRUE(taints_of(odd).empty());
  EXPECT_EQ(find_condition(odd, "Ready"), nullptr);
  EXPECT_TRUE(no_schedule_taint_keys(odd).empty());
  FakeClock clock;
  NodeLifecycle lc({}, clock);
  lc.observe_node(odd);
  lc.observe_lease(json::array());
  auto d = lc.evaluate(odd);
  EXPECT_FALSE(d.status_update);
}

}  // namespace
}  // namespace yurt::controller
