#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "yurt/base/result.hpp"
#include "yurt/kube/errors.hpp"
#include "yurt/kube/kubeconfig.hpp"
#include "yurt/kube/request_info.hpp"
#include "yurt/kube/watch.hpp"
#include "yurt/net/asio.hpp"
#include "yurt/net/http.hpp"

namespace yurt::kube {

/// A resource of an API group version, as it appears in request paths
/// (`schema.GroupVersionResource`). The group is "" for the core group.
struct GroupVersionResource {
  std::string group;
  std::string version;
  std::string resource;  ///< plural, lower case: "configmaps", "leases"

  /// "/api/v1" for the core group, else "/apis/<group>/<version>".
  [[nodiscard]] std::string api_prefix() const;
  /// The request path: `<prefix>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]`; an
  /// empty namespace means cluster-scoped or all namespaces. Segments are percent-escaped.
  [[nodiscard]] std::string path(std::string_view namespace_name = {},
                                 std::string_view name = {},
                                 std::string_view subresource = {}) const;
  /// "configmaps", "leases.coordination.k8s.io" (the apiserver's group-resource spelling).
  [[nodiscard]] std::string group_resource() const;

  friend bool operator==(const GroupVersionResource&, const GroupVersionResource&) = default;
};

/// Resources the suite itself talks to.
namespace resources {
[[nodiscard]] inline GroupVersionResource config_maps() {
  return {"", "v1", "configmaps"};
}
[[nodiscard]] inline GroupVersionResource secrets() {
  return {"", "v1", "secrets"};
}
[[nodiscard]] inline GroupVersionResource pods() {
  return {"", "v1", "pods"};
}
[[nodiscard]] inline GroupVersionResource nodes() {
  return {"", "v1", "nodes"};
}
[[nodiscard]] inline GroupVersionResource namespaces() {
  return {"", "v1", "namespaces"};
}
[[nodiscard]] inline GroupVersionResource leases() {
  return {"coordination.k8s.io", "v1", "leases"};
}
}  // namespace resources

/// One page (or, from list_all, every page) of a LIST.
struct ObjectList {
  std::string resource_version;  ///< metadata.resourceVersion of the list: watch from here
  std::string continue_token;    ///< metadata.continue; "" on the last page
  std::optional<std::int64_t> remaining_item_count;
  std::vector<nlohmann::json> items;
};

/// Content types of PATCH.
enum class PatchType {
  Merge,      ///< application/merge-patch+json (RFC 7386)
  Strategic,  ///< application/strategic-merge-patch+json (built-in types only)
  Json,       ///< application/json-patch+json (RFC 6902)
};

/// `metav1.DeleteOptions`, the parts we use.
struct DeleteOptions {
  std::string precondition_resource_version;  ///< delete only this version ("" = any)
  std::string precondition_uid;
  std::string propagation_policy;  ///< "", "Orphan", "Background" or "Foreground"
  std::optional<std::int64_t> grace_period_seconds;
};

/// Tunables of a RestClient beyond what RestConfig says.
struct RestClientOptions {
  /// A response body beyond this fails (net::Errc::TooLarge): a bound against a broken or
  /// hostile server. Large clusters' pod lists reach hundreds of MiB.
  std::size_t max_response_bytes = std::size_t{1} << 30;
  /// list_all's page size when ListOptions::limit is 0: client-go's pager default.
  std::int64_t default_page_size = 500;
};

/// A JSON REST client for the Kubernetes API, built from a RestConfig: TLS with the config's CA
/// and client certificate (or a bearer token, re-read from its file every minute as client-go
/// does, because projected tokens rotate), the user agent, connect and request timeouts. Every
/// request sends `Accept: application/json`; bodies are JSON.
///
/// Typed helpers work for any resource: the caller names a GroupVersionResource and a namespace
/// ("" for cluster-scoped resources or all namespaces).
///
/// @par Thread Safety
/// Not thread-safe: use from the executor it was created on (it owns an net::HttpClient).
/// @par Lifetime
/// Watch streams may outlive the client (they keep their connection).
/// @par Errors
/// A non-2xx answer is the Error of its Status body (`error_from_response`: 404 → NotFound, 409
/// → Conflict/AlreadyExists, 410 → Gone, …); transport failures keep net's codes and messages
/// ("connect 10.0.0.1:6443: Connection refused"); a 2xx body that is not the JSON expected is
/// Errc::Malformed with the request named.
class RestClient {
 public:
  /// Validates `config` (Errc::InvalidConfig) and builds the TLS context (net::Errc::TlsConfig
  /// for bad PEM material).
  [[nodiscard]] static Result<std::unique_ptr<RestClient>> create(net::Executor ex,
                                                                  RestConfig config,
                                                                  RestClientOptions options = {});
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  [[nodiscard]] const RestConfig& config() const noexcept;
  [[nodiscard]] net::Executor get_executor() const noexcept;

