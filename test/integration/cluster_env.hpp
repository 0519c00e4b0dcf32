#pragma once

// Shared by the tests that run against the real cluster of the e2e harness (label `cluster`,
// docs/e2e-harness.md): they need KUBECONFIG; without it they skip with the reason, and with
// YURT_E2E_REQUIRED=1 (as test/e2e/run.sh sets) they fail instead.

#include <cstdlib>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace yurt::test {

inline bool cluster_required() {
  const char* v = std::getenv("YURT_E2E_REQUIRED");  // NOLINT(concurrency-mt-unsafe)
  return v != nullptr && std::string(v) == "1";
}

/// Why no cluster can be used, or nullopt when KUBECONFIG is set.
inline std::optional<std::string> missing_cluster() {
  const char* kubeconfig = std::getenv("KUBECONFIG");  // NOLINT(concurrency-mt-unsafe)
  if (kubeconfig == nullptr || *kubeconfig == '\0') {
    return "KUBECONFIG is not set: no cluster to run against (bring one up with "
           "test/e2e/cluster.sh up and eval \"$(test/e2e/cluster.sh env)\")";
  }
  return std::nullopt;
}

}  // namespace yurt::test

/// In a test body or SetUp(): skip (or fail when required) without a cluster.
#define YURT_REQUIRE_CLUSTER()                        \
  do {                                                \
    if (auto why = ::yurt::test::missing_cluster()) { \
      if (::yurt::test::cluster_required()) {         \
        FAIL() << "YURT_E2E_REQUIRED=1 but " << *why; \
      }                                               \
      GTEST_SKIP() << *why;                           \
    }                                                 \
  } while (false)
