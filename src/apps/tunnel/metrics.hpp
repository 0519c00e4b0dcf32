#pragma once

// Prometheus text exposition (format 0.0.4) of the tunnel daemons' counters and gauges.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace yurt::tunnel_app {

/// Named metric families with labelled samples, rendered in the order they were described.
/// Label sets stay bounded because every label value comes from a fixed set (entries, reasons,
/// directions) or from configuration (server addresses).
///
/// @par Thread Safety
/// Not synchronised: the daemons update and render it on their one executor.
class Metrics {
 public:
  using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

  /// Declares a family; `type` is "counter" or "gauge".
  void describe(std::string_view name, std::string_view type, std::string_view help);
  /// Adds `delta` to the sample of `name` with `labels` (created at 0).
  void add(std::string_view name, const Labels& labels = {}, double delta = 1);
  /// Sets a gauge sample.
  void set(std::string_view name, const Labels& labels, double value);
  /// The sample's value (0 when absent): for tests and readiness.
  [[nodiscard]] double value(std::string_view name, const Labels& labels = {}) const;
  [[nodiscard]] std::string render() const;

 private:
  struct Family {
    std::string type;
    std::string help;
    std::map<std::string, double> samples;  // rendered label set -> value
  };
  static std::string label_text(const Labels& labels);

  std::vector<std::string> order_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace yurt::tunnel_app
