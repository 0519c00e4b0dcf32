#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "yurt/base/result.hpp"
#include "yurt/storage/errc.hpp"

/// The key scheme of the cache (architecture D2):
///
///     <component>/<resource>.<version>.<group>/<namespace>/<name>
///     kubelet/pods.v1.core/kube-system/coredns-5d78c9869d-abcde
///     kube-proxy/nodes.v1.core/_/edge-1
///
/// A key is always exactly four non-empty `/`-separated segments, so on disk every object is a
/// file at depth four and never collides with a directory. The core API group is written "core"
/// (as OpenYurt does; a real group "core" cannot exist, CRD groups contain a dot) and a
/// cluster-scoped object's namespace is "_" (namespaces are DNS labels and cannot be "_").
/// make_key() escapes what Kubernetes allows in names but a file name must not carry, so every
/// object Kubernetes can hold has a key.
namespace yurt::storage {

inline constexpr std::size_t kKeySegments = 4;
/// NAME_MAX: each segment is a file or directory name.
inline constexpr std::size_t kMaxSegmentBytes = 255;
inline constexpr std::size_t kMaxKeyBytes = kKeySegments * (kMaxSegmentBytes + 1) - 1;
/// Namespace segment of cluster-scoped objects.
inline constexpr std::string_view kClusterScope = "_";
/// Group segment of the legacy core API group ("" in apiVersion "v1").
inline constexpr std::string_view kCoreGroup = "core";

/// Checks the rules every Store enforces, whoever built the key: exactly four segments, none
/// empty, none starting with '.' (so no ".", "..", hidden or temporary files), no control
/// characters or NUL, each segment at most kMaxSegmentBytes. The key is used verbatim as a
/// relative path, so passing this check is what makes a path escape impossible.
/// Errors: Errc::InvalidKey with the offending segment named.
[[nodiscard]] Result<void> validate_key(std::string_view key);

/// A prefix for replace_prefix(): one to three whole valid segments, each followed by '/'
/// ("kubelet/", "kubelet/pods.v1.core/", "kubelet/pods.v1.core/default/"). A partial segment
/// ("kubelet/pod") is refused because it would also match "kubelet/podtemplates…".
[[nodiscard]] Result<void> validate_prefix(std::string_view prefix);

/// The parts of a key, unescaped, as Kubernetes names them.
struct KeyParts {
  std::string component{};   ///< client identity: User-Agent before the first '/', e.g. "kubelet"
  std::string group{};       ///< API group, "" for the core group
  std::string version{};     ///< "v1"
  std::string resource{};    ///< plural resource, "pods"
  std::string namespace_{};  ///< "" for cluster-scoped objects
  std::string name{};

  friend bool operator==(const KeyParts&, const KeyParts&) = default;
};

/// Builds the key of one object. `component`, `namespace_` and `name` are escaped
/// percent-style where needed ('%', '/', control bytes anywhere; a leading '.'; a whole "_"), so
/// a ClusterRole named "system:node" or a hostile User-Agent still maps to one safe file name.
/// `resource`, `version` and `group` must already be valid Kubernetes identifiers
/// ([a-z0-9-], group also '.').
/// Errors: Errc::InvalidKey (empty component/resource/version/name, bad identifier characters,
/// a segment longer than kMaxSegmentBytes after escaping).
[[nodiscard]] Result<std::string> make_key(const KeyParts& parts);

/// "<component>/<resource>.<version>.<group>/": every object of one resource seen by one
/// component (the prefix a full LIST replaces). Ignores namespace_ and name.
[[nodiscard]] Result<std::string> make_resource_prefix(const KeyParts& parts);

/// "<component>/<resource>.<version>.<group>/<namespace>/": one namespace of that resource
/// (namespace_ "" selects the cluster-scoped objects). Ignores name.
[[nodiscard]] Result<std::string> make_namespace_prefix(const KeyParts& parts);

/// Inverse of make_key(). Errors: Errc::InvalidKey for keys make_key() cannot have produced.
[[nodiscard]] Result<KeyParts> parse_key(std::string_view key);

}  // namespace yurt::storage
