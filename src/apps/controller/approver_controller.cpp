#include "src/apps/controller/approver_controller.hpp"

#include <utility>

#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include "yurt/base/log.hpp"
#include "yurt/kube/time.hpp"

#include "src/apps/controller/node_model.hpp"

namespace yurt::controller {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

spdlog::logger& logger() {
  return log::get("controller");
}

// The CSR's requester is system:node:<name>: the CSR may wait for that Node's object.
bool waits_for_node(const json& csr, const std::string& node) {
  auto spec = csr.find("spec");
  return csr.is_object() && spec != csr.end() &&
         string_at(*spec, "username") == std::string(kNodeUserPrefix) + node;
}

}  // namespace

kube::GroupVersionResource csr_resource() {
  return {"certificates.k8s.io", "v1", "certificatesigningrequests"};
}

ApproverController::ApproverController(kube::RestClient& client,
                                       kube::Informer& csrs,
                                       kube::Informer& nodes,
                                       ApproverSettings settings,
                                       ControllerMetrics& metrics,
                                       const Clock& clock,
                                       kube::SleepFunction sleep)
    : client_(client),
      csrs_(csrs),
      nodes_(nodes),
      settings_(std::move(settings)),
      metrics_(metrics),
      clock_(clock),
      sleep_(std::move(sleep)) {}

void ApproverController::enqueue(const std::string& name) {
  if (queue_ != nullptr && !name.empty()) {
    queue_->add(name);
  }
}

void ApproverController::attach() {
  kube::ResourceEventHandlers csr_handlers;
  csr_handlers.on_add = [this](const json& csr) { enqueue(name_of(csr)); };
  csr_handlers.on_update = [this](const json& /*old*/, const json& csr) { enqueue(name_of(csr)); };
  csr_handlers.on_delete = [this](const json& csr) { reported_.erase(name_of(csr)); };
  csrs_.add_handlers(std::move(csr_handlers));

  kube::ResourceEventHandlers node_handlers;
  node_handlers.on_add = [this](const json& node) {
    if (queue_ == nullptr) {
      return;
    }
    const std::string name = name_of(node);
    for (const auto& csr : csrs_.store().list()) {
      if (csr && waits_for_node(*csr, name)) {
        enqueue(name_of(*csr));
      }
    }
  };
  nodes_.add_handlers(std::move(node_handlers));
}

asio::awaitable<void> ApproverController::lead() {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  // Each result named before it is tested (GCC 12 miscompiles co_await inside conditions).
  const bool nodes_synced = co_await nodes_.wait_for_sync();
  if (!nodes_synced) {
    co_return;
  }
  const bool csrs_synced = co_await csrs_.wait_for_sync();
  if (!csrs_synced) {
    co_return;
  }
  auto ex = co_await asio::this_coro::executor;
  kube::WorkQueue<std::string> queue(ex, clock_, sleep_);
  queue_ = &queue;
  logger().info("CSR approver: leading; {} CSRs to look at", csrs_.store().size());
  for (const auto& key : csrs_.store().keys()) {
    queue.add(key);
  }
  try {
    for (;;) {
      auto name = co_await queue.get();
      if (!name) {
        break;
      }
      const bool ok = co_await process(*name);
      if (ok) {
        queue.forget(*name);
      } else {
        queue.add_rate_limited(*name);
      }
      queue.done(*name);
      auto cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none) {
        break;
      }
    }
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted) {
      queue_ = nullptr;
      throw;
    }
  }
  queue_ = nullptr;
  queue.shut_down();
}

asio::awaitable<bool> ApproverController::process(std::string name) {
  auto csr = csrs_.store().get(name);
  if (!csr) {
    co_return true;
  }
  const auto decision = decide_csr(*csr, nodes_.store(), settings_);
  if (decision.verdict == CsrVerdict::AlreadyDecided) {
    reported_.erase(name);
    co_return true;
  }
  const bool approve = decision.verdict == CsrVerdict::Approve;
  const std::string line = std::string(approve ? "approve" : "leave alone") + " (" +
                           std::string(to_string(decision.shape)) + "): " + decision.reason;
  // Log and count each decision once per CSR (a CSR left alone is seen again on every change).
  if (auto it = reported_.find(name); it == reported_.end() || it->second != line) {
    reported_[name] = line;
    metrics_.count_csr(approve ? "approve" : "leave_alone", to_string(decision.shape),
                       decision.code);
    logger().info("CSR {}: {}", name, line);
  }
  if (!approve) {
    co_return true;
  }
  const std::string now =
      kube::format_rfc3339(std::chrono::time_point_cast<std::chrono::microseconds>(clock_.now()));
  // Arguments outside the co_await expression: GCC 12 mishandles temporaries inside one.
  auto request = client_.update(csr_resource(), std::string(), approval_object(*csr, decision, now),
                                std::string("approval"));
  auto r = co_await std::move(request);
  if (!r) {
    if (r.error() == kube::Errc::NotFound) {
      co_return true;
    }
    // A Conflict: someone (kube-controller-manager's own approver for node clients) wrote
    // first; the CSR's event brings it back and decide_csr sees it decided.
    logger().warn("CSR {}: approval failed: {}", name, r.error().what());
    co_return r.error() == kube::Errc::Conflict;
  }
  co_return true;
}

}  // namespace yurt::controller
