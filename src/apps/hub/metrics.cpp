#include "src/apps/hub/metrics.hpp"

namespace yurt::hub {
namespace {

std::string_view bounded_verb(std::string_view verb) {
  static constexpr std::string_view kKnown[] = {
      "get",   "list", "watch", "create", "update",  "patch",  "delete", "deletecollection",
      "proxy", "post", "put",   "head",   "options", "connect"};
  for (auto k : kKnown) {
    if (verb == k) {
      return k;
    }
  }
  return "other";
}

}  // namespace

void HubMetrics::count_request(std::string_view component,
                               std::string_view verb,
                               std::string_view code) {
  std::scoped_lock lock(mutex_);
  std::string comp(component.empty() ? "unknown" : component);
  if (components_.find(comp) == components_.end()) {
    if (components_.size() >= kMaxComponents) {
      comp = "other";
    } else {
      components_.emplace(comp, true);
    }
  }
  ++requests_[{std::move(comp), std::string(bounded_verb(verb)), std::string(code)}];
}

void HubMetrics::count_rejected(bool long_running) noexcept {
  (long_running ? rejected_long_ : rejected_short_).fetch_add(1, std::memory_order_relaxed);
}

void HubMetrics::render(PromWriter& w) const {
  w.family("yurthub_requests_total", "counter",
           "Requests answered by the proxy, by client component, verb and HTTP code.");
  {
    std::scoped_lock lock(mutex_);
    for (const auto& [key, n] : requests_) {
      w.sample(
          "yurthub_requests_total",
          {{"component", std::get<0>(key)}, {"verb", std::get<1>(key)}, {"code", std::get<2>(key)}},
          static_cast<double>(n));
    }
  }
  w.family("yurthub_served_from_cache_total", "counter",
           "Requests answered from the local cache because no apiserver was healthy.");
  w.sample("yurthub_served_from_cache_total", {},
           static_cast<double>(from_cache_.load(std::memory_order_relaxed)));
  w.family("yurthub_rejected_requests_total", "counter",
           "Requests refused with 429 because too many were in flight.");
  w.sample("yurthub_rejected_requests_total", {{"kind", "short"}},
           static_cast<double>(rejected_short_.load(std::memory_order_relaxed)));
  w.sample("yurthub_rejected_requests_total", {{"kind", "long-running"}},
           static_cast<double>(rejected_long_.load(std::memory_order_relaxed)));
  w.family("yurthub_upstream_failures_total", "counter",
           "Proxied requests that lost their apiserver (connect failure or endpoint down).");
  w.sample("yurthub_upstream_failures_total", {},
           static_cast<double>(upstream_failures_.load(std::memory_order_relaxed)));
}

}  // namespace yurt::hub
