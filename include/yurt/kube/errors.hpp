#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "yurt/base/result.hpp"

namespace yurt::kube {

/// Error codes of the kube module. The API ones mirror the apiserver's `metav1.StatusReason`s so a
/// `Status` from the wire becomes a code callers can branch on (client-go's `apierrors.IsNotFound`
/// and friends); the last ones are ours, for untrusted bytes and configuration.
enum class Errc {
  BadRequest = 1,    ///< 400, reason BadRequest
  Unauthorized,      ///< 401, reason Unauthorized
  Forbidden,         ///< 403, reason Forbidden
  NotFound,          ///< 404, reason NotFound
  MethodNotAllowed,  ///< 405, reason MethodNotAllowed
  NotAcceptable,     ///< 406, reason NotAcceptable
  AlreadyExists,     ///< 409, reason AlreadyExists
  Conflict,          ///< 409, reason Conflict (stale resourceVersion on update)
  Gone,              ///< 410, reason Expired or Gone: the resourceVersion is too old → relist
  RequestEntityTooLarge,  ///< 413, reason RequestEntityTooLarge
  UnsupportedMediaType,   ///< 415, reason UnsupportedMediaType
  Invalid,                ///< 422, reason Invalid
  TooManyRequests,        ///< 429, reason TooManyRequests
  Internal,               ///< 500, reason InternalError
  ServerTimeout,          ///< 500, reason ServerTimeout
  ServiceUnavailable,     ///< 503, reason ServiceUnavailable
  Timeout,                ///< 504, reason Timeout
  Unknown,                ///< a failure Status or HTTP code we have no better name for
  Malformed,              ///< bytes that do not parse: JSON, YAML, base64, a timestamp, a Status
  InvalidConfig,          ///< a kubeconfig / in-cluster setup that parses but cannot be used
};

/// The category of kube::Errc ("kube").
[[nodiscard]] const std::error_category& error_category() noexcept;
[[nodiscard]] std::error_code make_error_code(Errc e) noexcept;

/// `metav1.StatusReason` spellings, exactly as the apiserver writes them.
namespace reason {
inline constexpr std::string_view kUnauthorized = "Unauthorized";
inline constexpr std::string_view kForbidden = "Forbidden";
inline constexpr std::string_view kNotFound = "NotFound";
inline constexpr std::string_view kAlreadyExists = "AlreadyExists";
inline constexpr std::string_view kConflict = "Conflict";
inline constexpr std::string_view kGone = "Gone";
/// What the apiserver uses for "too old resource version" and expired continue tokens (410).
inline constexpr std::string_view kExpired = "Expired";
inline constexpr std::string_view kInvalid = "Invalid";
inline constexpr std::string_view kServerTimeout = "ServerTimeout";
inline constexpr std::string_view kTimeout = "Timeout";
inline constexpr std::string_view kTooManyRequests = "TooManyRequests";
inline constexpr std::string_view kBadRequest = "BadRequest";
inline constexpr std::string_view kMethodNotAllowed = "MethodNotAllowed";
inline constexpr std::string_view kNotAcceptable = "NotAcceptable";
inline constexpr std::string_view kRequestEntityTooLarge = "RequestEntityTooLarge";
inline constexpr std::string_view kUnsupportedMediaType = "UnsupportedMediaType";
inline constexpr std::string_view kInternalError = "InternalError";
inline constexpr std::string_view kServiceUnavailable = "ServiceUnavailable";
}  // namespace reason

/// `metav1.StatusCause`. On the wire `type` is spelled "reason".
struct StatusCause {
  std::string type;
  std::string message;
  std::string field;
  friend bool operator==(const StatusCause&, const StatusCause&) = default;
};

/// `metav1.StatusDetails`.
struct StatusDetails {
  std::string name;
  std::string group;
  std::string kind;
  std::string uid;
  std::vector<StatusCause> causes;
  std::optional<int> retry_after_seconds;
  friend bool operator==(const StatusDetails&, const StatusDetails&) = default;
};

/// `metav1.Status`: the body of every apiserver error and of watch `ERROR` events.
struct Status {
  std::string status = "Failure";  ///< "Failure" or "Success"
  std::string message;
  std::string reason;  ///< one of reason::k…, or empty
  int code = 0;        ///< the HTTP status code it stands for
  std::optional<StatusDetails> details;
  friend bool operator==(const Status&, const Status&) = default;
};

/// The Status as JSON, fields as the apiserver writes them (empty ones omitted, `metadata: {}`).
[[nodiscard]] nlohmann::json to_json(const Status& s);

/// The Status serialised as a response body, keys in the apiserver's order:
/// `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":…,"reason":…,
/// "details":…,"code":…}`.
[[nodiscard]] std::string status_body(const Status& s);

/// A watch `ERROR` event line carrying `s` (with the trailing '\n' of the JSON watch framing).
[[nodiscard]] std::string watch_error_event(const Status& s);

/// Parses a Status from a response body or a watch ERROR event's object. Errors (Malformed) when
/// the bytes are not JSON, not an object with `kind: Status`, or a field has the wrong type.
[[nodiscard]] Result<Status> parse_status(std::string_view body);
/// Same, from already-parsed JSON (a watch event's `object`).
[[nodiscard]] Result<Status> parse_status_object(const nlohmann::json& object);

/// The Errc a Status stands for: by `reason` when it is a known one, else by `code`
/// (as client-go's `ReasonForError` + code fallbacks do), else Errc::Unknown.
[[nodiscard]] Errc errc_for(std::string_view reason, int code) noexcept;

/// The Error a failure Status stands for; its message is the Status message (or a description
/// of code and reason when the message is empty).
[[nodiscard]] Error to_error(const Status& s);

/// The Error for a non-2xx response: from the body when it is a Status, else from the HTTP code
/// with a short excerpt of the body (like client-go's `NewGenericServerResponse`).
[[nodiscard]] Error error_from_response(int http_status, std::string_view body);

/// A Status for answering a request locally with `e`. Our own codes map to the apiserver's:
/// Gone → 410/Expired (what the apiserver sends for a too-old resourceVersion), Malformed →
/// 400/BadRequest, InvalidConfig and Unknown → 500/InternalError.
[[nodiscard]] Status status_from_error(const Error& e);

/// The HTTP code and reason for an Errc, as used by status_from_error.
struct CodeReason {
  int code;
  std::string_view reason;
};
[[nodiscard]] CodeReason code_reason(Errc e) noexcept;

/// A "group/resource" pair as the apiserver names it in messages: "pods",
/// "leases.coordination.k8s.io".
struct GroupResource {
  std::string_view group;
  std::string_view resource;
  [[nodiscard]] std::string str() const;
};

/// Builders with the apiserver's message formats (apimachinery `api/errors`).
/// `pods "foo" not found` (404, details name/group/kind=resource).
[[nodiscard]] Status not_found(GroupResource gr, std::string_view name);
/// `pods "foo" already exists` (409).
[[nodiscard]] Status already_exists(GroupResource gr, std::string_view name);
/// `Operation cannot be fulfilled on pods "foo": <why>` (409).
[[nodiscard]] Status conflict(GroupResource gr, std::string_view name, std::string_view why);
/// 410 with reason Expired, e.g. "too old resource version: 5 (10)".
[[nodiscard]] Status expired(std::string_view message);
/// `pods "foo" is forbidden: <why>` (403); without a name `pods is forbidden: <why>`.
[[nodiscard]] Status forbidden(GroupResource gr, std::string_view name, std::string_view why);
/// 400 with reason BadRequest.
[[nodiscard]] Status bad_request(std::string_view message);
/// `<kind> "<name>" is invalid: <why>` (422).
[[nodiscard]] Status invalid(std::string_view kind, std::string_view name, std::string_view why);
/// `<action> is not supported on resources of kind "<kind>"` (405).
[[nodiscard]] Status method_not_supported(std::string_view kind, std::string_view action);
/// 503 with reason ServiceUnavailable.
[[nodiscard]] Status service_unavailable(std::string_view message);
/// 429 with details.retryAfterSeconds.
[[nodiscard]] Status too_many_requests(std::string_view message, int retry_after_seconds);
/// `Internal error occurred: <why>` (500).
[[nodiscard]] Status internal_error(std::string_view why);

}  // namespace yurt::kube

template <>
struct std::is_error_code_enum<yurt::kube::Errc> : std::true_type {};
