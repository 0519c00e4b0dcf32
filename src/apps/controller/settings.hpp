#pragma once

// Everything yurt-controller-manager's App is built from (Options::complete() produces it; tests
// build it directly).

#include <chrono>
#include <cstdint>
#include <string>

#include "yurt/kube/leader_elector.hpp"

#include "src/apps/controller/csr_approver.hpp"
#include "src/apps/controller/node_lifecycle.hpp"

namespace yurt::controller {

struct ControllerSettings {
  /// Explicit kubeconfig; "" = $KUBECONFIG, else in-cluster, else ~/.kube/config.
  std::string kubeconfig;
  bool run_lifecycle = true;
  bool run_approver = true;
  LifecycleSettings lifecycle;
  ApproverSettings approver;

  /// Without election (tests, a single replica by choice) this replica always acts.
  bool leader_elect = true;
  kube::LeaderElectionConfig election;  ///< identity filled by complete() (<hostname>_<random>)
  std::string election_namespace = "kube-system";
  std::string election_name = "yurt-controller-manager";

  /// /healthz, /readyz and /metrics (plain HTTP).
  std::string bind_address = "0.0.0.0";
  std::uint16_t port = 10271;
  /// Requests in flight at shutdown get this long.
  std::chrono::milliseconds drain_timeout{5000};
  /// Seeds election and reflector jitter.
  std::uint64_t seed = 1;
};

}  // namespace yurt::controller
