#pragma once

// Private to yurt_hub_cache: which requests and responses the cache deals with, and how
// discovery documents are keyed. Implemented in cache_core.cpp.

#include <optional>
#include <string>
#include <string_view>

#include "yurt/kube/request_info.hpp"
#include "yurt/net/http.hpp"

#include "src/apps/hub/cache/cache_core.hpp"

namespace yurt::hub {

/// Never recorded, whoever asks: credentials and authorization decisions (certificates.k8s.io,
/// authorization.k8s.io, authentication.k8s.io), events (writes; nobody on a node reads them)
/// and subresources other than `status` (tokens, logs, exec, scale… are not the object).
[[nodiscard]] bool never_recorded(const kube::RequestInfo& info);

/// The namespace of the objects a request addresses: the request's, except for Namespace objects
/// (`/api/v1/namespaces/x` names namespace x, which is cluster-scoped).
[[nodiscard]] std::string object_namespace(const kube::RequestInfo& info);

/// True for the `events` of the core group and of events.k8s.io.
[[nodiscard]] bool is_event(const kube::RequestInfo& info);

/// True for this node's Lease in kube-node-lease (`name` may be empty for a create).
[[nodiscard]] bool is_node_lease(const RequestContext& req);

/// The media types a client decoding by Content-Type accepts as JSON: JSON itself, wildcards,
/// and protobuf/CBOR (D1: the proxy answers those in JSON; client-go decodes by Content-Type).
[[nodiscard]] bool json_like(std::string_view media_type);

/// True when the request's Accept lets us answer with a plain JSON object (empty Accept, or a
/// JSON-like range without `as=`): Table and PartialObjectMetadata cannot be served.
[[nodiscard]] bool accepts_plain_json(const net::Request& request);

/// A discovery document path: /version, /api, /api/<v>, /apis, /apis/<g>/<v>.
struct DiscoveryDoc {
  std::string doc;            ///< "version", "api" or "apis"
  std::string group_version;  ///< "_" for the root documents, "v1", "v1.apps"
};
[[nodiscard]] std::optional<DiscoveryDoc> discovery_doc(std::string_view path);

/// "json" for the legacy (or /version) representation; "APIGroupDiscoveryList.<v>.<g>" for
/// aggregated discovery (`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`);
/// nullopt for anything else.
[[nodiscard]] std::optional<std::string> discovery_representation(const MediaRange& range);
/// The Content-Type that goes with a representation.
[[nodiscard]] std::string discovery_content_type(std::string_view representation);
/// `_discovery/<doc>/<group_version>/<representation>`.
[[nodiscard]] std::string discovery_key(const DiscoveryDoc& doc, std::string_view representation);

}  // namespace yurt::hub
