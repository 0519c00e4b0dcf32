#include "src/apps/controller/node_lifecycle.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "yurt/base/strings.hpp"
#include "yurt/kube/time.hpp"

namespace yurt::controller {

using nlohmann::json;

namespace {

// So that a recheck lands just after a deadline that is compared with ">".
constexpr auto kJustAfter = std::chrono::milliseconds(1);

// Conditions that become Unknown when the kubelet goes silent; NetworkUnavailable belongs to
// the network plugin and is left alone, as upstream does.
constexpr std::array<std::string_view, 4> kKubeletConditions{"Ready", "MemoryPressure",
                                                             "DiskPressure", "PIDPressure"};

std::string seconds(std::chrono::nanoseconds d) {
  return format_duration(std::chrono::duration_cast<std::chrono::seconds>(d));
}

// Sets the kubelet's conditions to Unknown (upstream tryUpdateNodeHealth); true when Ready
// changed, which is what makes a status write worth it.
bool mark_unknown(json& node, const std::string& now) {
  if (!node.is_object()) {
    return false;
  }
  json& status = node["status"];
  if (!status.is_object()) {
    status = json::object();
  }
  json& conditions = status["conditions"];
  if (!conditions.is_array()) {
    conditions = json::array();
  }
  bool ready_changed = false;
  for (auto type : kKubeletConditions) {
    auto it = std::find_if(conditions.begin(), conditions.end(), [&](const json& c) {
      return c.is_object() && string_at(c, "type") == type;
    });
    if (it == conditions.end()) {
      std::string created;
      if (auto m = node.find("metadata"); m != node.end() && m->is_object()) {
        created = string_at(*m, "creationTimestamp");
      }
      json c = {{"type", type},
                {"status", "Unknown"},
                {"reason", "NodeStatusNeverUpdated"},
                {"message", "Kubelet never posted node status."},
                {"lastTransitionTime", now}};
      if (!created.empty()) {
        c["lastHeartbeatTime"] = created;
      }
      conditions.push_back(std::move(c));
      ready_changed = ready_changed || type == "Ready";
    } else if (string_at(*it, "status") != "Unknown") {
      (*it)["status"] = "Unknown";
      (*it)["reason"] = "NodeStatusUnknown";
      (*it)["message"] = "Kubelet stopped posting node status.";
      (*it)["lastTransitionTime"] = now;
      ready_changed = ready_changed || type == "Ready";
    }
  }
  return ready_changed;
}

void remove_taint(std::vector<Taint>& taints, std::string_view key, std::string_view effect) {
  std::erase_if(taints, [&](const Taint& t) { return t.matches(key, effect); });
}

ZoneState compute_zone_state(int ready, int not_ready, double threshold) {
  if (ready == 0 && not_ready > 0) {
    return ZoneState::FullDisruption;
  }
  if (not_ready > 2 &&
      static_cast<double>(not_ready) / static_cast<double>(not_ready + ready) >= threshold) {
    return ZoneState::PartialDisruption;
  }
  return ZoneState::Normal;
}

}  // namespace

std::string_view to_string(ZoneState s) noexcept {
  switch (s) {
    case ZoneState::Initial:
      return "Initial";
    case ZoneState::Normal:
      return "Normal";
    case ZoneState::PartialDisruption:
      return "PartialDisruption";
    case ZoneState::FullDisruption:
      return "FullDisruption";
  }
  return "?";
}

NodeLifecycle::NodeLifecycle(LifecycleSettings settings, const Clock& clock)
    : settings_(settings), clock_(clock) {}

NodeLifecycle::Health& NodeLifecycle::health(const std::string& name) {
  auto it = health_.find(name);
  if (it == health_.end()) {
    // First sight counts as a heartbeat: we know nothing older (upstream: "Missing timestamp
    // for Node. Assuming now as a timestamp").
    it = health_.emplace(name, Health{}).first;
    it->second.probe = clock_.monotonic();
  }
  return it->second;
}

NodeLifecycle::Zone& NodeLifecycle::zone(const std::string& key) {
  auto it = zones_.find(key);
  if (it == zones_.end()) {
    it = zones_
             .emplace(std::piecewise_construct, std::forward_as_tuple(key),
                      std::forward_as_tuple(settings_.eviction_rate, clock_.monotonic()))
             .first;
  }
  return it->second;
}

std::string NodeLifecycle::wall_now() const {
  return kube::format_rfc3339(
      std::chrono::time_point_cast<std::chrono::microseconds>(clock_.now()));
}

void NodeLifecycle::observe_node(const json& node) {
  const std::string name = name_of(node);
  if (name.empty()) {
    return;
  }
  const bool known = health_.contains(name);
  Health& h = health(name);
  const json* ready = find_condition(node, "Ready");
  if (ready == nullptr) {
    if (h.has_ready) {
      // Upstream logs this as an error and restarts the clock; so do we.
      h.has_ready = false;
      h.heartbeat.clear();
      h.probe = clock_.monotonic();
    }
    return;
  }
  std::string heartbeat = string_at(*ready, "lastHeartbeatTime");
  if (!known || !h.has_ready || heartbeat != h.heartbeat) {
    h.has_ready = true;
    h.heartbeat = std::move(heartbeat);
    h.probe = clock_.monotonic();
  }
}

void NodeLifecycle::observe_lease(const json& lease) {
  const std::string name = name_of(lease);
  if (name.empty()) {
    return;
  }
  std::string renew;
  if (auto it = lease.find("spec"); lease.is_object() && it != lease.end()) {
    renew = string_at(*it, "renewTime");
  }
  Health& h = health(name);
  // Any change counts, not only an increase: a node whose clock was stepped back still lives.
  if (!h.has_lease || renew != h.lease_renew) {
    h.has_lease = true;
    h.lease_renew = std::move(renew);
    h.probe = clock_.monotonic();
  }
}

void NodeLifecycle::forget_node(const std::string& name) {
  dequeue(name);
  health_.erase(name);
}

void NodeLifecycle::start_leading() {
  const auto now = clock_.monotonic();
  for (auto& [name, h] : health_) {
    h.probe = now;
    h.not_ready_since.reset();
    h.pods_marked = false;
    h.mode = Mode::Unset;
  }
  zones_.clear();
  queued_zone_.clear();
  master_disruption_ = false;
}

void NodeLifecycle::enqueue(const std::string& name, const std::string& zone_key) {
  if (auto it = queued_zone_.find(name); it != queued_zone_.end() && it->second != zone_key) {
    dequeue(name);  // its zone label changed while it waited
  }
  if (zone(zone_key).queue.add(name, clock_.monotonic())) {
    queued_zone_[name] = zone_key;
  }
}

void NodeLifecycle::dequeue(const std::string& name) {
  auto it = queued_zone_.find(name);
  if (it == queued_zone_.end()) {
    return;
  }
  if (auto z = zones_.find(it->second); z != zones_.end()) {
    z->second.queue.remove(name);
  }
  queued_zone_.erase(it);
}

bool NodeLifecycle::autonomous_now(const Autonomy& a, const Health& h, SteadyTime now) const {
  if (!a.enabled) {
    return false;
  }
  if (!a.bound || !h.not_ready_since) {
    return true;
  }
  return now < *h.not_ready_since + *a.bound;
}

void NodeLifecycle::set_mode(Health& h, Mode mode, std::string note, NodeDecision& d) {
  if (h.mode != mode) {
    h.mode = mode;
    if (!note.empty()) {
      d.notes.push_back(std::move(note));
    }
  }
}

NodeDecision NodeLifecycle::evaluate(const json& node) {
  NodeDecision d;
  const std::string name = name_of(node);
  if (name.empty()) {
    return d;
  }
  Health& h = health(name);
  const auto now = clock_.monotonic();
  const json* ready = find_condition(node, "Ready");
  const auto grace = ready != nullptr ? settings_.grace_period : settings_.startup_grace_period;
  const auto silent = now - h.probe;

  if (silent > grace) {
    json updated = node;
    if (mark_unknown(updated, wall_now())) {
      // Remember what we wrote so that the watch event of our own write is not taken for a
      // heartbeat (the Ready condition may have been absent before).
      if (const json* r = find_condition(updated, "Ready"); r != nullptr) {
        h.has_ready = true;
        h.heartbeat = string_at(*r, "lastHeartbeatTime");
      }
      d.notes.push_back("no heartbeat observed for " + seconds(silent) + " (grace " +
                        seconds(grace) + "): conditions set to Unknown");
      d.status_update = std::move(updated);
      return d;
    }
  }

  std::vector<Taint> taints = taints_of(node);
  const std::vector<Taint> original = taints;

  // NoSchedule taints follow the conditions (TaintNodesByCondition), autonomous or not.
  const auto wanted = no_schedule_taint_keys(node);
  std::erase_if(taints, [&](const Taint& t) {
    return t.effect == kNoSchedule && is_condition_taint_key(t.key) &&
           std::find(wanted.begin(), wanted.end(), t.key) == wanted.end();
  });
  for (const auto& key : wanted) {
    if (!has_taint(taints, key, kNoSchedule)) {
      taints.push_back(Taint{key, "", std::string(kNoSchedule), wall_now()});
    }
  }

  const auto ready_status = condition_status(node, "Ready");
  if (!ready_status) {
    // The kubelet never posted a Ready condition and the startup grace has not passed.
    d.recheck_after = h.probe + grace - now + kJustAfter;
  } else if (*ready_status == "True") {
    const bool had_no_execute = has_taint(taints, kTaintUnreachable, kNoExecute) ||
                                has_taint(taints, kTaintNotReady, kNoExecute);
    remove_taint(taints, kTaintUnreachable, kNoExecute);
    remove_taint(taints, kTaintNotReady, kNoExecute);
    dequeue(name);
    h.not_ready_since.reset();
    h.pods_marked = false;
    set_mode(h, Mode::Ready,
             h.mode == Mode::Unset ? std::string()
                                   : std::string("Ready again") +
                                         (had_no_execute ? ": NoExecute taints removed" : ""),
             d);
    d.recheck_after = h.probe + grace - now + kJustAfter;
  } else {
    if (!h.not_ready_since) {
      h.not_ready_since = now;
    }
    const Autonomy autonomy = autonomy_of(node);
    if (autonomy.problem != h.autonomy_problem) {
      h.autonomy_problem = autonomy.problem;
      if (!autonomy.problem.empty()) {
        d.notes.push_back(autonomy.problem);
      }
    }
    const bool autonomous = autonomous_now(autonomy, h, now);
    if (autonomous && autonomy.bound) {
      d.recheck_after = *h.not_ready_since + *autonomy.bound - now + kJustAfter;
    }
    const bool had_no_execute = has_taint(taints, kTaintUnreachable, kNoExecute) ||
                                has_taint(taints, kTaintNotReady, kNoExecute);
    if (master_disruption_) {
      // Every zone is fully disrupted: most likely our own network; upstream stops evicting.
      remove_taint(taints, kTaintUnreachable, kNoExecute);
      remove_taint(taints, kTaintNotReady, kNoExecute);
      dequeue(name);
      set_mode(h, Mode::Disruption,
               "not ready (" + *ready_status +
                   "), but every zone is fully disrupted: no NoExecute taint",
               d);
    } else if (autonomous) {
      // D7: the node records NotReady and keeps its NoSchedule taint, but nothing evicts its
      // pods; a NoExecute taint added before the annotation would still evict them, so it goes.
      remove_taint(taints, kTaintUnreachable, kNoExecute);
      remove_taint(taints, kTaintNotReady, kNoExecute);
      dequeue(name);
      set_mode(h, Mode::Autonomous,
               "not ready (" + *ready_status + "), autonomous" +
                   (autonomy.bound ? " for " + format_duration(*autonomy.bound) : std::string()) +
                   ": pods stay Ready, no NoExecute taint" + (had_no_execute ? " (removed)" : ""),
               d);
    } else {
      const std::string_view want = *ready_status == "False" ? kTaintNotReady : kTaintUnreachable;
      const std::string_view opposite = want == kTaintNotReady ? kTaintUnreachable : kTaintNotReady;
      std::string how;
      if (has_taint(taints, want, kNoExecute)) {
        remove_taint(taints, opposite, kNoExecute);
        dequeue(name);
      } else if (has_taint(taints, opposite, kNoExecute)) {
        // The node is tainted already; only the kind changes, at once (upstream swaps too).
        remove_taint(taints, opposite, kNoExecute);
        taints.push_back(Taint{std::string(want), "", std::string(kNoExecute), wall_now()});
        dequeue(name);
      } else {
        enqueue(name, zone_key(node));
        how = ": queued for its NoExecute taint";
      }
      set_mode(h, Mode::NotReady,
               "not ready (" + *ready_status + ")" +
                   (h.mode == Mode::Autonomous ? ", autonomy over" : "") + how,
               d);
    }
    if (!autonomous && !h.pods_marked) {
      d.mark_pods_not_ready = true;
    }
  }

  if (taints != original) {
    d.taints = std::move(taints);
  }
  return d;
}

void NodeLifecycle::pods_marked(const std::string& name) {
  if (auto it = health_.find(name); it != health_.end()) {
    it->second.pods_marked = true;
  }
}

std::optional<std::vector<Taint>> NodeLifecycle::no_execute_taints(const json& node) {
  const auto ready_status = condition_status(node, "Ready");
  if (!ready_status || *ready_status == "True" || master_disruption_) {
    return std::nullopt;
  }
  const std::string name = name_of(node);
  if (name.empty()) {
    return std::nullopt;
  }
  const Health& h = health(name);
  if (autonomous_now(autonomy_of(node), h, clock_.monotonic())) {
    return std::nullopt;
  }
  const std::string_view want = *ready_status == "False" ? kTaintNotReady : kTaintUnreachable;
  const std::string_view opposite = want == kTaintNotReady ? kTaintUnreachable : kTaintNotReady;
  auto taints = taints_of(node);
  if (has_taint(taints, want, kNoExecute)) {
    return std::nullopt;
  }
  remove_taint(taints, opposite, kNoExecute);
  taints.push_back(Taint{std::string(want), "", std::string(kNoExecute), wall_now()});
  return taints;
}

std::vector<std::string> NodeLifecycle::take_due_taints() {
  std::vector<std::string> due;
  const auto now = clock_.monotonic();
  for (auto& [key, z] : zones_) {
    for (auto& name : z.queue.take_due(now)) {
      due.push_back(std::move(name));
    }
  }
  return due;
}

void NodeLifecycle::taint_done(const std::string& name, bool ok) {
  auto it = queued_zone_.find(name);
  if (it == queued_zone_.end()) {
    return;
  }
  auto z = zones_.find(it->second);
  if (z == zones_.end()) {
    queued_zone_.erase(it);
    return;
  }
  z->second.queue.done(name, ok, clock_.monotonic(), settings_.taint_retry);
  if (ok) {
    queued_zone_.erase(it);
  }
}

double NodeLifecycle::rate_for(ZoneState state, int zone_size) const {
  switch (state) {
    case ZoneState::PartialDisruption:
      // Upstream's ReducedQPSFunc: a small zone that lost most nodes stops; a large one slows.
      return zone_size > settings_.large_cluster_size_threshold ? settings_.secondary_eviction_rate
                                                                : 0.0;
    case ZoneState::Initial:
    case ZoneState::Normal:
    case ZoneState::FullDisruption:
      // A zone that is entirely down while others are fine is really down: its pods are better
      // off elsewhere, so upstream (HealthyQPSFunc) taints at the normal rate.
      return settings_.eviction_rate;
  }
  return settings_.eviction_rate;
}

void NodeLifecycle::update_zones(const std::vector<std::shared_ptr<const json>>& nodes) {
  struct Count {
    int ready = 0;
    int not_ready = 0;
  };
  std::map<std::string, Count, std::less<>> counts;
  for (const auto& node : nodes) {
    if (!node) {
      continue;
    }
    const std::string key = zone_key(*node);
    (void)zone(key);
    if (label(*node, kExcludeDisruptionLabel)) {
      continue;
    }
    auto& c = counts[key];
    if (condition_status(*node, "Ready") == std::optional<std::string>("True")) {
      ++c.ready;
    } else {
      ++c.not_ready;
    }
  }

  std::map<std::string, ZoneState, std::less<>> new_states;
  bool all_are_fully_disrupted = true;
  for (const auto& [key, c] : counts) {
    const auto state = compute_zone_state(c.ready, c.not_ready, settings_.unhealthy_zone_threshold);
    new_states[key] = state;
    all_are_fully_disrupted = all_are_fully_disrupted && state == ZoneState::FullDisruption;
    Zone& z = zone(key);
    z.nodes = c.ready + c.not_ready;
    z.not_ready = c.not_ready;
  }
  bool all_were_fully_disrupted = true;
  for (auto& [key, z] : zones_) {
    if (!counts.contains(key)) {
      // No counted node left: the zone keeps its queue but has no state.
      z.nodes = 0;
      z.not_ready = 0;
      z.state = ZoneState::Initial;
      continue;
    }
    all_were_fully_disrupted = all_were_fully_disrupted && z.state == ZoneState::FullDisruption;
  }
  if (all_are_fully_disrupted && all_were_fully_disrupted) {
    return;  // still in (or never left) master disruption, or no nodes at all
  }
  const auto now = clock_.monotonic();
  if (all_are_fully_disrupted) {
    master_disruption_ = true;
    for (auto& [key, z] : zones_) {
      z.queue.set_rate(0, now);
      z.state = ZoneState::FullDisruption;
    }
    return;
  }
  if (all_were_fully_disrupted && master_disruption_) {
    // Leaving master disruption: every node gets a fresh grace period, as upstream.
    master_disruption_ = false;
    for (auto& [name, h] : health_) {
      h.probe = now;
    }
  }
  for (auto& [key, z] : zones_) {
    auto it = new_states.find(key);
    if (it == new_states.end()) {
      continue;
    }
    if (z.state != it->second || all_were_fully_disrupted) {
      z.queue.set_rate(rate_for(it->second, z.nodes), now);
      z.state = it->second;
    }
  }
}

std::vector<ZoneStatus> NodeLifecycle::zones() const {
  std::vector<ZoneStatus> out;
  for (const auto& [key, z] : zones_) {
    out.push_back(ZoneStatus{printable_zone(key), z.state, z.nodes, z.not_ready, z.queue.rate(),
                             z.queue.size()});
  }
  return out;
}

ZoneState NodeLifecycle::zone_state(const std::string& zone_key) const {
  auto it = zones_.find(zone_key);
  return it == zones_.end() ? ZoneState::Initial : it->second.state;
}

bool NodeLifecycle::queued_for_taint(const std::string& name) const {
  return queued_zone_.contains(name);
}

std::size_t NodeLifecycle::autonomous_offline() const {
  return static_cast<std::size_t>(std::count_if(health_.begin(), health_.end(), [](const auto& kv) {
    return kv.second.mode == Mode::Autonomous;
  }));
}

}  // namespace yurt::controller
