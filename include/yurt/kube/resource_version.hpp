#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "yurt/base/result.hpp"
#include "yurt/kube/errors.hpp"

namespace yurt::kube {

/// resourceVersions are opaque strings to clients: the API only promises equality, and that a
/// watch resumes after the RV it was given. In practice every apiserver backed by etcd writes
/// the etcd revision as a decimal integer, so a newer write has a larger number. yurthub relies
/// on that (as OpenYurt's does) for one thing only: not letting a late, older watch event
/// overwrite a newer cached object. Everything below therefore treats an RV that is not a plain
/// decimal as "cannot order" and never as an error. See k8s-protocols.md §2.1.

/// The RV as an etcd revision: decimal digits without sign or leading zeros ("0" itself is
/// allowed; it is the "any version" request value, never an object's RV). nullopt otherwise.
[[nodiscard]] std::optional<std::uint64_t> parse_resource_version(std::string_view rv) noexcept;

/// How two RVs order when both are revisions: less/equal/greater; `unordered` when either is
/// not (the result of comparing opaque strings is unknown, not "different").
[[nodiscard]] std::partial_ordering compare_resource_versions(std::string_view a,
                                                              std::string_view b) noexcept;

/// The cache guard: true when an object at `incoming` should replace one stored at `stored`.
/// Newer revisions replace; equal or older ones do not (a replayed or reordered event); when
/// the two cannot be ordered the incoming one wins, since it is what the apiserver sent last.
[[nodiscard]] bool should_replace(std::string_view stored, std::string_view incoming) noexcept;

/// `metadata.resourceVersion` of an object ("" when absent or not a string).
[[nodiscard]] std::string resource_version_of(const nlohmann::json& object);

/// client-go's `MetaNamespaceKeyFunc`: "namespace/name", or "name" for cluster-scoped objects.
/// Errors (Errc::Malformed) when the object is not a JSON object or has no string
/// `metadata.name`, or a non-string namespace.
[[nodiscard]] Result<std::string> object_key(const nlohmann::json& object);

/// The key for a namespace and name, as object_key builds it.
[[nodiscard]] std::string object_key(std::string_view namespace_name, std::string_view name);

/// Splits a key from object_key into {namespace, name} ("" namespace for "name"). Errors
/// (Errc::Malformed) on more than one '/' or an empty name.
struct ObjectKey {
  std::string namespace_name;
  std::string name;
};
[[nodiscard]] Result<ObjectKey> split_object_key(std::string_view key);

}  // namespace yurt::kube
