#include "src/apps/hub/cache/offline.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>
#include <spdlog/spdlog.h>

#include "yurt/base/log.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/kube/errors.hpp"
#include "yurt/kube/resource_version.hpp"
#include "yurt/kube/time.hpp"

#include "src/apps/hub/cache/classify.hpp"

namespace yurt::hub {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

// The apiserver accepts request bodies up to about 3 MiB; a Lease or an Event is far smaller.
constexpr std::size_t kMaxRequestBody = std::size_t{3584} * 1024;
// A watch without timeoutSeconds: the apiserver's --min-request-timeout default. No jitter:
// offline re-watches are local and cheap, and the cloud's return ends all of them anyway.
constexpr std::chrono::seconds kDefaultWatchTimeout{1800};
// What the kubelet asks for (nodeLeaseDurationSeconds default), for a Lease we never saw.
constexpr int kSynthesizedLeaseSeconds = 40;
constexpr std::string_view kNodeLeaseNamespace = "kube-node-lease";
constexpr std::string_view kInitialEventsEnd = "k8s.io/initial-events-end";
// An offline service-account token expires this soon, so that the kubelet asks again at its next
// volume sync and swaps it for a real one once the cloud is back.
constexpr std::chrono::seconds kPlaceholderTokenLifetime{60};
// What the kubelet asks for its kube-api-access volumes; used when the request is protobuf.
constexpr std::int64_t kDefaultTokenExpirationSeconds = 3607;
constexpr std::string_view kPlaceholderToken = "yurthub-offline-placeholder-not-a-credential";

spdlog::logger& logger() {
  return log::get("hub");
}

std::string string_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return {};
  }
  return it->get<std::string>();
}

std::string metadata_string(const json& object, const char* key) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    return {};
  }
  return string_field(*meta, key);
}

kube::Status not_acceptable(std::string message) {
  kube::Status s;
  s.code = 406;
  s.reason = std::string(kube::reason::kNotAcceptable);
  s.message = std::move(message);
  return s;
}

// Names and versions come percent-decoded from the request and may not be UTF-8; a default
// dump() would throw on them. Invalid bytes become U+FFFD.
std::string to_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string valid_utf8(const std::string& s) {
  return json::parse(to_text(json(s))).get<std::string>();
}

std::string unreachable(std::string_view what) {
  return "yurthub: the apiserver is unreachable; " + std::string(what) +
         " cannot be served from the cache";
}

/// One offline answer. Lives in serve_offline()'s frame for the duration of the request.
class Offline {
 public:
  Offline(CacheCore& core,
          const RequestContext& req,
          net::ServerExchange& exchange,
          HealthView& health)
      : core_(core),
        req_(req),
        info_(req.info),
        ex_(exchange),
        health_(health),
        rid_(ResourceId::of(req)) {}

  asio::awaitable<void> run() {
    if (!info_.is_resource_request) {
      co_await non_resource();
      co_return;
    }
    const std::string& verb = info_.verb;
    const bool read = verb == "get" || verb == "list" || verb == "watch";
    if (read && !accepts_plain_json(*req_.request)) {
      const kube::Status status = not_acceptable(
          "yurthub: the apiserver is unreachable and the cache answers only with plain JSON "
          "objects; Table and PartialObjectMetadata cannot be served");
      co_await refuse(status);
      co_return;
    }
    if (is_node_lease(req_)) {
      if (verb == "get") {
        co_await lease_get();
        co_return;
      }
      if (verb == "update" || verb == "create") {
        co_await lease_write();
        co_return;
      }
    }
    if (verb == "get" && (info_.subresource.empty() || info_.subresource == "status")) {
      co_await get();
    } else if (verb == "list") {
      co_await list();
    } else if (verb == "watch") {
      co_await watch();
    } else if (is_event(info_) && (verb == "create" || verb == "update" || verb == "patch")) {
      co_await event_write();
    } else if (verb == "create" && is_token_request()) {
      co_await token_request();
    } else if (is_node_status(verb)) {
      co_await node_status();
    } else if (verb == "create" && info_.subresource.empty()) {
      co_await create();
    } else {
      const kube::Status status = kube::service_unavailable(unreachable(verb + " " + what()));
      co_await refuse(status);
    }
  }

