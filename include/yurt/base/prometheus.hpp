#pragma once

// The Prometheus text exposition format (version 0.0.4), shared by every daemon's /metrics.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace yurt {

/// Appends a label value escaped as the format requires: backslash, double quote, newline.
void append_prometheus_label_value(std::string& out, std::string_view value);

/// A sample value: integers (below 1e15) without a decimal point, others with %g.
[[nodiscard]] std::string format_prometheus_value(double value);

/// Writes `# HELP`, `# TYPE`, then samples with label values escaped.
class PromWriter {
 public:
  using Labels = std::vector<std::pair<std::string_view, std::string_view>>;
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const Labels& labels, double value);
  [[nodiscard]] const std::string& str() const noexcept { return out_; }

 private:
  std::string out_;
};

}  // namespace yurt
