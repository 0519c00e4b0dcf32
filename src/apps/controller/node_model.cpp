#include "src/apps/controller/node_model.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "yurt/base/strings.hpp"

namespace yurt::controller {

using nlohmann::json;

namespace {

const json* member(const json& object, std::string_view key) {
  if (!object.is_object()) {
    return nullptr;
  }
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<std::string> string_member(const json* object, std::string_view key) {
  if (object == nullptr) {
    return std::nullopt;
  }
  const json* v = member(*object, key);
  if (v == nullptr || !v->is_string()) {
    return std::nullopt;
  }
  return v->get<std::string>();
}

struct ConditionTaint {
  std::string_view condition;
  std::string_view status;
  std::string_view taint;
};

// nodeConditionToTaintKeyStatusMap of the upstream node lifecycle controller.
constexpr std::array<ConditionTaint, 6> kConditionTaints{{
    {"Ready", "False", kTaintNotReady},
    {"Ready", "Unknown", kTaintUnreachable},
    {"MemoryPressure", "True", kTaintMemoryPressure},
    {"DiskPressure", "True", kTaintDiskPressure},
    {"NetworkUnavailable", "True", kTaintNetworkUnavailable},
    {"PIDPressure", "True", kTaintPidPressure},
}};

}  // namespace

std::vector<Taint> taints_of(const json& node) {
  std::vector<Taint> out;
  const json* spec = member(node, "spec");
  const json* taints = spec == nullptr ? nullptr : member(*spec, "taints");
  if (taints == nullptr || !taints->is_array()) {
    return out;
  }
  for (const auto& t : *taints) {
    auto key = string_member(&t, "key");
    auto effect = string_member(&t, "effect");
    if (!key || !effect) {
      continue;
    }
    out.push_back(Taint{*key, string_member(&t, "value").value_or(""), *effect,
                        string_member(&t, "timeAdded").value_or("")});
  }
  return out;
}

json to_json(const std::vector<Taint>& taints) {
  json out = json::array();
  for (const auto& t : taints) {
    json j = {{"key", t.key}, {"effect", t.effect}};
    if (!t.value.empty()) {
      j["value"] = t.value;
    }
    if (!t.time_added.empty()) {
      j["timeAdded"] = t.time_added;
    }
    out.push_back(std::move(j));
  }
  return out;
}

bool has_taint(const std::vector<Taint>& taints,
               std::string_view key,
               std::string_view effect) noexcept {
  return std::any_of(taints.begin(), taints.end(),
                     [&](const Taint& t) { return t.matches(key, effect); });
}

std::string name_of(const json& object) {
  return string_member(member(object, "metadata"), "name").value_or("");
}

std::string string_at(const json& object, std::string_view key) {
  return string_member(&object, key).value_or("");
}

std::optional<std::string> label(const json& object, std::string_view key) {
  const json* metadata = member(object, "metadata");
  return string_member(metadata == nullptr ? nullptr : member(*metadata, "labels"), key);
}

std::optional<std::string> annotation(const json& object, std::string_view key) {
  const json* metadata = member(object, "metadata");
  return string_member(metadata == nullptr ? nullptr : member(*metadata, "annotations"), key);
}

const json* find_condition(const json& node, std::string_view type) {
  const json* status = member(node, "status");
  const json* conditions = status == nullptr ? nullptr : member(*status, "conditions");
  if (conditions == nullptr || !conditions->is_array()) {
    return nullptr;
  }
  for (const auto& c : *conditions) {
    if (string_member(&c, "type") == std::optional<std::string>(type)) {
      return &c;
    }
  }
  return nullptr;
}

std::optional<std::string> condition_status(const json& node, std::string_view type) {
  const json* c = find_condition(node, type);
  if (c == nullptr) {
    return std::nullopt;
  }
  return string_member(c, "status").value_or("");
}

std::vector<std::string> no_schedule_taint_keys(const json& node) {
  std::vector<std::string> keys;
  for (const auto& ct : kConditionTaints) {
    if (condition_status(node, ct.condition) == std::optional<std::string>(ct.status)) {
      keys.emplace_back(ct.taint);
    }
  }
  const json* spec = member(node, "spec");
  const json* unschedulable = spec == nullptr ? nullptr : member(*spec, "unschedulable");
  if (unschedulable != nullptr && unschedulable->is_boolean() && unschedulable->get<bool>()) {
    keys.emplace_back(kTaintUnschedulable);
  }
  return keys;
}

bool is_condition_taint_key(std::string_view key) noexcept {
  return key == kTaintUnschedulable ||
         std::any_of(kConditionTaints.begin(), kConditionTaints.end(),
                     [&](const ConditionTaint& ct) { return ct.taint == key; });
}

std::string zone_key(const json& node) {
  auto zone = label(node, "topology.kubernetes.io/zone");
  if (!zone) {
    zone = label(node, "failure-domain.beta.kubernetes.io/zone");
  }
  auto region = label(node, "topology.kubernetes.io/region");
  if (!region) {
    region = label(node, "failure-domain.beta.kubernetes.io/region");
  }
  const std::string z = zone.value_or("");
  const std::string r = region.value_or("");
  if (z.empty() && r.empty()) {
    return {};
  }
  // Upstream separates with ":\0:" so that a colon inside either part cannot collide.
  std::string key = r;
  key += ':';
  key += '\0';
  key += ':';
  key += z;
  return key;
}

std::string printable_zone(std::string_view key) {
  const auto pos = key.find(std::string_view(":\0:", 3));
  if (pos == std::string_view::npos) {
    return std::string(key);
  }
  return std::string(key.substr(0, pos)) + "/" + std::string(key.substr(pos + 3));
}

Autonomy autonomy_of(const json& node) {
  Autonomy a;
  const bool flag = iequals(annotation(node, kAutonomyAnnotation).value_or(""), "true") ||
                    iequals(annotation(node, kAutonomyAnnotationAlibaba).value_or(""), "true");
  if (auto d = annotation(node, kAutonomyDurationAnnotation)) {
    auto parsed = parse_duration(*d);
    if (parsed && parsed->count() >= 0) {
      a.enabled = true;
      if (parsed->count() > 0) {
        a.bound = *parsed;
      }
      return a;
    }
    a.problem = std::string(kAutonomyDurationAnnotation) + "=" + quote(*d) + " ignored: " +
                (parsed ? std::string("negative duration") : parsed.error().message());
  }
  a.enabled = flag;
  return a;
}

}  // namespace yurt::controller
