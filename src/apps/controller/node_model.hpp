#pragma once

// What the controller reads from and writes to Node objects (core/v1): conditions, taints, zone
// labels and the autonomy annotations. Objects come from the apiserver and are read defensively:
// a field of the wrong type counts as absent, nothing here throws on odd input.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace yurt::controller {

// Well-known taint keys (k8s.io/api core/v1 well_known_taints.go).
inline constexpr std::string_view kTaintNotReady = "node.kubernetes.io/not-ready";
inline constexpr std::string_view kTaintUnreachable = "node.kubernetes.io/unreachable";
inline constexpr std::string_view kTaintUnschedulable = "node.kubernetes.io/unschedulable";
inline constexpr std::string_view kTaintMemoryPressure = "node.kubernetes.io/memory-pressure";
inline constexpr std::string_view kTaintDiskPressure = "node.kubernetes.io/disk-pressure";
inline constexpr std::string_view kTaintPidPressure = "node.kubernetes.io/pid-pressure";
inline constexpr std::string_view kTaintNetworkUnavailable =
    "node.kubernetes.io/network-unavailable";
inline constexpr std::string_view kNoSchedule = "NoSchedule";
inline constexpr std::string_view kNoExecute = "NoExecute";

// Autonomy (architecture D7): either spelling of the flag, and OpenYurt 1.6's bound.
inline constexpr std::string_view kAutonomyAnnotation = "node.beta.openyurt.io/autonomy";
inline constexpr std::string_view kAutonomyAnnotationAlibaba =
    "node.beta.alibabacloud.com/autonomy";
inline constexpr std::string_view kAutonomyDurationAnnotation =
    "node.openyurt.io/autonomy-duration";

/// Nodes with this label are left out of zone disruption accounting, as upstream.
inline constexpr std::string_view kExcludeDisruptionLabel = "node.kubernetes.io/exclude-disruption";

/// One entry of `spec.taints`. `time_added` is kept as written ("" when absent).
struct Taint {
  std::string key;
  std::string value;
  std::string effect;
  std::string time_added;

  /// Taints are identified by key and effect (taintutils.TaintExists / MatchTaint).
  [[nodiscard]] bool matches(std::string_view k, std::string_view e) const noexcept {
    return key == k && effect == e;
  }
  friend bool operator==(const Taint&, const Taint&) = default;
};

/// `spec.taints`; entries that are not objects with a string key and effect are skipped.
[[nodiscard]] std::vector<Taint> taints_of(const nlohmann::json& node);
[[nodiscard]] nlohmann::json to_json(const std::vector<Taint>& taints);
[[nodiscard]] bool has_taint(const std::vector<Taint>& taints,
                             std::string_view key,
                             std::string_view effect) noexcept;

/// `metadata.name` ("" when absent).
[[nodiscard]] std::string name_of(const nlohmann::json& object);
/// A string field of an object, "" when absent or not a string.
[[nodiscard]] std::string string_at(const nlohmann::json& object, std::string_view key);
/// `metadata.labels[key]` / `metadata.annotations[key]`, nullopt when absent.
[[nodiscard]] std::optional<std::string> label(const nlohmann::json& object, std::string_view key);
[[nodiscard]] std::optional<std::string> annotation(const nlohmann::json& object,
                                                    std::string_view key);

/// The entry of `status.conditions` with this type, or null.
[[nodiscard]] const nlohmann::json* find_condition(const nlohmann::json& node,
                                                   std::string_view type);
/// Its `status` ("True", "False", "Unknown"), nullopt without such a condition.
[[nodiscard]] std::optional<std::string> condition_status(const nlohmann::json& node,
                                                          std::string_view type);

/// The NoSchedule taints the node's conditions and `spec.unschedulable` call for
/// (TaintNodesByCondition): Ready False → not-ready, Ready Unknown → unreachable,
/// MemoryPressure/DiskPressure/PIDPressure/NetworkUnavailable True → their taint,
/// unschedulable → node.kubernetes.io/unschedulable.
[[nodiscard]] std::vector<std::string> no_schedule_taint_keys(const nlohmann::json& node);
/// True for the keys no_schedule_taint_keys() manages (so others' taints are left alone).
[[nodiscard]] bool is_condition_taint_key(std::string_view key) noexcept;

/// The zone key of upstream's nodetopology.GetZoneKey: "<region>:\0:<zone>" from
/// topology.kubernetes.io/{region,zone} (falling back to the deprecated failure-domain.beta
/// labels), "" when the node has neither.
[[nodiscard]] std::string zone_key(const nlohmann::json& node);
/// The zone key for logs and metric labels: "region/zone", "" stays "".
[[nodiscard]] std::string printable_zone(std::string_view zone_key);

/// What the annotations say about autonomy.
struct Autonomy {
  bool enabled = false;
  /// How long after the node went NotReady autonomy lasts; nullopt = forever.
  std::optional<std::chrono::nanoseconds> bound;
  /// A problem with the annotations worth a warning (an unparsable duration), else "".
  std::string problem;

  friend bool operator==(const Autonomy&, const Autonomy&) = default;
};

/// Autonomy of a node: enabled by `node.beta.openyurt.io/autonomy` or
/// `node.beta.alibabacloud.com/autonomy` equal to "true" (any case), or by a valid
/// `node.openyurt.io/autonomy-duration` (a Go duration ≥ 0, as OpenYurt 1.6); the duration bounds
/// it, "0" meaning forever. An invalid duration is ignored (with `problem` set): with the flag the
/// node is autonomous forever, without it not at all.
[[nodiscard]] Autonomy autonomy_of(const nlohmann::json& node);

}  // namespace yurt::controller
