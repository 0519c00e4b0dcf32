#pragma once

// JSON helpers shared by the kube sources.

#include <string_view>

#include <nlohmann/json.hpp>

namespace yurt::kube::json_util {

/// The JSON type's name for error messages ("expected a string, got number").
inline std::string_view type_name(const nlohmann::json& j) noexcept {
  if (j.is_string()) {
    return "string";
  }
  if (j.is_boolean()) {
    return "boolean";
  }
  if (j.is_number()) {
    return "number";
  }
  if (j.is_array()) {
    return "array";
  }
  if (j.is_object()) {
    return "object";
  }
  return "null";
}

}  // namespace yurt::kube::json_util
