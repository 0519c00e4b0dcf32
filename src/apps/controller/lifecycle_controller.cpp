#include "src/apps/controller/lifecycle_controller.hpp"

#include <exception>
#include <utility>

#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include "yurt/base/log.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/kube/selectors.hpp"
#include "yurt/kube/time.hpp"

#include "src/apps/controller/side_by_side.hpp"

namespace yurt::controller {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// Upstream's NodeEvictionPeriod: how often the zone limiters are asked for due taints.
constexpr auto kTaintPassPeriod = std::chrono::milliseconds(100);
// Attempts of one NoExecute taint write that keeps losing optimistic-concurrency races.
constexpr int kConflictRetries = 5;

spdlog::logger& logger() {
  return log::get("controller");
}

bool cancelled(asio::cancellation_state cs) {
  return cs.cancelled() != asio::cancellation_type::none;
}

std::string resource_version_of(const json& object) {
  auto m = object.find("metadata");
  return object.is_object() && m != object.end() ? string_at(*m, "resourceVersion") : std::string();
}

std::string now_rfc3339(const Clock& clock) {
  return kube::format_rfc3339(std::chrono::time_point_cast<std::chrono::microseconds>(clock.now()));
}

}  // namespace

LifecycleController::LifecycleController(kube::RestClient& client,
                                         kube::Informer& nodes,
                                         kube::Informer& leases,
                                         NodeLifecycle& core,
                                         ControllerMetrics& metrics,
                                         const Clock& clock,
                                         kube::SleepFunction sleep)
    : client_(client),
      nodes_(nodes),
      leases_(leases),
      core_(core),
      metrics_(metrics),
      clock_(clock),
      sleep_(std::move(sleep)) {}

void LifecycleController::enqueue(const json& node) {
  if (queue_ != nullptr) {
    if (auto name = name_of(node); !name.empty()) {
      queue_->add(std::move(name));
    }
  }
}

void LifecycleController::attach() {
  kube::ResourceEventHandlers node_handlers;
  node_handlers.on_add = [this](const json& node) {
    core_.observe_node(node);
    enqueue(node);
  };
  node_handlers.on_update = [this](const json& /*old*/, const json& node) {
    core_.observe_node(node);
    enqueue(node);
  };
  node_handlers.on_delete = [this](const json& node) { core_.forget_node(name_of(node)); };
  nodes_.add_handlers(std::move(node_handlers));

  kube::ResourceEventHandlers lease_handlers;
  lease_handlers.on_add = [this](const json& lease) { core_.observe_lease(lease); };
  lease_handlers.on_update = [this](const json& /*old*/, const json& lease) {
    core_.observe_lease(lease);
  };
  leases_.add_handlers(std::move(lease_handlers));
}

asio::awaitable<void> LifecycleController::lead() {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  // Each result named before it is tested (GCC 12 miscompiles co_await inside conditions).
  const bool nodes_synced = co_await nodes_.wait_for_sync();
  if (!nodes_synced) {
    co_return;
  }
  const bool leases_synced = co_await leases_.wait_for_sync();
  if (!leases_synced) {
    co_return;
  }
  auto ex = co_await asio::this_coro::executor;
  kube::WorkQueue<std::string> queue(ex, clock_, sleep_);
  core_.start_leading();
  queue_ = &queue;
  logger().info("node lifecycle: leading; {} nodes, grace period {}, eviction rate {}/s per zone",
                nodes_.store().size(), format_duration(core_.settings().grace_period),
                core_.settings().eviction_rate);
  for (const auto& key : nodes_.store().keys()) {
    queue.add(key);
  }
  std::vector<NamedTask> loops;
  loops.emplace_back("node worker", worker(queue));
  loops.emplace_back("node monitor", monitor_loop(queue));
  loops.emplace_back("NoExecute tainting", taint_loop());
  co_await run_side_by_side(std::move(loops));
  queue_ = nullptr;
  queue.shut_down();
  logger().info("node lifecycle: stopped leading");
}

asio::awaitable<void> LifecycleController::worker(kube::WorkQueue<std::string>& queue) {
  for (;;) {
    auto name = co_await queue.get();
    if (!name) {
      co_return;
    }
    bool ok = false;
    try {
      ok = co_await reconcile(*name, queue);
    } catch (...) {
      queue.done(*name);
      throw;
    }
    if (ok) {
      queue.forget(*name);
    } else {
      queue.add_rate_limited(*name);
    }
    queue.done(*name);
    if (cancelled(co_await asio::this_coro::cancellation_state)) {
      co_return;
    }
  }
}