 private:
  // "pods", "pods/status", "leases.coordination.k8s.io".
  [[nodiscard]] std::string what() const {
    std::string s = rid_.group_resource();
    if (!info_.subresource.empty()) {
      s += "/" + info_.subresource;
    }
    return s;
  }

  [[nodiscard]] bool is_node_status(const std::string& verb) const {
    return (verb == "patch" || verb == "update") && info_.api_group.empty() &&
           info_.resource == "nodes" && info_.subresource == "status" && !req_.node_name.empty() &&
           info_.name == req_.node_name;
  }

  asio::awaitable<void> respond(int status,
                                std::string body,
                                std::string content_type = "application/json") {
    net::Response response;
    response.status = status;
    response.headers.add("Content-Type", std::move(content_type));
    response.body = std::move(body);
    auto sent = co_await ex_.respond(std::move(response));
    if (!sent && log::enabled(4)) {
      logger().debug("cache: offline answer to {} not sent: {}", req_.request->target,
                     sent.error().what());
    }
  }

  asio::awaitable<void> serve_json(int status, std::string body) {
    ++core_.counters().served_offline;
    co_await respond(status, std::move(body));
  }

  asio::awaitable<void> refuse(const kube::Status& status) {
    ++core_.counters().refused_offline;
    if (log::enabled(4)) {
      logger().debug("cache: offline {} {} → {} {}", req_.request->method, req_.request->target,
                     status.code, status.message);
    }
    kube::Status safe = status;
    safe.message = valid_utf8(safe.message);
    if (safe.details) {
      safe.details->name = valid_utf8(safe.details->name);
    }
    std::string body = kube::status_body(safe);
    co_await respond(safe.code, std::move(body));
  }

  // ---- reads --------------------------------------------------------------------------------

  asio::awaitable<void> get() {
    auto value = core_.object(rid_, object_namespace(info_), info_.name);
    if (!value) {
      const kube::Status status = kube::not_found({info_.api_group, info_.resource}, info_.name);
      co_await refuse(status);
      co_return;
    }
    co_await serve_json(200, *value);
  }

  // Checks a LIST/WATCH's field selector as the apiserver would; an error Status or nullopt.
  [[nodiscard]] std::optional<kube::Status> check_fields() const {
    if (auto supported = info_.list_options.field_selector.check_supported(rid_.ref());
        !supported) {
      return kube::bad_request(supported.error().message());
    }
    return std::nullopt;
  }

  // The objects of the view the request selects (stored bytes, sorted by key).
  [[nodiscard]] std::vector<storage::Value> selected(const Part& part) const {
    std::vector<storage::Value> out;
    for (auto& object : core_.objects(rid_, part.namespace_name)) {
      if (!part.unselective() && !core_.selects(rid_, part, object)) {
        continue;  // decided from the object index: stored bytes are not parsed
      }
      out.push_back(std::move(object.value));
    }
    return out;
  }

  // The kind of one item: from the part record, a stored object, or the built-in table.
  [[nodiscard]] std::string item_kind(const std::optional<PartRecord>& record) const {
    if (record && !record->kind.empty()) {
      return record->kind;
    }
    if (auto kind = builtin_kind(rid_.group, rid_.resource); !kind.empty()) {
      return std::string(kind);
    }
    for (const auto& object : core_.objects(rid_, "")) {
      if (auto parsed = parse_json(*object.value)) {
        if (auto kind = string_field(*parsed, "kind"); !kind.empty()) {
          return kind;
        }
      }
    }
    return {};
  }

  [[nodiscard]] std::string never_listed() const {
    const Part part = Part::of(req_);
    std::string s = info_.verb + " " + rid_.group_resource();
    s +=
        part.namespace_name.empty() ? " in all namespaces" : " in namespace " + part.namespace_name;
    if (!part.labels.empty()) {
      s += " labelSelector=" + part.labels.to_string();
    }
    if (!part.fields.empty()) {
      s += " fieldSelector=" + part.fields.to_string();
    }
    return s + " (never listed completely by " +
           (req_.component.empty() ? std::string("this client") : req_.component) + ")";
  }

