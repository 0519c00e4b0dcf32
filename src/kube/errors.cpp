#include "yurt/kube/errors.hpp"

#include <array>
#include <cstdint>
#include <limits>

#include "src/kube/json_util.hpp"
#include "src/kube/text.hpp"

namespace yurt::kube {
namespace {

class Category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "kube"; }
  [[nodiscard]] std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::BadRequest:
        return "bad request";
      case Errc::Unauthorized:
        return "unauthorized";
      case Errc::Forbidden:
        return "forbidden";
      case Errc::NotFound:
        return "not found";
      case Errc::MethodNotAllowed:
        return "method not allowed";
      case Errc::NotAcceptable:
        return "not acceptable";
      case Errc::AlreadyExists:
        return "already exists";
      case Errc::Conflict:
        return "conflict";
      case Errc::Gone:
        return "resource version expired (gone)";
      case Errc::RequestEntityTooLarge:
        return "request entity too large";
      case Errc::UnsupportedMediaType:
        return "unsupported media type";
      case Errc::Invalid:
        return "invalid";
      case Errc::TooManyRequests:
        return "too many requests";
      case Errc::Internal:
        return "internal error";
      case Errc::ServerTimeout:
        return "server timeout";
      case Errc::ServiceUnavailable:
        return "service unavailable";
      case Errc::Timeout:
        return "timeout";
      case Errc::Unknown:
        return "unknown apiserver error";
      case Errc::Malformed:
        return "malformed data";
      case Errc::InvalidConfig:
        return "invalid configuration";
    }
    return "unknown kube error " + std::to_string(ev);
  }
};

struct ReasonEntry {
  std::string_view reason;
  Errc errc;
};

// Reasons first: two 409s (AlreadyExists/Conflict) and two 410s (Gone/Expired) are only told
// apart by the reason.
constexpr std::array kReasons{
    ReasonEntry{reason::kBadRequest, Errc::BadRequest},
    ReasonEntry{reason::kUnauthorized, Errc::Unauthorized},
    ReasonEntry{reason::kForbidden, Errc::Forbidden},
    ReasonEntry{reason::kNotFound, Errc::NotFound},
    ReasonEntry{reason::kMethodNotAllowed, Errc::MethodNotAllowed},
    ReasonEntry{reason::kNotAcceptable, Errc::NotAcceptable},
    ReasonEntry{reason::kAlreadyExists, Errc::AlreadyExists},
    ReasonEntry{reason::kConflict, Errc::Conflict},
    ReasonEntry{reason::kGone, Errc::Gone},
    ReasonEntry{reason::kExpired, Errc::Gone},
    ReasonEntry{reason::kRequestEntityTooLarge, Errc::RequestEntityTooLarge},
    ReasonEntry{reason::kUnsupportedMediaType, Errc::UnsupportedMediaType},
    ReasonEntry{reason::kInvalid, Errc::Invalid},
    ReasonEntry{reason::kTooManyRequests, Errc::TooManyRequests},
    ReasonEntry{reason::kInternalError, Errc::Internal},
    ReasonEntry{reason::kServerTimeout, Errc::ServerTimeout},
    ReasonEntry{reason::kServiceUnavailable, Errc::ServiceUnavailable},
    ReasonEntry{reason::kTimeout, Errc::Timeout},
};

Errc errc_for_code(int code) noexcept {
  switch (code) {
    case 400:
      return Errc::BadRequest;
    case 401:
      return Errc::Unauthorized;
    case 403:
      return Errc::Forbidden;
    case 404:
      return Errc::NotFound;
    case 405:
      return Errc::MethodNotAllowed;
    case 406:
      return Errc::NotAcceptable;
    case 409:
      return Errc::Conflict;
    case 410:
      return Errc::Gone;
    case 413:
      return Errc::RequestEntityTooLarge;
    case 415:
      return Errc::UnsupportedMediaType;
    case 422:
      return Errc::Invalid;
    case 429:
      return Errc::TooManyRequests;
    case 500:
      return Errc::Internal;
    case 503:
      return Errc::ServiceUnavailable;
    case 504:
      return Errc::Timeout;
    default:
      return Errc::Unknown;
  }
}

