#include "src/apps/hub/metrics.hpp"

#include <string>

#include <gtest/gtest.h>

namespace yurt::hub {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(HubMetrics, CountsByComponentVerbCode) {
  HubMetrics m;
  m.count_request("kubelet", "list", "200");
  m.count_request("kubelet", "list", "200");
  m.count_request("kubelet", "watch", "cache");
  m.count_request("", "get", "404");
  m.count_served_from_cache();
  m.count_rejected(false);
  m.count_rejected(true);
  m.count_rejected(true);
  PromWriter w;
  m.render(w);
  const auto& s = w.str();
  EXPECT_TRUE(
      contains(s, "yurthub_requests_total{component=\"kubelet\",verb=\"list\",code=\"200\"} 2\n"));
  EXPECT_TRUE(contains(
      s, "yurthub_requests_total{component=\"kubelet\",verb=\"watch\",code=\"cache\"} 1\n"));
  EXPECT_TRUE(
      contains(s, "yurthub_requests_total{component=\"unknown\",verb=\"get\",code=\"404\"} 1\n"));
  EXPECT_TRUE(contains(s, "yurthub_served_from_cache_total 1\n"));
  EXPECT_TRUE(contains(s, "yurthub_rejected_requests_total{kind=\"short\"} 1\n"));
  EXPECT_TRUE(contains(s, "yurthub_rejected_requests_total{kind=\"long-running\"} 2\n"));
}

TEST(HubMetrics, LabelSetsAreBounded) {
  HubMetrics m;
  for (int i = 0; i < 1000; ++i) {
    m.count_request("agent-" + std::to_string(i), "METHOD" + std::to_string(i), "200");
  }
  PromWriter w;
  m.render(w);
  const auto& s = w.str();
  std::size_t lines = 0;
  for (std::size_t p = s.find("yurthub_requests_total{"); p != std::string::npos;
       p = s.find("yurthub_requests_total{", p + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, HubMetrics::kMaxComponents + 1);  // named ones + "other"
  EXPECT_TRUE(contains(s, "component=\"other\",verb=\"other\",code=\"200\"} " +
                              std::to_string(1000 - HubMetrics::kMaxComponents) + "\n"));
}

}  // namespace
}  // namespace yurt::hub