  asio::awaitable<void> list() {
    if (auto bad = check_fields()) {
      co_await refuse(*bad);
      co_return;
    }
    if (!info_.list_options.continue_token.empty()) {
      // A pagination begun online; our answers are never paginated, so start over.
      const kube::Status status = kube::expired(
          "The provided continue parameter is too old to display a consistent list result. You "
          "can start a new list without the continue parameter.");
      co_await refuse(status);
      co_return;
    }
    const Part part = Part::of(req_);
    auto record = core_.covering(rid_, part);
    if (!record) {
      const kube::Status status = kube::service_unavailable(unreachable(never_listed()));
      co_await refuse(status);
      co_return;
    }
    const std::string kind = item_kind(record);
    std::string body = R"({"kind":)" + to_text(kind + "List") + R"(,"apiVersion":)" +
                       to_text(rid_.api_version()) + R"(,"metadata":{"resourceVersion":)" +
                       to_text(record->resource_version) + R"(},"items":[)";
    bool first = true;
    for (const auto& value : selected(part)) {
      if (!first) {
        body += ',';
      }
      first = false;
      body += *value;
    }
    body += "]}";
    co_await serve_json(200, std::move(body));
  }

  // ---- watch --------------------------------------------------------------------------------

  [[nodiscard]] std::string bookmark_line(const std::string& kind,
                                          const std::string& rv,
                                          bool initial_events_end) const {
    json object{{"kind", kind},
                {"apiVersion", rid_.api_version()},
                {"metadata", {{"resourceVersion", rv}}}};
    if (initial_events_end) {
      object["metadata"]["annotations"] = {{std::string(kInitialEventsEnd), "true"}};
    }
    return to_text(json{{"type", "BOOKMARK"}, {"object", std::move(object)}}) + "\n";
  }

  asio::awaitable<void> watch() {
    // A graceful server stop must end offline watches too: they would wait for 30 minutes.
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    const auto& opts = info_.list_options;
    const bool watch_list = opts.send_initial_events.value_or(false);
    if (watch_list && opts.resource_version_match != "NotOlderThan") {
      const kube::Status status =
          kube::invalid("ListOptions", "",
                        "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                        "resourceVersionMatch to NotOlderThan");
      co_await refuse(status);
      co_return;
    }
    if (watch_list && !opts.allow_watch_bookmarks) {
      const kube::Status status =
          kube::invalid("ListOptions", "",
                        "allowWatchBookmarks: Required value: sendInitialEvents requires setting "
                        "allowWatchBookmarks to true");
      co_await refuse(status);
      co_return;
    }
    if (auto bad = check_fields()) {
      co_await refuse(*bad);
      co_return;
    }
    const std::string& rv = opts.resource_version;
    const bool initial = opts.send_initial_events.value_or(rv.empty() || rv == "0");
    const Part part = Part::of(req_);
    auto record = core_.covering(rid_, part);
    if (initial && !record) {
      const kube::Status status = kube::service_unavailable(unreachable(never_listed()));
      co_await refuse(status);
      co_return;
    }
    const std::string kind = item_kind(record);

    net::Response head;
    head.headers.add("Content-Type", "application/json");
    if (auto started = co_await ex_.start_response(std::move(head)); !started) {
      co_return;
    }
    ++core_.counters().served_offline;

    std::string bookmark_rv = rv;
    if (initial) {
      bookmark_rv = record->resource_version;
      for (const auto& value : selected(part)) {
        std::string line = R"({"type":"ADDED","object":)" + *value + "}\n";
        if (auto sent = co_await ex_.write(line); !sent) {
          co_return;
        }
      }
      if (watch_list) {
        std::string line = bookmark_line(kind, bookmark_rv, true);
        if (auto sent = co_await ex_.write(line); !sent) {
          co_return;
        }
      }
    } else if (record && newer(record->resource_version, rv)) {
      // The client missed changes the cache has seen since (its RV is older than the view's):
      // what the apiserver says for a too old RV, so it relists — from the cache.
      std::string line = kube::watch_error_event(kube::expired(
          valid_utf8("too old resource version: " + rv + " (" + record->resource_version + ")")));
      if (auto sent = co_await ex_.write(line); sent) {
        co_await ex_.finish();
      }
      co_return;
    }

    std::string bookmark;
    if (opts.allow_watch_bookmarks && !kind.empty() && !bookmark_rv.empty() && bookmark_rv != "0") {
      bookmark = bookmark_line(kind, bookmark_rv, false);
    }
    auto timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(kDefaultWatchTimeout);
    if (opts.timeout_seconds && *opts.timeout_seconds > 0) {
      timeout = std::chrono::seconds(*opts.timeout_seconds);
    }
    const auto deadline = core_.clock().monotonic() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    try {
      using namespace asio::experimental::
          awaitable_operators;  // NOLINT(google-build-using-namespace)
      co_await (pump(std::move(bookmark), deadline) || cloud_back());
    } catch (const boost::system::system_error& e) {
      if (e.code() != asio::error::operation_aborted) {
        throw;
      }
    }
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) {
      co_return;  // stopping: the server closes the connection
    }
    // A clean end of the chunked body: the client re-watches, against the apiserver if it is back.
    co_await ex_.finish();
  }