// The texts client-go uses when a non-2xx response carries no Status.
std::string_view generic_message(int code) noexcept {
  switch (code) {
    case 400:
      return "the server rejected our request for an unknown reason";
    case 401:
      return "the server has asked for the client to provide credentials";
    case 403:
      return "the server does not allow access to the requested resource";
    case 404:
      return "the server could not find the requested resource";
    case 405:
      return "the server does not allow this method on the requested resource";
    case 406:
      return "the server was unable to respond with a content type that the client supports";
    case 409:
      return "the server reported a conflict";
    case 410:
      return "the server reported that the requested resource is gone";
    case 413:
      return "the server has rejected the request because the entity is too large";
    case 415:
      return "the server was unable to handle the media type of the request";
    case 422:
      return "the server rejected our request due to an error in our request";
    case 429:
      return "the server has received too many requests and has asked us to try again later";
    case 500:
      return "an error on the server has prevented the request from succeeding";
    case 503:
      return "the server is currently unable to handle the request";
    case 504:
      return "the server was unable to return a response in the time allotted";
    default:
      return "the server responded with an unexpected status";
  }
}

Error malformed(std::string message) {
  return fail(Errc::Malformed, std::move(message));
}

Result<std::string> get_string(const nlohmann::json& obj, const char* key, std::string_view where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    return std::string{};
  }
  if (!it->is_string()) {
    return malformed(std::string(where) + "." + key + ": expected a string, got " +
                     std::string(json_util::type_name(*it)));
  }
  return it->get<std::string>();
}

Result<std::optional<int>> get_int(const nlohmann::json& obj,
                                   const char* key,
                                   std::string_view where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    return std::optional<int>{};
  }
  if (!it->is_number_integer()) {
    return malformed(std::string(where) + "." + key + ": expected an integer, got " +
                     std::string(json_util::type_name(*it)));
  }
  // int32 on the wire; is_number_integer covers both signed and unsigned storage.
  if (it->is_number_unsigned()) {
    const auto v = it->get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) {
      return malformed(std::string(where) + "." + key + ": integer out of range");
    }
    return std::optional<int>(static_cast<int>(v));
  }
  const auto v = it->get<std::int64_t>();
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
    return malformed(std::string(where) + "." + key + ": integer out of range");
  }
  return std::optional<int>(static_cast<int>(v));
}

Result<StatusDetails> parse_details(const nlohmann::json& j) {
  if (!j.is_object()) {
    return malformed("Status.details: expected an object, got " +
                     std::string(json_util::type_name(j)));
  }
  StatusDetails d;
  for (auto [field, key] : {std::pair{&d.name, "name"}, std::pair{&d.group, "group"},
                            std::pair{&d.kind, "kind"}, std::pair{&d.uid, "uid"}}) {
    auto v = get_string(j, key, "Status.details");
    if (!v) {
      return v.error();
    }
    *field = std::move(*v);
  }
  auto retry = get_int(j, "retryAfterSeconds", "Status.details");
  if (!retry) {
    return retry.error();
  }
  d.retry_after_seconds = *retry;
  if (auto it = j.find("causes"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) {
      return malformed("Status.details.causes: expected an array, got " +
                       std::string(json_util::type_name(*it)));
    }
    for (const auto& c : *it) {
      if (!c.is_object()) {
        return malformed("Status.details.causes[]: expected an object, got " +
                         std::string(json_util::type_name(c)));
      }
      StatusCause cause;
      for (auto [field, key] :
           {std::pair{&cause.type, "reason"}, std::pair{&cause.message, "message"},
            std::pair{&cause.field, "field"}}) {
        auto v = get_string(c, key, "Status.details.causes[]");
        if (!v) {
          return v.error();
        }
        *field = std::move(*v);
      }
      d.causes.push_back(std::move(cause));
    }
  }
  return d;
}

template <class Json>
Json details_json(const StatusDetails& d) {
  Json out = Json::object();
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) {
      out[key] = v;
    }
  };
  put("name", d.name);
  put("group", d.group);
  put("kind", d.kind);
  put("uid", d.uid);
  if (!d.causes.empty()) {
    Json causes = Json::array();
    for (const auto& c : d.causes) {
      Json cj = Json::object();
      if (!c.type.empty()) {
        cj["reason"] = c.type;
      }
      if (!c.message.empty()) {
        cj["message"] = c.message;
      }
      if (!c.field.empty()) {
        cj["field"] = c.field;
      }
      causes.push_back(std::move(cj));
    }
    out["causes"] = std::move(causes);
  }
  if (d.retry_after_seconds) {
    out["retryAfterSeconds"] = *d.retry_after_seconds;
  }
  return out;
}

