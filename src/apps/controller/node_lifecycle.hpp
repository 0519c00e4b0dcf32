#pragma once

// The decisions of the node lifecycle controller, without I/O: when a node's conditions become
// Unknown, which taints it carries, when its pods are marked not ready, how fast NoExecute taints
// may be added per zone — the upstream node lifecycle controller's behaviour, plus autonomy
// (architecture D7). The async driver (lifecycle_controller.hpp) feeds it informer events and
// carries out what it decides.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "yurt/base/clock.hpp"

#include "src/apps/controller/node_model.hpp"
#include "src/apps/controller/taint_queue.hpp"

namespace yurt::controller {

/// Tunables, with upstream's flag names and defaults except the grace period.
struct LifecycleSettings {
  /// --node-monitor-period: how often every node is re-evaluated and zone states recomputed.
  std::chrono::nanoseconds monitor_period{std::chrono::seconds(5)};
  /// --node-monitor-grace-period: without an observed heartbeat for this long a node's
  /// conditions become Unknown. 40 s as in the walkthrough's cluster (upstream's default before
  /// 1.32; 50 s since, to outlast HTTP/2 ping + read-idle timeouts of 45 s): four missed 10 s
  /// lease renewals, and the harness's kube-controller-manager runs with 40 s too.
  std::chrono::nanoseconds grace_period{std::chrono::seconds(40)};
  /// --node-startup-grace-period: the same for a node whose kubelet never posted a Ready
  /// condition.
  std::chrono::nanoseconds startup_grace_period{std::chrono::seconds(60)};
  /// --node-eviction-rate: NoExecute taints per second per zone in a healthy zone.
  double eviction_rate = 0.1;
  /// --secondary-node-eviction-rate: the rate in a partially disrupted large zone.
  double secondary_eviction_rate = 0.01;
  /// --unhealthy-zone-threshold: fraction of not-ready nodes (and more than 2) that makes a zone
  /// partially disrupted.
  double unhealthy_zone_threshold = 0.55;
  /// --large-cluster-size-threshold: a partially disrupted zone with at most this many nodes
  /// stops NoExecute tainting; a larger one slows to the secondary rate.
  int large_cluster_size_threshold = 50;
  /// Pause before a failed NoExecute taint write is retried.
  std::chrono::nanoseconds taint_retry{std::chrono::seconds(1)};
};

enum class ZoneState { Initial, Normal, PartialDisruption, FullDisruption };
[[nodiscard]] std::string_view to_string(ZoneState s) noexcept;

/// What to do for one node now. The driver writes status_update first and, when it succeeded,
/// evaluates again with the updated node; then it writes the taints and marks the pods.
struct NodeDecision {
  /// The node with its conditions set to Unknown: PUT to nodes/<name>/status (with its
  /// resourceVersion, so a heartbeat that raced us wins).
  std::optional<nlohmann::json> status_update;
  /// The node's new `spec.taints` when they must change (NoSchedule by condition, removal of
  /// NoExecute taints, an immediate not-ready ↔ unreachable swap). Adding a NoExecute taint is
  /// never decided here: it goes through the rate-limited queue (take_due_taints()).
  std::optional<std::vector<Taint>> taints;
  /// Set the Ready condition of the node's pods to False (upstream's MarkPodsNotReady); report
  /// success with pods_marked().
  bool mark_pods_not_ready = false;
  /// Evaluate the node again after this long (grace period end, autonomy bound end).
  std::optional<std::chrono::nanoseconds> recheck_after;
  /// What changed and why, one line each, for the log.
  std::vector<std::string> notes;
};

/// A zone as the last update_zones() saw it.
struct ZoneStatus {
  std::string zone;  ///< printable ("region/zone", "" for nodes without zone labels)
  ZoneState state = ZoneState::Initial;
  int nodes = 0;
  int not_ready = 0;
  double taint_rate = 0;  ///< NoExecute taints per second now allowed
  std::size_t queued = 0;
};

/// The node lifecycle decisions.
///
/// Freshness is judged by when *we observed* a heartbeat change — the Ready condition's
/// lastHeartbeatTime or the node Lease's renewTime taking a new value — on the injected
/// monotonic clock, never by comparing the node's timestamps with our clock.
///
/// @par Thread Safety
/// Not thread-safe: one executor.
/// @par Lifetime
/// `clock` must outlive the object.
class NodeLifecycle {
 public:
  NodeLifecycle(LifecycleSettings settings, const Clock& clock);