asio::awaitable<void> LifecycleController::monitor_loop(kube::WorkQueue<std::string>& queue) {
  for (;;) {
    const auto nodes = nodes_.store().list();
    const bool was_disrupted = core_.master_disruption();
    const auto before = core_.zones();
    core_.update_zones(nodes);
    if (core_.master_disruption() != was_disrupted) {
      if (core_.master_disruption()) {
        logger().warn(
            "every zone is fully disrupted (no node Ready): NoExecute tainting stops and "
            "NoExecute taints are removed — most likely the control plane lost its "
            "network, not every node at once");
      } else {
        logger().info(
            "a node is Ready again: leaving full disruption; every node gets a fresh "
            "grace period");
      }
    }
    for (const auto& z : core_.zones()) {
      auto it = std::find_if(before.begin(), before.end(),
                             [&](const ZoneStatus& b) { return b.zone == z.zone; });
      if (it != before.end() && it->state != z.state && z.state != ZoneState::Initial) {
        logger().info("zone \"{}\": {} → {} ({} of {} nodes not ready), NoExecute taints {}/s",
                      z.zone, to_string(it->state), to_string(z.state), z.not_ready, z.nodes,
                      z.taint_rate);
      }
    }
    for (const auto& node : nodes) {
      if (node) {
        queue.add(name_of(*node));
      }
    }
    co_await sleep_(core_.settings().monitor_period);
    if (cancelled(co_await asio::this_coro::cancellation_state)) {
      co_return;
    }
  }
}

asio::awaitable<void> LifecycleController::taint_loop() {
  for (;;) {
    const auto due = core_.take_due_taints();
    for (const auto& name : due) {
      auto add = add_no_execute_taint(name);
      co_await std::move(add);
    }
    co_await sleep_(kTaintPassPeriod);
    if (cancelled(co_await asio::this_coro::cancellation_state)) {
      co_return;
    }
  }
}

asio::awaitable<void> LifecycleController::add_no_execute_taint(std::string name) {
  // The limiter's token is spent: a write that loses a race with the kubelet or our own
  // NoSchedule patch is retried at once on the current object (upstream's
  // AddOrUpdateTaintOnNode retries on conflict too), not ten seconds later.
  std::shared_ptr<const json> node = nodes_.store().get(name);
  for (int attempt = 0; node; ++attempt) {
    if (attempt == kConflictRetries) {
      core_.taint_done(name, false);
      co_return;
    }
    auto taints = core_.no_execute_taints(*node);
    if (!taints) {
      break;  // ready again, autonomous, or tainted meanwhile
    }
    auto write = write_taints(name, resource_version_of(*node), *taints);
    const auto written = co_await std::move(write);
    if (written == Write::Ok) {
      const auto zone = printable_zone(zone_key(*node));
      metrics_.count_no_execute(zone);
      logger().info(
          "node {}: NoExecute taint {} added (zone \"{}\"); the taint-eviction controller "
          "evicts pods that do not tolerate it",
          name, taints->back().key, zone);
      break;
    }
    if (written == Write::Failed) {
      core_.taint_done(name, false);
      co_return;
    }
    auto get = client_.get(kube::resources::nodes(), std::string(), name);
    auto fresh = co_await std::move(get);
    if (!fresh) {
      if (fresh.error() == kube::Errc::NotFound) {
        break;
      }
      core_.taint_done(name, false);
      co_return;
    }
    node = std::make_shared<const json>(std::move(*fresh));
  }
  core_.taint_done(name, true);
}

asio::awaitable<bool> LifecycleController::reconcile(std::string name,
                                                     kube::WorkQueue<std::string>& queue) {
  // The informer's object, shared, not copied: most evaluations decide nothing.
  std::shared_ptr<const json> node = nodes_.store().get(name);
  if (!node) {
    co_return true;  // deleted; forget_node() ran from the informer
  }
  auto decision = core_.evaluate(*node);
  for (const auto& note : decision.notes) {
    logger().info("node {}: {}", name, note);
  }
  if (decision.status_update) {
    // Arguments are built outside the co_await expression (GCC 12 destroys temporaries inside
    // one twice); the same below.
    auto update = client_.update(kube::resources::nodes(), std::string(),
                                 std::move(*decision.status_update), std::string("status"));
    auto updated = co_await std::move(update);
    metrics_.count_status_update(updated.has_value());
    if (!updated) {
      // A Conflict means the kubelet (or someone) wrote meanwhile: its event re-queues us.
      if (updated.error() == kube::Errc::Conflict) {
        logger().debug("node {}: status update raced another write; retrying", name);
      } else {
        logger().warn("node {}: status update failed: {}", name, updated.error().what());
      }
      co_return updated.error() == kube::Errc::NotFound;
    }
    node = std::make_shared<const json>(std::move(*updated));
    auto event = node_event(*node, std::string("NodeNotReady"),
                            "Node " + name + " status is now: NodeNotReady");
    co_await std::move(event);
    decision = core_.evaluate(*node);
    for (const auto& note : decision.notes) {
      logger().info("node {}: {}", name, note);
    }
  }
  bool ok = true;
  if (decision.taints) {
    auto write = write_taints(name, resource_version_of(*node), *decision.taints);
    ok = co_await std::move(write) == Write::Ok;
  }
  if (decision.mark_pods_not_ready) {
    const bool marked = co_await mark_pods_not_ready(name);
    if (marked) {
      core_.pods_marked(name);
    } else {
      ok = false;
    }
  }
  if (decision.recheck_after) {
    queue.add_after(name, *decision.recheck_after);
  }
  co_return ok;
}

