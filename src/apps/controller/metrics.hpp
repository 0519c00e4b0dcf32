#pragma once

// yurt-controller-manager's counters and their Prometheus text exposition (/metrics).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "src/apps/controller/node_lifecycle.hpp"

namespace yurt::controller {

/// Counters of the controller. Label values are bounded: shapes and decision codes are fixed
/// words, zones are the cluster's zone labels.
///
/// @par Thread Safety
/// Not thread-safe: the controller and its HTTP server share one executor.
class ControllerMetrics {
 public:
  void count_csr(std::string_view verdict, std::string_view shape, std::string_view code) {
    ++csr_[{std::string(verdict), std::string(shape), std::string(code)}];
  }
  void count_status_update(bool ok) { ++(ok ? status_updates_ : status_update_failures_); }
  void count_taint_write(bool ok) { ++(ok ? taint_writes_ : taint_write_failures_); }
  void count_no_execute(const std::string& zone) { ++no_execute_[zone]; }
  void count_pods_marked(std::uint64_t n) { pods_marked_ += n; }
  void set_leader(bool leader) { leader_ = leader; }
  [[nodiscard]] bool leader() const noexcept { return leader_; }

  /// The text exposition; zone gauges and autonomy come from `lifecycle` when given.
  [[nodiscard]] std::string render(const NodeLifecycle* lifecycle) const;

 private:
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> csr_;
  std::map<std::string, std::uint64_t> no_execute_;
  std::uint64_t status_updates_ = 0;
  std::uint64_t status_update_failures_ = 0;
  std::uint64_t taint_writes_ = 0;
  std::uint64_t taint_write_failures_ = 0;
  std::uint64_t pods_marked_ = 0;
  bool leader_ = false;
};

}  // namespace yurt::controller