// Field order follows the Go struct (TypeMeta, ListMeta, Status, Message, Reason, Details, Code).
template <class Json>
Json status_json(const Status& s) {
  Json out = Json::object();
  out["kind"] = "Status";
  out["apiVersion"] = "v1";
  out["metadata"] = Json::object();
  if (!s.status.empty()) {
    out["status"] = s.status;
  }
  if (!s.message.empty()) {
    out["message"] = s.message;
  }
  if (!s.reason.empty()) {
    out["reason"] = s.reason;
  }
  if (s.details) {
    out["details"] = details_json<Json>(*s.details);
  }
  if (s.code != 0) {
    out["code"] = s.code;
  }
  return out;
}

Status make(int code, std::string_view why, std::string message) {
  Status s;
  s.code = code;
  s.reason = std::string(why);
  s.message = std::move(message);
  return s;
}

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

nlohmann::json to_json(const Status& s) {
  return status_json<nlohmann::json>(s);
}

std::string status_body(const Status& s) {
  return status_json<nlohmann::ordered_json>(s).dump();
}

std::string watch_error_event(const Status& s) {
  nlohmann::ordered_json event = nlohmann::ordered_json::object();
  event["type"] = "ERROR";
  event["object"] = status_json<nlohmann::ordered_json>(s);
  return event.dump() + "\n";
}

Result<Status> parse_status(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return malformed("Status: body is not valid JSON");
  }
  return parse_status_object(j);
}

Result<Status> parse_status_object(const nlohmann::json& j) {
  if (!j.is_object()) {
    return malformed("Status: expected a JSON object, got " + std::string(json_util::type_name(j)));
  }
  auto kind = get_string(j, "kind", "Status");
  if (!kind) {
    return kind.error();
  }
  if (*kind != "Status") {
    return malformed("Status: kind is \"" + text::excerpt(*kind, 64) + "\", not \"Status\"");
  }
  Status s;
  s.status.clear();
  for (auto [field, key] : {std::pair{&s.status, "status"}, std::pair{&s.message, "message"},
                            std::pair{&s.reason, "reason"}}) {
    auto v = get_string(j, key, "Status");
    if (!v) {
      return v.error();
    }
    *field = std::move(*v);
  }
  auto code = get_int(j, "code", "Status");
  if (!code) {
    return code.error();
  }
  s.code = code->value_or(0);
  if (auto it = j.find("details"); it != j.end() && !it->is_null()) {
    auto d = parse_details(*it);
    if (!d) {
      return d.error();
    }
    s.details = std::move(*d);
  }
  return s;
}

Errc errc_for(std::string_view why, int code) noexcept {
  for (const auto& entry : kReasons) {
    if (entry.reason == why) {
      return entry.errc;
    }
  }
  return errc_for_code(code);
}

Error to_error(const Status& s) {
  std::string message = s.message;
  if (message.empty()) {
    message = "the server responded with status " + std::to_string(s.code);
    if (!s.reason.empty()) {
      message += " (" + s.reason + ")";
    }
  }
  return fail(errc_for(s.reason, s.code), std::move(message));
}

Error error_from_response(int http_status, std::string_view body) {
  if (auto s = parse_status(body); s && s->status != "Success") {
    if (s->code == 0) {
      s->code = http_status;
    }
    return to_error(*s);
  }
  std::string message =
      "HTTP " + std::to_string(http_status) + ": " + std::string(generic_message(http_status));
  if (!body.empty()) {
    message += " (body: " + text::excerpt(body, 256) + ")";
  }
  return fail(errc_for_code(http_status), std::move(message));
}

