#pragma once

// The node lifecycle controller's I/O: informer events in, NodeLifecycle's decisions out as
// writes to the apiserver (node status, node taints, pod status, events).

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/kube/informer.hpp"
#include "yurt/kube/rest_client.hpp"
#include "yurt/kube/sleep.hpp"
#include "yurt/kube/work_queue.hpp"

#include "src/apps/controller/metrics.hpp"
#include "src/apps/controller/node_lifecycle.hpp"

namespace yurt::controller {

/// Runs NodeLifecycle against the cluster while this replica leads:
///
/// - every node event queues the node (one worker; a node is never processed twice at once);
/// - every monitor period the zone states are recomputed and every node is queued (upstream's
///   monitorNodeHealth), and a node whose grace period ends is queued at that moment;
/// - every 100 ms the zone limiters hand out the nodes whose NoExecute taint is due
///   (upstream's NodeEvictionPeriod).
///
/// Writes use the object's resourceVersion (status PUT, taint merge-patch with resourceVersion
/// precondition, pod status PUT), so a heartbeat or a concurrent writer that raced us wins and
/// the node is simply evaluated again.
///
/// @par Thread Safety
/// Not thread-safe: everything on the executor of the informers and lead().
/// @par Lifetime
/// Everything given to the constructor outlives it.
class LifecycleController {
 public:
  LifecycleController(kube::RestClient& client,
                      kube::Informer& nodes,
                      kube::Informer& leases,
                      NodeLifecycle& core,
                      ControllerMetrics& metrics,
                      const Clock& clock,
                      kube::SleepFunction sleep);

  /// Registers the informer handlers: observations always (a standby keeps its caches warm),
  /// queueing only while leading. Call before the informers run.
  void attach();

  /// Leads until cancelled: waits for the informers' first lists, then runs the loops above.
  boost::asio::awaitable<void> lead();

 private:
  boost::asio::awaitable<void> worker(kube::WorkQueue<std::string>& queue);
  boost::asio::awaitable<void> monitor_loop(kube::WorkQueue<std::string>& queue);
  boost::asio::awaitable<void> taint_loop();
  /// false: retry the node later (rate-limited).
  boost::asio::awaitable<bool> reconcile(std::string name, kube::WorkQueue<std::string>& queue);
  enum class Write { Ok, Conflict, Failed };
  boost::asio::awaitable<void> add_no_execute_taint(std::string name);
  boost::asio::awaitable<Write> write_taints(std::string name,
                                             std::string resource_version,
                                             std::vector<Taint> taints);
  boost::asio::awaitable<bool> mark_pods_not_ready(std::string node);
  boost::asio::awaitable<void> node_event(nlohmann::json node,
                                          std::string reason,
                                          std::string message);
  void enqueue(const nlohmann::json& node);

  kube::RestClient& client_;
  kube::Informer& nodes_;
  kube::Informer& leases_;
  NodeLifecycle& core_;
  ControllerMetrics& metrics_;
  const Clock& clock_;
  kube::SleepFunction sleep_;
  kube::WorkQueue<std::string>* queue_ = nullptr;  // set while leading
};

}  // namespace yurt::controller