asio::awaitable<LifecycleController::Write> LifecycleController::write_taints(
    std::string name, std::string resource_version, std::vector<Taint> taints) {
  // spec.taints has no merge key: a merge patch replaces the whole list, and the
  // resourceVersion makes it conditional (upstream's PatchNodeTaints does the same).
  json patch = {{"metadata", {{"resourceVersion", resource_version}}},
                {"spec", {{"taints", to_json(taints)}}}};
  auto request = client_.patch(kube::resources::nodes(), std::string(), name,
                               kube::PatchType::Merge, patch.dump());
  auto r = co_await std::move(request);
  metrics_.count_taint_write(r.has_value());
  if (!r) {
    if (r.error() == kube::Errc::NotFound) {
      co_return Write::Ok;  // nothing left to taint
    }
    // A Conflict is routine (the kubelet wrote meanwhile): evaluated again on the current object.
    if (r.error() == kube::Errc::Conflict) {
      logger().debug("node {}: taint update raced another write; retrying", name);
      co_return Write::Conflict;
    }
    logger().warn("node {}: taint update failed: {}", name, r.error().what());
    co_return Write::Failed;
  }
  if (log::enabled(2)) {
    logger().info("node {}: taints now {}", name, to_json(taints).dump());
  }
  co_return Write::Ok;
}

asio::awaitable<bool> LifecycleController::mark_pods_not_ready(std::string node) {
  kube::ListOptions options;
  auto selector = kube::FieldSelector::parse("spec.nodeName=" + node);
  if (!selector) {
    logger().error("node {}: cannot select its pods: {}", node, selector.error().what());
    co_return true;  // a name that makes no selector has no pods either
  }
  options.field_selector = std::move(*selector);
  auto list = client_.list_all(kube::resources::pods(), std::string(), std::move(options));
  auto pods = co_await std::move(list);
  if (!pods) {
    logger().warn("node {}: listing its pods failed: {}", node, pods.error().what());
    co_return false;
  }
  bool ok = true;
  std::uint64_t marked = 0;
  const std::string now = now_rfc3339(clock_);
  for (auto& pod : pods->items) {
    auto status = pod.find("status");
    if (status == pod.end() || !status->is_object()) {
      continue;
    }
    auto conditions = status->find("conditions");
    if (conditions == status->end() || !conditions->is_array()) {
      continue;
    }
    bool changed = false;
    for (auto& c : *conditions) {
      if (c.is_object() && string_at(c, "type") == "Ready" && string_at(c, "status") != "False") {
        c["status"] = "False";
        c["lastTransitionTime"] = now;
        changed = true;
      }
    }
    if (!changed) {
      continue;
    }
    std::string ns;
    if (auto m = pod.find("metadata"); m != pod.end()) {
      ns = string_at(*m, "namespace");
    }
    auto request = client_.update(kube::resources::pods(), ns, pod, std::string("status"));
    auto r = co_await std::move(request);
    if (r) {
      ++marked;
    } else if (r.error() != kube::Errc::NotFound) {
      logger().warn("pod {}/{}: marking not ready failed: {}", ns, name_of(pod), r.error().what());
      ok = false;
    }
  }
  if (marked > 0) {
    metrics_.count_pods_marked(marked);
    logger().info("node {}: {} pod(s) marked not ready", node, marked);
  }
  co_return ok;
}

asio::awaitable<void> LifecycleController::node_event(json node,
                                                      std::string reason,
                                                      std::string message) {
  const std::string name = name_of(node);
  std::string uid;
  if (auto m = node.find("metadata"); node.is_object() && m != node.end()) {
    uid = string_at(*m, "uid");
  }
  const std::string now = now_rfc3339(clock_);
  json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"generateName", name + "."}, {"namespace", "default"}}},
      {"involvedObject", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", name}, {"uid", uid}}},
      {"reason", reason},
      {"message", message},
      {"type", "Normal"},
      {"source", {{"component", "yurt-controller-manager"}}},
      {"reportingComponent", "yurt-controller-manager"},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1}};
  auto request = client_.create(kube::GroupVersionResource{"", "v1", "events"},
                                std::string("default"), std::move(event));
  auto r = co_await std::move(request);
  if (!r) {
    logger().debug("node {}: event {} not recorded: {}", name, reason, r.error().what());
  }
}

}  // namespace yurt::controller
