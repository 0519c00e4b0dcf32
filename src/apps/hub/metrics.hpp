#pragma once

// yurthub's counters and the Prometheus text exposition of /metrics.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "yurt/base/prometheus.hpp"

namespace yurt::hub {

using yurt::PromWriter;

/// Counters updated on the request path.
///
/// @par Thread Safety
/// All member functions are safe from any thread. Label sets are bounded: at most
/// kMaxComponents distinct components are named, the rest count as "other", so a client
/// inventing User-Agents cannot grow the map without bound.
class HubMetrics {
 public:
  static constexpr std::size_t kMaxComponents = 64;

  /// One answered request: `code` is the HTTP status, or "cache" for answers from the cache
  /// (whose status the cache chooses).
  void count_request(std::string_view component, std::string_view verb, std::string_view code);
  void count_served_from_cache() noexcept { from_cache_.fetch_add(1, std::memory_order_relaxed); }
  /// A request refused with 429 (`long_running` tells which limit).
  void count_rejected(bool long_running) noexcept;
  /// A proxied request that lost its upstream (connect failure, endpoint marked down).
  void count_upstream_failure() noexcept {
    upstream_failures_.fetch_add(1, std::memory_order_relaxed);
  }

  /// Appends the counters' families to `w`.
  void render(PromWriter& w) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, std::string>, std::uint64_t> requests_;
  std::map<std::string, bool, std::less<>> components_;
  std::atomic<std::uint64_t> from_cache_{0};
  std::atomic<std::uint64_t> rejected_short_{0};
  std::atomic<std::uint64_t> rejected_long_{0};
  std::atomic<std::uint64_t> upstream_failures_{0};
};

}  // namespace yurt::hub
