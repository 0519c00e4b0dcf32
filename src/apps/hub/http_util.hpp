#pragma once

// Header handling of the proxy: content negotiation (architecture D1), hop-by-hop fields, the
// client's component, and metav1.Status answers.

#include <string>
#include <string_view>

#include "yurt/kube/errors.hpp"
#include "yurt/net/http.hpp"

namespace yurt::hub {

/// The `Accept` to send upstream for a request whose response we parse (D1): each
/// protobuf or CBOR clause becomes `application/json` with its other parameters kept
/// (`;as=Table;g=meta.k8s.io;v=v1`; the protobuf-only `stream=watch` is dropped), duplicates
/// removed, order kept. Empty → `application/json`.
[[nodiscard]] std::string rewrite_accept(std::string_view accept);

/// True for header fields that belong to one connection and are never forwarded (RFC 9110
/// §7.6.1): Connection, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade, and any
/// field named in `connection` (the Connection header's value).
[[nodiscard]] bool is_hop_by_hop(std::string_view name, std::string_view connection);

/// True when the request asks to switch protocols (SPDY/WebSocket exec, attach, port-forward):
/// `Connection: upgrade` and an `Upgrade` field.
[[nodiscard]] bool is_upgrade_request(const net::Headers& headers);

/// The client's component: its User-Agent up to the first '/', lower-cased and trimmed
/// ("kubelet/v1.32.4 (linux/amd64) kubernetes/…" → "kubelet"); "" without a User-Agent.
[[nodiscard]] std::string component_of(std::string_view user_agent);

/// True when the request carries credentials of its own (`Authorization: Bearer …`, or any
/// Authorization scheme): it is forwarded with them and without the hub's client certificate.
[[nodiscard]] bool has_own_credentials(const net::Headers& headers);

/// A response carrying `status` as a metav1.Status JSON body (Content-Type application/json).
[[nodiscard]] net::Response status_response(const kube::Status& status);

/// True when `content_type` is JSON (`application/json` with any parameters).
[[nodiscard]] bool is_json(std::string_view content_type);

}  // namespace yurt::hub
