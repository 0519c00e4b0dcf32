// Flags → settings, and the /metrics text.
#include "src/apps/controller/options.hpp"

#include <gtest/gtest.h>

#include "src/apps/controller/metrics.hpp"
#include "test/fakes/fake_clock.hpp"

namespace yurt::controller {
namespace {

using namespace std::chrono_literals;

TEST(ControllerOptions, DefaultsAreTheWalkthroughsAndUpstreams) {
  ControllerOptions o;
  EXPECT_TRUE(o.validate().empty());
  auto s = o.complete();
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(s->lifecycle.grace_period, 40s);
  EXPECT_EQ(s->lifecycle.monitor_period, 5s);
  EXPECT_EQ(s->lifecycle.startup_grace_period, 60s);
  EXPECT_DOUBLE_EQ(s->lifecycle.eviction_rate, 0.1);
  EXPECT_DOUBLE_EQ(s->lifecycle.secondary_eviction_rate, 0.01);
  EXPECT_DOUBLE_EQ(s->lifecycle.unhealthy_zone_threshold, 0.55);
  EXPECT_EQ(s->lifecycle.large_cluster_size_threshold, 50);
  EXPECT_TRUE(s->run_lifecycle);
  EXPECT_TRUE(s->run_approver);
  EXPECT_EQ(s->election.lease_duration, 15s);
  EXPECT_EQ(s->election.renew_deadline, 10s);
  EXPECT_EQ(s->election.retry_period, 2s);
  EXPECT_EQ(s->election_namespace, "kube-system");
  EXPECT_EQ(s->election_name, "yurt-controller-manager");
  EXPECT_NE(s->election.identity.find('_'), std::string::npos) << s->election.identity;
  EXPECT_EQ(s->port, 10271);
}

TEST(ControllerOptions, EveryProblemIsReportedAtOnce) {
  ControllerOptions o;
  o.node_monitor_grace_period = "40";
  o.node_monitor_period = "-1s";
  o.node_eviction_rate = -1;
  o.unhealthy_zone_threshold = 0;
  o.hub_addresses = {"127.0.0.1", "hub"};
  o.controllers = {"*", "-garbagecollector"};
  o.leader_elect_renew_deadline = "20s";
  o.bind_address = "localhost";
  o.port = 70000;
  o.log_format = "xml";
  const auto errors = o.validate();
  const auto has = [&](const std::string& needle) {
    for (const auto& e : errors) {
      if (e.find(needle) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(has("--node-monitor-grace-period: missing unit")) << errors.front();
  EXPECT_TRUE(has("--node-monitor-period: must be positive"));
  EXPECT_TRUE(has("--node-eviction-rate"));
  EXPECT_TRUE(has("--unhealthy-zone-threshold"));
  EXPECT_TRUE(has("\"hub\" is not an IP address"));
  EXPECT_TRUE(has("unknown controller \"garbagecollector\""));
  EXPECT_TRUE(has("leader election"));
  EXPECT_TRUE(has("--bind-address"));
  EXPECT_TRUE(has("70000"));
  EXPECT_TRUE(has("xml"));
  EXPECT_FALSE(o.complete());
}

TEST(ControllerOptions, ControllersFollowKubeControllerManagersSyntax) {
  ControllerOptions o;
  o.controllers = {"*", "-csrapprover"};
  auto s = o.complete();
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->run_lifecycle);
  EXPECT_FALSE(s->run_approver);
  o.controllers = {"csrapprover"};
  s = o.complete();
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->run_lifecycle);
  EXPECT_TRUE(s->run_approver);
  o.node_monitor_period = "50s";
  EXPECT_FALSE(o.validate().empty()) << "the period must be shorter than the grace period";
}

TEST(ControllerMetrics, RendersPrometheusText) {
  ControllerMetrics m;
  m.set_leader(true);
  m.count_csr("approve", "hub-serving", "approved");
  m.count_csr("leave_alone", "none", "signer");
  m.count_csr("leave_alone", "none", "signer");
  m.count_no_execute("r\"1/z\\1");
  m.count_pods_marked(3);
  FakeClock clock;
  NodeLifecycle lc({}, clock);
  const auto text = m.render(&lc);
  EXPECT_NE(text.find("# TYPE yurt_controller_leader gauge\nyurt_controller_leader 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("yurt_controller_csr_decisions_total{verdict=\"leave_alone\",shape=\"none\","
                      "code=\"signer\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("zone=\"r\\\"1/z\\\\1\"} 1\n"), std::string::npos) << "label values escaped";
  EXPECT_NE(text.find("yurt_controller_pods_marked_not_ready_total 3\n"), std::string::npos);
  EXPECT_NE(text.find("yurt_controller_autonomous_offline_nodes 0\n"), std::string::npos);
}

}  // namespace
}  // namespace yurt::controller