  /// GET one object.
  net::asio::awaitable<Result<nlohmann::json>> get(GroupVersionResource resource,
                                                   std::string namespace_name,
                                                   std::string name);

  /// One LIST request (one page when options.limit is set). `options` is `metav1.ListOptions`
  /// (request_info.hpp), the same type the apiserver side parses; `watch` is ignored.
  net::asio::awaitable<Result<ObjectList>> list(GroupVersionResource resource,
                                                std::string namespace_name,
                                                ListOptions options = {});

  /// LIST following `continue` until the last page (page size options.limit, or
  /// default_page_size when 0); the result has every item and the first page's
  /// resourceVersion (all pages of one list share it). If a continue token expires midway (410),
  /// the list starts over once without paging, as client-go's pager does (FullListIfExpired).
  net::asio::awaitable<Result<ObjectList>> list_all(GroupVersionResource resource,
                                                    std::string namespace_name,
                                                    ListOptions options = {});

  /// POST `object` (namespace from the argument; the object's own metadata.namespace, if any,
  /// must agree, which the apiserver checks).
  net::asio::awaitable<Result<nlohmann::json>> create(GroupVersionResource resource,
                                                      std::string namespace_name,
                                                      nlohmann::json object);

  /// PUT `object` to its metadata.name. With metadata.resourceVersion set this is an optimistic
  /// concurrency update: a stale version fails with Errc::Conflict. `subresource` e.g. "status".
  net::asio::awaitable<Result<nlohmann::json>> update(GroupVersionResource resource,
                                                      std::string namespace_name,
                                                      nlohmann::json object,
                                                      std::string subresource = {});

  /// PATCH with `patch` (JSON text) of the given type.
  net::asio::awaitable<Result<nlohmann::json>> patch(GroupVersionResource resource,
                                                     std::string namespace_name,
                                                     std::string name,
                                                     PatchType type,
                                                     std::string patch,
                                                     std::string subresource = {});

  /// DELETE; returns the answer body (the object, now with deletionTimestamp, or a Success
  /// Status).
  net::asio::awaitable<Result<nlohmann::json>> remove(GroupVersionResource resource,
                                                      std::string namespace_name,
                                                      std::string name,
                                                      DeleteOptions options = {});

  /// Opens a WATCH (`watch=true` is implied): events after options.resource_version ("" or "0"
  /// start with synthetic ADDED events for every object); set allow_watch_bookmarks to get
  /// BOOKMARKs. With timeout_seconds the server ends the watch cleanly after that long, and
  /// the client gives up 30 s later if it has not (a peer behind NAT that vanished sends no
  /// RST): Errc::Timeout from next(). Errors of the request itself (HTTP 410 → Gone, 403, …)
  /// come here; later ones from WatchStream::next().
  net::asio::awaitable<Result<WatchStreamPtr>> watch(GroupVersionResource resource,
                                                     std::string namespace_name,
                                                     ListOptions options = {});

  /// Any request: `request.target` is relative to the server URL ("/readyz", "/version");
  /// Host, Authorization, User-Agent and `Accept: application/json` are added unless given.
  /// Returns the response whatever its status (only transport failures are errors).
  net::asio::awaitable<Result<net::Response>> raw(net::Request request);

 private:
  struct Impl;
  explicit RestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The query string (without '?') of a list or watch (`watch=true` when options.watch), keys
/// sorted as client-go's url.Values.Encode writes them, values percent-encoded, empty values
/// omitted. Selectors are written in their canonical form. Exposed for tests and for proxies
/// building requests.
[[nodiscard]] std::string list_query(const ListOptions& options);

/// Percent-encodes `s` for a query value (Go's url.QueryEscape: unreserved bytes kept, ' ' as
/// '+', everything else %XX).
[[nodiscard]] std::string query_escape(std::string_view s);

/// Builds an ObjectList from a LIST response body. Errors (Malformed) when it is not an object
/// with an `items` array of objects.
[[nodiscard]] Result<ObjectList> parse_object_list(std::string_view body);

}  // namespace yurt::kube