CodeReason code_reason(Errc e) noexcept {
  switch (e) {
    case Errc::BadRequest:
      return {400, reason::kBadRequest};
    case Errc::Unauthorized:
      return {401, reason::kUnauthorized};
    case Errc::Forbidden:
      return {403, reason::kForbidden};
    case Errc::NotFound:
      return {404, reason::kNotFound};
    case Errc::MethodNotAllowed:
      return {405, reason::kMethodNotAllowed};
    case Errc::NotAcceptable:
      return {406, reason::kNotAcceptable};
    case Errc::AlreadyExists:
      return {409, reason::kAlreadyExists};
    case Errc::Conflict:
      return {409, reason::kConflict};
    case Errc::Gone:
      return {410, reason::kExpired};
    case Errc::RequestEntityTooLarge:
      return {413, reason::kRequestEntityTooLarge};
    case Errc::UnsupportedMediaType:
      return {415, reason::kUnsupportedMediaType};
    case Errc::Invalid:
      return {422, reason::kInvalid};
    case Errc::TooManyRequests:
      return {429, reason::kTooManyRequests};
    case Errc::ServerTimeout:
      return {500, reason::kServerTimeout};
    case Errc::ServiceUnavailable:
      return {503, reason::kServiceUnavailable};
    case Errc::Timeout:
      return {504, reason::kTimeout};
    case Errc::Malformed:
      return {400, reason::kBadRequest};
    case Errc::Internal:
    case Errc::Unknown:
    case Errc::InvalidConfig:
      break;
  }
  return {500, reason::kInternalError};
}

Status status_from_error(const Error& e) {
  CodeReason cr{500, reason::kInternalError};
  if (e.code().category() == error_category()) {
    cr = code_reason(static_cast<Errc>(e.code().value()));
  }
  std::string message = e.message().empty() ? e.code().message() : e.message();
  return make(cr.code, cr.reason, std::move(message));
}

std::string GroupResource::str() const {
  if (group.empty()) {
    return std::string(resource);
  }
  return std::string(resource) + "." + std::string(group);
}

namespace {
Status with_details(Status s, GroupResource gr, std::string_view name) {
  StatusDetails d;
  d.name = std::string(name);
  d.group = std::string(gr.group);
  d.kind = std::string(gr.resource);
  s.details = std::move(d);
  return s;
}
}  // namespace

Status not_found(GroupResource gr, std::string_view name) {
  return with_details(
      make(404, reason::kNotFound, gr.str() + " " + text::quote(name) + " not found"), gr, name);
}

Status already_exists(GroupResource gr, std::string_view name) {
  return with_details(
      make(409, reason::kAlreadyExists, gr.str() + " " + text::quote(name) + " already exists"), gr,
      name);
}

Status conflict(GroupResource gr, std::string_view name, std::string_view why) {
  return with_details(make(409, reason::kConflict,
                           "Operation cannot be fulfilled on " + gr.str() + " " +
                               text::quote(name) + ": " + std::string(why)),
                      gr, name);
}

Status expired(std::string_view message) {
  return make(410, reason::kExpired, std::string(message));
}

Status forbidden(GroupResource gr, std::string_view name, std::string_view why) {
  std::string message;
  if (gr.resource.empty() && name.empty()) {
    message = "forbidden: " + std::string(why);
  } else if (name.empty()) {
    message = gr.str() + " is forbidden: " + std::string(why);
  } else {
    message = gr.str() + " " + text::quote(name) + " is forbidden: " + std::string(why);
  }
  return with_details(make(403, reason::kForbidden, std::move(message)), gr, name);
}

Status bad_request(std::string_view message) {
  return make(400, reason::kBadRequest, std::string(message));
}

Status invalid(std::string_view kind, std::string_view name, std::string_view why) {
  Status s = make(422, reason::kInvalid,
                  std::string(kind) + " " + text::quote(name) + " is invalid: " + std::string(why));
  StatusDetails d;
  d.name = std::string(name);
  d.kind = std::string(kind);
  s.details = std::move(d);
  return s;
}

Status method_not_supported(std::string_view kind, std::string_view action) {
  return make(405, reason::kMethodNotAllowed,
              std::string(action) + " is not supported on resources of kind " + text::quote(kind));
}

Status service_unavailable(std::string_view message) {
  return make(503, reason::kServiceUnavailable, std::string(message));
}

Status too_many_requests(std::string_view message, int retry_after_seconds) {
  Status s = make(429, reason::kTooManyRequests, std::string(message));
  StatusDetails d;
  d.retry_after_seconds = retry_after_seconds;
  s.details = std::move(d);
  return s;
}

Status internal_error(std::string_view why) {
  Status s = make(500, reason::kInternalError, "Internal error occurred: " + std::string(why));
  StatusDetails d;
  d.causes.push_back(StatusCause{.type = {}, .message = std::string(why), .field = {}});
  s.details = std::move(d);
  return s;
}

}  // namespace yurt::kube
