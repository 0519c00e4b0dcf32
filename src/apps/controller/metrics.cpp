#include "src/apps/controller/metrics.hpp"

#include "yurt/base/prometheus.hpp"

namespace yurt::controller {

std::string ControllerMetrics::render(const NodeLifecycle* lifecycle) const {
  PromWriter w;
  w.family("yurt_controller_leader", "gauge", "1 while this replica holds the leader lease.");
  w.sample("yurt_controller_leader", {}, leader_ ? 1 : 0);

  w.family(
      "yurt_controller_csr_decisions_total", "counter",
      "Decisions on pending CSRs: verdict approve or leave_alone, the shape, the reason code.");
  for (const auto& [k, n] : csr_) {
    w.sample("yurt_controller_csr_decisions_total",
             {{"verdict", std::get<0>(k)}, {"shape", std::get<1>(k)}, {"code", std::get<2>(k)}},
             static_cast<double>(n));
  }

  w.family("yurt_controller_node_status_updates_total", "counter",
           "Node status writes setting conditions to Unknown, by result.");
  w.sample("yurt_controller_node_status_updates_total", {{"result", "ok"}},
           static_cast<double>(status_updates_));
  w.sample("yurt_controller_node_status_updates_total", {{"result", "error"}},
           static_cast<double>(status_update_failures_));

  w.family("yurt_controller_taint_writes_total", "counter", "Node taint writes, by result.");
  w.sample("yurt_controller_taint_writes_total", {{"result", "ok"}},
           static_cast<double>(taint_writes_));
  w.sample("yurt_controller_taint_writes_total", {{"result", "error"}},
           static_cast<double>(taint_write_failures_));

  w.family("yurt_controller_no_execute_taints_total", "counter",
           "NoExecute taints added through the zone rate limiter (upstream's evictions_total).");
  for (const auto& [zone, n] : no_execute_) {
    w.sample("yurt_controller_no_execute_taints_total", {{"zone", zone}}, static_cast<double>(n));
  }

  w.family("yurt_controller_pods_marked_not_ready_total", "counter",
           "Pods whose Ready condition was set to False because their node is not ready.");
  w.sample("yurt_controller_pods_marked_not_ready_total", {}, static_cast<double>(pods_marked_));

  if (lifecycle != nullptr) {
    w.family("yurt_controller_autonomous_offline_nodes", "gauge",
             "Not-ready nodes whose pods autonomy keeps from eviction.");
    w.sample("yurt_controller_autonomous_offline_nodes", {},
             static_cast<double>(lifecycle->autonomous_offline()));
    const auto zones = lifecycle->zones();
    w.family("yurt_controller_zone_size", "gauge", "Nodes counted in each zone.");
    for (const auto& z : zones) {
      w.sample("yurt_controller_zone_size", {{"zone", z.zone}}, z.nodes);
    }
    w.family("yurt_controller_zone_unhealthy_nodes", "gauge", "Not-ready nodes in each zone.");
    for (const auto& z : zones) {
      w.sample("yurt_controller_zone_unhealthy_nodes", {{"zone", z.zone}}, z.not_ready);
    }
    w.family("yurt_controller_zone_state", "gauge", "1 for each zone's current state.");
    for (const auto& z : zones) {
      w.sample("yurt_controller_zone_state",
               {{"zone", z.zone}, {"state", std::string(to_string(z.state))}}, 1);
    }
    w.family("yurt_controller_zone_taint_rate", "gauge",
             "NoExecute taints per second each zone allows now.");
    for (const auto& z : zones) {
      w.sample("yurt_controller_zone_taint_rate", {{"zone", z.zone}}, z.taint_rate);
    }
  }
  return w.str();
}

}  // namespace yurt::controller
