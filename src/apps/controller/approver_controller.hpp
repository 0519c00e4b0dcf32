#pragma once

// The CSR approver's I/O: CSR informer events in, approvals (PUT …/approval) out.

#include <map>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/kube/informer.hpp"
#include "yurt/kube/rest_client.hpp"
#include "yurt/kube/sleep.hpp"
#include "yurt/kube/work_queue.hpp"

#include "src/apps/controller/csr_approver.hpp"
#include "src/apps/controller/metrics.hpp"

namespace yurt::controller {

/// `certificatesigningrequests` in certificates.k8s.io/v1.
[[nodiscard]] kube::GroupVersionResource csr_resource();

/// Decides on every pending CSR while this replica leads (decide_csr) and approves the suite's
/// shapes through the `/approval` subresource. Each decision is logged once per CSR and reason
/// and counted in metrics. A CSR left alone is looked at again when it changes, and — for
/// serving shapes waiting on a Node — when that Node appears.
///
/// @par Thread Safety
/// Not thread-safe: everything on the executor of the informers and lead().
/// @par Lifetime
/// Everything given to the constructor outlives it.
class ApproverController {
 public:
  ApproverController(kube::RestClient& client,
                     kube::Informer& csrs,
                     kube::Informer& nodes,
                     ApproverSettings settings,
                     ControllerMetrics& metrics,
                     const Clock& clock,
                     kube::SleepFunction sleep);

  /// Registers the informer handlers (queueing only while leading). Call before they run.
  void attach();

  /// Leads until cancelled.
  boost::asio::awaitable<void> lead();

 private:
  boost::asio::awaitable<bool> process(std::string name);
  void enqueue(const std::string& name);

  kube::RestClient& client_;
  kube::Informer& csrs_;
  kube::Informer& nodes_;
  ApproverSettings settings_;
  ControllerMetrics& metrics_;
  const Clock& clock_;
  kube::SleepFunction sleep_;
  kube::WorkQueue<std::string>* queue_ = nullptr;             // set while leading
  std::map<std::string, std::string, std::less<>> reported_;  // CSR → last logged decision
};

}  // namespace yurt::controller
