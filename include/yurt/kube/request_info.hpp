#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "yurt/base/result.hpp"
#include "yurt/kube/errors.hpp"
#include "yurt/kube/selectors.hpp"

namespace yurt::kube {

/// The list/watch query parameters of `metav1.ListOptions`, decoded as the apiserver decodes them.
struct ListOptions {
  LabelSelector label_selector;  ///< `labelSelector` (empty selects everything)
  FieldSelector field_selector;  ///< `fieldSelector`
  /// `resourceVersion`; "" (unset) and "0" mean different things, see k8s-protocols.md §2.1.
  std::string resource_version;
  std::string resource_version_match;  ///< `resourceVersionMatch`: "", "Exact", "NotOlderThan"
  std::optional<std::int64_t> timeout_seconds;  ///< `timeoutSeconds`
  std::int64_t limit = 0;                       ///< `limit` (0 = no limit)
  std::string continue_token;                   ///< `continue`
  bool watch = false;                           ///< `watch`, or the legacy /watch/ path
  bool allow_watch_bookmarks = false;           ///< `allowWatchBookmarks`
  std::optional<bool> send_initial_events;      ///< `sendInitialEvents`
};

/// What a request to the apiserver asks for: the equivalent of the apiserver's `RequestInfo`
/// (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go), plus the decoded query.
struct RequestInfo {
  /// True for /api/<v>/… and /apis/<g>/<v>/… paths naming a resource; false for /version,
  /// /healthz, /openapi/v2 and the discovery documents (/api, /api/v1, /apis, /apis/<g>/<v>).
  bool is_resource_request = false;
  std::string path;  ///< percent-decoded path
  /// Kube verb: get, list, watch, create, update, patch, delete, deletecollection, proxy; for
  /// non-resource requests the lower-cased HTTP method; "" for other methods on resources.
  std::string verb;
  std::string api_prefix;      ///< "api" or "apis"
  std::string api_group;       ///< "" for the legacy core group
  std::string api_version;     ///< "v1"
  std::string namespace_name;  ///< "" for cluster-scoped and all-namespace requests
  std::string resource;        ///< "pods"
  std::string subresource;     ///< "status", "log", "proxy", "exec"…
  /// The object name: from the path, or for list/watch from `fieldSelector=metadata.name=x`
  /// (as the apiserver does, so that per-object watches authorize and cache per object).
  std::string name;
  /// Path parts from the resource on: {resource, name, subresource, rest…}.
  std::vector<std::string> parts;
  /// For subresource requests (and the legacy proxy verb) the remainder of the path after the
  /// subresource (after the name for the proxy verb), without its leading '/', trailing '/' kept:
  /// `nodes/n1/proxy/metrics/cadvisor` → "metrics/cadvisor".
  std::string subpath;
  /// All query parameters in order, percent- and '+'-decoded.
  std::vector<std::pair<std::string, std::string>> query;
  /// Decoded when verb is list, watch or deletecollection; default otherwise.
  ListOptions list_options;

  /// The first value of a query parameter, as Go's `url.Values.Get` (nullopt when absent).
  [[nodiscard]] std::optional<std::string_view> query_value(std::string_view key) const;
  /// True for long-running requests the apiserver exempts from its request timeout: the verbs
  /// watch and proxy and the subresources attach, exec, proxy, log and portforward.
  [[nodiscard]] bool is_long_running() const;
};

/// Parses an HTTP method and request-target (origin-form "/path?query", or absolute-form
/// "https://host/path?query") into a RequestInfo, with the apiserver's rules.
///
/// Errors (Errc::BadRequest, message names the offending part):
/// - a target that is empty, not a path, or holds control characters or spaces;
/// - a malformed percent escape in path or query ("%zz", "%4"), or a ';' in the query;
/// - a decoded path with control characters, or, in a resource request, an empty segment
///   ("//") or a "." / ".." segment (the apiserver would 404; we refuse so nobody builds cache
///   keys or file names from them);
/// - the legacy special verbs without a resource ("/api/v1/watch");
/// - for list, watch and deletecollection, query values the apiserver cannot decode:
///   non-integer `timeoutSeconds` / `limit`, unparsable `labelSelector` / `fieldSelector`.
/// Boolean parameters never fail: like the apiserver, anything but "false"/"0" is true.
[[nodiscard]] Result<RequestInfo> parse_request_info(std::string_view method,
                                                     std::string_view target);

/// Decodes `%XX` escapes (and '+' as space when `plus_as_space`, the query form). Errors
/// (Errc::BadRequest) on a '%' not followed by two hex digits.
[[nodiscard]] Result<std::string> percent_decode(std::string_view s, bool plus_as_space);

/// Upstream's `path.IsValidPathSegmentName`: not "." or "..", no '/' or '%'.
[[nodiscard]] bool is_valid_path_segment_name(std::string_view name) noexcept;

}  // namespace yurt::kube