  // Observations: call for every informer event, leader or not.
  void observe_node(const nlohmann::json& node);
  void observe_lease(const nlohmann::json& lease);
  void forget_node(const std::string& name);

  /// A new term as leader: observation times restart now (as upstream's controller starts
  /// fresh), queues, zone states and per-outage memory are cleared.
  void start_leading();

  /// Decides for one node (the informer's current object).
  [[nodiscard]] NodeDecision evaluate(const nlohmann::json& node);
  /// The pods of `name` were marked not ready for the current outage.
  void pods_marked(const std::string& name);

  /// Recomputes zone states from all nodes and sets each zone's NoExecute rate (upstream's
  /// handleDisruption). Call every monitor period, then evaluate every node.
  void update_zones(const std::vector<std::shared_ptr<const nlohmann::json>>& nodes);

  /// Nodes whose NoExecute taint the zone limiters allow now; report each with taint_done().
  [[nodiscard]] std::vector<std::string> take_due_taints();
  /// The taints `node` should carry with its NoExecute taint added (and the opposite one
  /// removed), or nullopt when it no longer needs one (ready again, autonomous, tainted already).
  [[nodiscard]] std::optional<std::vector<Taint>> no_execute_taints(const nlohmann::json& node);
  void taint_done(const std::string& name, bool ok);

  // Introspection (metrics, tests).
  [[nodiscard]] bool master_disruption() const noexcept { return master_disruption_; }
  [[nodiscard]] std::vector<ZoneStatus> zones() const;
  [[nodiscard]] ZoneState zone_state(const std::string& zone_key) const;
  [[nodiscard]] bool queued_for_taint(const std::string& name) const;
  /// Not-ready nodes currently kept from eviction by autonomy.
  [[nodiscard]] std::size_t autonomous_offline() const;
  [[nodiscard]] const LifecycleSettings& settings() const noexcept { return settings_; }

 private:
  enum class Mode { Unset, Ready, NotReady, Autonomous, Disruption };

  struct Health {
    SteadyTime probe{};  // when we last observed a heartbeat change
    bool has_ready = false;
    std::string heartbeat;  // Ready.lastHeartbeatTime as last seen
    bool has_lease = false;
    std::string lease_renew;  // Lease spec.renewTime as last seen
    std::optional<SteadyTime> not_ready_since;
    bool pods_marked = false;
    Mode mode = Mode::Unset;
    std::string autonomy_problem;
  };

  struct Zone {
    explicit Zone(double rate, SteadyTime now) : queue(rate, now) {}
    ZoneState state = ZoneState::Initial;
    int nodes = 0;
    int not_ready = 0;
    TaintQueue queue;
  };

  Health& health(const std::string& name);
  Zone& zone(const std::string& key);
  void enqueue(const std::string& name, const std::string& zone_key);
  void dequeue(const std::string& name);
  [[nodiscard]] bool autonomous_now(const Autonomy& a, const Health& h, SteadyTime now) const;
  [[nodiscard]] double rate_for(ZoneState state, int zone_size) const;
  [[nodiscard]] std::string wall_now() const;
  void set_mode(Health& h, Mode mode, std::string note, NodeDecision& d);

  LifecycleSettings settings_;
  const Clock& clock_;
  std::map<std::string, Health, std::less<>> health_;
  std::map<std::string, Zone, std::less<>> zones_;
  std::map<std::string, std::string, std::less<>> queued_zone_;  // node → zone of its queue entry
  bool master_disruption_ = false;
};

}  // namespace yurt::controller
