#include "src/apps/tunnel/metrics.hpp"

#include <gtest/gtest.h>

namespace yurt::tunnel_app {
namespace {

TEST(Metrics, RendersPrometheusTextInDescribedOrder) {
  Metrics m;
  m.describe("b_total", "counter", "B things.");
  m.describe("a", "gauge", "A level.");
  m.add("b_total", {{"reason", "no_agent"}});
  m.add("b_total", {{"reason", "no_agent"}}, 2);
  m.add("b_total", {{"reason", "say \"hi\"\n"}});
  EXPECT_EQ(m.value("b_total", {{"reason", "no_agent"}}), 3);
  EXPECT_EQ(m.render(),
            "# HELP b_total B things.\n"
            "# TYPE b_total counter\n"
            "b_total{reason=\"no_agent\"} 3\n"
            "b_total{reason=\"say \\\"hi\\\"\\n\"} 1\n"
            "# HELP a A level.\n"
            "# TYPE a gauge\n"
            "a 0\n");
  m.set("a", {}, 1.5);
  EXPECT_NE(m.render().find("a 1.5\n"), std::string::npos);
}

}  // namespace
}  // namespace yurt::tunnel_app
