#include "yurt/base/prometheus.hpp"

#include <gtest/gtest.h>

namespace yurt {
namespace {

TEST(PromWriter, FamiliesSamplesAndEscaping) {
  PromWriter w;
  w.family("x_total", "counter", "Things.");
  w.sample("x_total", {{"a", "q\"uo\\te\nnl"}}, 3);
  w.sample("x_total", {}, 0.5);
  EXPECT_EQ(w.str(),
            "# HELP x_total Things.\n# TYPE x_total counter\n"
            "x_total{a=\"q\\\"uo\\\\te\\nnl\"} 3\nx_total 0.5\n");
}

TEST(PromWriter, ValuesKeepIntegersExact) {
  EXPECT_EQ(format_prometheus_value(1234567890123.0), "1234567890123");
  EXPECT_EQ(format_prometheus_value(-2), "-2");
  EXPECT_EQ(format_prometheus_value(0.25), "0.25");
  EXPECT_EQ(format_prometheus_value(1e20), "1e+20");
}

}  // namespace
}  // namespace yurt