  // Bookmarks every offline_bookmark_interval until the deadline. The children of a parallel
  // group start with the default terminal-only filter; accepting total cancellation here is what
  // lets a graceful stop reach them (docs/net.md, pitfall 1).
  asio::awaitable<void> pump(std::string bookmark, std::chrono::steady_clock::time_point deadline) {
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        core_.settings().offline_bookmark_interval);
    for (;;) {
      const auto now = core_.clock().monotonic();
      if (now >= deadline) {
        co_return;
      }
      auto wait = deadline - now;
      const bool send = !bookmark.empty() && interval.count() > 0 && interval < wait;
      if (send) {
        wait = interval;
      }
      co_await core_.sleep(std::chrono::duration_cast<std::chrono::nanoseconds>(wait));
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        co_return;
      }
      if (send) {
        if (auto sent = co_await ex_.write(bookmark); !sent) {
          co_return;  // the client is gone
        }
      }
    }
  }

  asio::awaitable<void> cloud_back() {
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_await health_.wait_healthy();
  }

  // ---- the node Lease -----------------------------------------------------------------------

  // What we last answered, else the cached Lease, else one made up so the kubelet's lease
  // controller has something to renew (a 404 would make it POST, and we cannot create).
  [[nodiscard]] json current_lease() const {
    if (auto remembered = core_.remembered_lease(req_.node_name)) {
      if (auto parsed = parse_json(*remembered)) {
        return *parsed;
      }
    }
    if (auto cached = core_.object(rid_, kNodeLeaseNamespace, req_.node_name)) {
      if (auto parsed = parse_json(*cached); parsed && parsed->is_object()) {
        return *parsed;
      }
    }
    const std::string now = kube::format_rfc3339_micro(
        std::chrono::time_point_cast<std::chrono::microseconds>(core_.clock().now()));
    return json{
        {"kind", "Lease"},
        {"apiVersion", "coordination.k8s.io/v1"},
        {"metadata",
         {{"name", req_.node_name}, {"namespace", kNodeLeaseNamespace}, {"resourceVersion", "1"}}},
        {"spec",
         {{"holderIdentity", req_.node_name},
          {"leaseDurationSeconds", kSynthesizedLeaseSeconds},
          {"renewTime", now}}}};
  }

  asio::awaitable<void> lease_get() {
    std::string lease = to_text(current_lease());
    co_await serve_json(200, std::move(lease));
  }

  asio::awaitable<void> lease_write() {
    auto body = co_await ex_.read_body(kMaxRequestBody);
    json current = current_lease();
    std::optional<json> sent;
    if (body) {
      // The kubelet sends protobuf unless configured for JSON; only JSON can be taken as is.
      if (auto parsed = parse_json(*body); parsed && parsed->is_object() &&
                                           metadata_string(*parsed, "name") == req_.node_name &&
                                           string_field(*parsed, "kind") != "Status") {
        sent = std::move(*parsed);
      }
    }
    // The next RV after both what we answered last and what the client holds.
    std::uint64_t rv = kube::parse_resource_version(kube::resource_version_of(current)).value_or(0);
    json lease = std::move(current);
    if (sent) {
      rv = std::max(rv, kube::parse_resource_version(kube::resource_version_of(*sent)).value_or(0));
      lease = std::move(*sent);
    } else {
      if (!lease["spec"].is_object()) {
        lease["spec"] = json::object();
      }
      lease["spec"]["renewTime"] = kube::format_rfc3339_micro(
          std::chrono::time_point_cast<std::chrono::microseconds>(core_.clock().now()));
      if (!lease["spec"].contains("holderIdentity")) {
        lease["spec"]["holderIdentity"] = req_.node_name;
      }
    }
    lease["kind"] = "Lease";
    lease["apiVersion"] = "coordination.k8s.io/v1";
    if (!lease["metadata"].is_object()) {
      lease["metadata"] = json::object();
    }
    lease["metadata"]["name"] = req_.node_name;
    lease["metadata"]["namespace"] = kNodeLeaseNamespace;
    lease["metadata"]["resourceVersion"] = std::to_string(rv + 1);
    std::string text = to_text(lease);
    core_.remember_lease(req_.node_name, text);
    co_await serve_json(info_.verb == "create" ? 201 : 200, std::move(text));
  }

  // ---- writes -------------------------------------------------------------------------------

  [[nodiscard]] bool is_token_request() const {
    return info_.api_group.empty() && info_.resource == "serviceaccounts" &&
           info_.subresource == "token" && !info_.name.empty();
  }

  // The kubelet mounts a pod's projected service-account token before it starts the pod, and
  // after an offline reboot it holds none: a refusal would keep every such pod from running.
  // The answer is a placeholder that authenticates nothing and expires within a minute, so the
  // kubelet asks again at its next volume sync and gets a real token once the cloud is back.
  // Real tokens are never stored (docs/yurthub.md).
  asio::awaitable<void> token_request() {
    auto body = co_await ex_.read_body(kMaxRequestBody);
    json spec = json::object();
    if (body) {
      // The kubelet sends protobuf unless configured for JSON; only JSON can be echoed.
      if (auto parsed = parse_json(*body);
          parsed && parsed->is_object() && (*parsed)["spec"].is_object()) {
        spec = (*parsed)["spec"];
      }
    }
    if (!spec["expirationSeconds"].is_number_integer()) {
      spec["expirationSeconds"] = kDefaultTokenExpirationSeconds;
    }
    if (!spec["audiences"].is_array()) {
      spec["audiences"] = json::array();
    }
    const auto now = std::chrono::time_point_cast<std::chrono::microseconds>(core_.clock().now());
    json answer{{"kind", "TokenRequest"},
                {"apiVersion", "authentication.k8s.io/v1"},
                {"metadata",
                 {{"name", info_.name},
                  {"namespace", info_.namespace_name},
                  {"creationTimestamp", kube::format_rfc3339(now)}}},
                {"spec", std::move(spec)},
                {"status",
                 {{"token", kPlaceholderToken},
                  {"expirationTimestamp", kube::format_rfc3339(now + kPlaceholderTokenLifetime)}}}};
    logger().info("offline: placeholder token for serviceaccount {}/{} (expires in {} s)",
                  info_.namespace_name, info_.name, kPlaceholderTokenLifetime.count());
    std::string text = to_text(answer);
    co_await serve_json(201, std::move(text));
  }

  // Events are best effort everywhere: accepted and dropped, so recorders do not retry.
  asio::awaitable<void> event_write() {
    auto body = co_await ex_.read_body(kMaxRequestBody);
    std::optional<json> event;
    if (body && info_.verb != "patch") {
      if (auto parsed = parse_json(*body); parsed && parsed->is_object()) {
        event = std::move(*parsed);
      }
    }
    if (!event) {
      std::string name = info_.name;
      if (name.empty()) {
        name = "yurthub-offline." + std::to_string(core_.counters().served_offline.load());
      }
      event = json{{"metadata", {{"name", name}, {"namespace", info_.namespace_name}}}};
    }
    (*event)["kind"] = "Event";
    (*event)["apiVersion"] = rid_.api_version();
    std::string text = to_text(*event);
    co_await serve_json(info_.verb == "create" ? 201 : 200, std::move(text));
  }

  // The kubelet's node status heartbeat: answered with the cached Node (nothing is stored or
  // replayed). Failing it would make the kubelet close all its connections every 10 s.
  asio::awaitable<void> node_status() {
    auto node = core_.object(rid_, "", req_.node_name);
    if (!node) {
      const kube::Status status = kube::service_unavailable(unreachable(info_.verb + " " + what()));
      co_await refuse(status);
      co_return;
    }
    co_await serve_json(200, *node);
  }

  // A create of something the view holds gets the apiserver's answer: AlreadyExists. The
  // kubelet's registration after an offline reboot relies on it (it then GETs its Node).
  asio::awaitable<void> create() {
    auto body = co_await ex_.read_body(kMaxRequestBody);
    std::string name;
    if (body) {
      if (auto parsed = parse_json(*body); parsed && parsed->is_object()) {
        name = metadata_string(*parsed, "name");
      }
    }
    if (name.empty() && info_.api_group.empty() && info_.resource == "nodes") {
      // A protobuf Node from the kubelet: NodeRestriction lets it create only its own.
      name = req_.node_name;
    }
    if (!name.empty() && core_.object(rid_, object_namespace(info_), name)) {
      const kube::Status status = kube::already_exists({info_.api_group, info_.resource}, name);
      co_await refuse(status);
      co_return;
    }
    const kube::Status status = kube::service_unavailable(unreachable("create " + what()));
    co_await refuse(status);
  }

  // ---- /version and discovery ---------------------------------------------------------------

  asio::awaitable<void> non_resource() {
    const std::string& method = req_.request->method;
    auto doc = discovery_doc(info_.path);
    if (method != "GET" || !doc) {
      const kube::Status status = kube::service_unavailable(unreachable(method + " " + info_.path));
      co_await refuse(status);
      co_return;
    }
    std::string accept(req_.request->headers.get("Accept"));
    if (trim(accept).empty()) {
      accept = "application/json";
    }
    for (const auto& range : parse_media_ranges(accept)) {
      auto representation = discovery_representation(range);
      if (!representation) {
        continue;
      }
      if (auto value = core_.discovery(discovery_key(*doc, *representation))) {
        ++core_.counters().served_offline;
        std::string content_type = discovery_content_type(*representation);
        co_await respond(200, *value, std::move(content_type));
        co_return;
      }
    }
    // Cached in another representation than the client accepts: the apiserver's 406.
    for (const std::string_view r : {"json", "APIGroupDiscoveryList.v2.apidiscovery.k8s.io",
                                     "APIGroupDiscoveryList.v2beta1.apidiscovery.k8s.io"}) {
      if (core_.discovery(discovery_key(*doc, r))) {
        const kube::Status status =
            not_acceptable("yurthub: the apiserver is unreachable and " + info_.path +
                           " is cached only as " + discovery_content_type(r));
        co_await refuse(status);
        co_return;
      }
    }
    const kube::Status status = kube::service_unavailable(unreachable("GET " + info_.path));
    co_await refuse(status);
  }

  CacheCore& core_;
  const RequestContext& req_;
  const kube::RequestInfo& info_;
  net::ServerExchange& ex_;
  HealthView& health_;
  ResourceId rid_;
};

}  // namespace

asio::awaitable<void> serve_offline(std::shared_ptr<CacheCore> core,
                                    const RequestContext& req,
                                    net::ServerExchange& exchange,
                                    HealthView& health) {
  Offline offline(*core, req, exchange, health);
  co_await offline.run();
}

}  // namespace yurt::hub
