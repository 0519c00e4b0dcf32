#include "src/apps/tunnel/metrics.hpp"

#include "yurt/base/prometheus.hpp"

namespace yurt::tunnel_app {

std::string Metrics::label_text(const Labels& labels) {
  if (labels.empty()) {
    return {};
  }
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) {
      out += ',';
    }
    first = false;
    out += k;
    out += "=\"";
    append_prometheus_label_value(out, v);
    out += '"';
  }
  out += '}';
  return out;
}

void Metrics::describe(std::string_view name, std::string_view type, std::string_view help) {
  auto [it, inserted] = families_.try_emplace(std::string(name));
  it->second.type = type;
  it->second.help = help;
  if (inserted) {
    order_.emplace_back(name);
  }
}

void Metrics::add(std::string_view name, const Labels& labels, double delta) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    describe(name, "counter", "");
    it = families_.find(name);
  }
  it->second.samples[label_text(labels)] += delta;
}

void Metrics::set(std::string_view name, const Labels& labels, double value) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    describe(name, "gauge", "");
    it = families_.find(name);
  }
  it->second.samples[label_text(labels)] = value;
}

double Metrics::value(std::string_view name, const Labels& labels) const {
  auto it = families_.find(name);
  if (it == families_.end()) {
    return 0;
  }
  auto s = it->second.samples.find(label_text(labels));
  return s == it->second.samples.end() ? 0 : s->second;
}

std::string Metrics::render() const {
  std::string out;
  for (const auto& name : order_) {
    const auto& f = families_.find(name)->second;
    if (!f.help.empty()) {
      out += "# HELP " + name + " " + f.help + "\n";
    }
    out += "# TYPE " + name + " " + f.type + "\n";
    if (f.samples.empty() && f.type == "gauge") {
      out += name + " 0\n";
    }
    for (const auto& [labels, v] : f.samples) {
      out += name + labels + " " + format_prometheus_value(v) + "\n";
    }
  }
  return out;
}

}  // namespace yurt::tunnel_app
