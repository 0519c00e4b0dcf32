#include "yurt/kube/rest_client.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/base/fs.hpp"
#include "yurt/base/log.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/kube/lister_watcher.hpp"
#include "yurt/net/client.hpp"
#include "yurt/net/errc.hpp"
#include "yurt/net/tls_context.hpp"

#include "src/kube/json_util.hpp"
#include "src/kube/text.hpp"

namespace yurt::kube {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kDefaultUserAgent = "yurt/0.1 (linux) kube-client";
// client-go's cached token file source re-reads the file at most once a minute: projected
// service-account tokens are refreshed well before they expire (80% of their lifetime).
constexpr std::chrono::minutes kTokenReread{1};
// The apiserver answers every non-long-running request within its own --request-timeout (60 s
// by default) or says 504, so no response header should take longer than this.
constexpr net::Millis kResponseHeaderTimeout{120'000};
// "No request timeout" (RestConfig::request_timeout = 0, client-go's default) still needs a
// finite timer.
constexpr net::Millis kNoRequestTimeout{std::chrono::hours(24)};
// A watch whose timeoutSeconds passed this long ago without the server ending it is dead (a
// NAT or 4G link that dropped without an RST): fail it so the reflector reconnects.
constexpr std::chrono::seconds kWatchGrace{30};
// An error body worth reading; Status bodies are a few hundred bytes.
constexpr std::size_t kMaxErrorBody = std::size_t{1} << 20;

spdlog::logger& logger() {
  return log::get("kube");
}

bool unreserved(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

std::string escape(std::string_view s, bool query) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (unreserved(c)) {
      out += c;
    } else if (query && c == ' ') {
      out += '+';
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

void add_param(std::string& query, std::string_view key, std::string_view value) {
  if (!query.empty()) {
    query += '&';
  }
  query.append(key).append("=").append(query_escape(value));
}

// The parts of RestConfig::server an HttpClient needs.
struct ServerUrl {
  bool tls = true;
  std::string host;
  std::uint16_t port = 0;
  std::string base_path;  // "" or "/prefix" (no trailing '/')
};

Result<ServerUrl> parse_server(std::string_view server) {
  ServerUrl url;
  std::string_view rest;
  if (server.starts_with("https://")) {
    rest = server.substr(8);
  } else if (server.starts_with("http://")) {
    url.tls = false;
    rest = server.substr(7);
  } else {
    return fail(Errc::InvalidConfig, "server " + text::quote(server) + " is not an http(s) URL");
  }
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') {
      path.remove_suffix(1);
    }
    url.base_path = std::string(path);
  }
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail(Errc::InvalidConfig, "server " + text::quote(server) + ": unclosed '['");
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return fail(Errc::InvalidConfig, "server " + text::quote(server) + ": bad authority");
      }
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
    }
  }
  if (url.host.empty()) {
    return fail(Errc::InvalidConfig, "server " + text::quote(server) + " has no host");
  }
  if (port.empty()) {
    url.port = url.tls ? 443 : 80;
  } else {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || ptr != port.data() + port.size() || value == 0 || value > 65535) {
      return fail(Errc::InvalidConfig, "server " + text::quote(server) + ": bad port");
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  return url;
}

std::string_view patch_content_type(PatchType type) noexcept {
  switch (type) {
    case PatchType::Merge:
      return "application/merge-patch+json";
    case PatchType::Strategic:
      return "application/strategic-merge-patch+json";
    case PatchType::Json:
      return "application/json-patch+json";
  }
  return "application/merge-patch+json";
}

std::string name_of(const json& object) {
  if (object.is_object()) {
    auto meta = object.find("metadata");
    if (meta != object.end() && meta->is_object()) {
      auto name = meta->find("name");
      if (name != meta->end() && name->is_string()) {
        return name->get<std::string>();
      }
    }
  }
  return {};
}

// A side of an `||` race runs as its own coroutine whose default filter passes only terminal
// cancellation; a graceful (total) stop must end the race too.
asio::awaitable<void> accept_all_cancellation(asio::awaitable<void> op) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  co_await std::move(op);
}

asio::awaitable<void> wait_until(std::chrono::steady_clock::time_point t) {
  asio::steady_timer timer(co_await asio::this_coro::executor, t);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

// Passes any cancellation on as a terminal one.
struct AsTerminal {
  asio::cancellation_type_t operator()(asio::cancellation_type_t type) const noexcept {
    return type == asio::cancellation_type::none ? type : asio::cancellation_type::terminal;
  }
};

// Beast's and Asio-SSL's composed reads let only terminal cancellation through, so a graceful
// (total) stop would never end a watch that is waiting for the next event. The read runs as its
// own coroutine (a side of an `||`) that accepts any cancellation and hands it on as terminal:
// the connection is then unusable, which is fine for a watch being stopped.
asio::awaitable<Result<std::string_view>> read_cancellable(net::ClientCall& call) {
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation(),
                                                     AsTerminal{});
  co_return co_await call.read_some();
}

// A watch response body decoded as it arrives.
class RestWatchStream final : public WatchStream {
 public:
  RestWatchStream(net::ClientCall call,
                  std::optional<std::chrono::steady_clock::time_point> deadline,
                  std::string what)
      : call_(std::move(call)), deadline_(deadline), what_(std::move(what)) {}

  asio::awaitable<Result<std::optional<WatchEvent>>> next() override {
    if (done_) {
      co_return std::optional<WatchEvent>();
    }
    for (;;) {
      auto event = decoder_.next();
      if (!event) {
        done_ = true;
        co_return Error(event.error().code(), what_ + ": " + event.error().message());
      }
      if (*event) {
        co_return std::move(*event);
      }
      auto piece = co_await read_piece();
      if (!piece) {
        done_ = true;
        co_return piece.error();
      }
      if (piece->empty()) {
        done_ = true;
        if (auto fin = decoder_.finish(); !fin) {
          co_return Error(fin.error().code(), what_ + ": " + fin.error().message());
        }
        auto last = decoder_.next();  // a final event without its newline
        if (!last) {
          co_return Error(last.error().code(), what_ + ": " + last.error().message());
        }
        co_return std::move(*last);
      }
      decoder_.feed(*piece);
    }
  }

 private:
  // The next piece of the body; Errc::Timeout once the deadline passed.
  asio::awaitable<Result<std::string_view>> read_piece() {
    using namespace asio::experimental::awaitable_operators;
    const auto deadline = deadline_.value_or(std::chrono::steady_clock::time_point::max());
    if (deadline <= std::chrono::steady_clock::now()) {
      co_return timed_out();
    }
    auto read = read_cancellable(call_);
    auto waiting = wait_until(deadline);
    auto expire = accept_all_cancellation(std::move(waiting));
    auto result = co_await (std::move(read) || std::move(expire));
    if (result.index() == 0) {
      co_return std::get<0>(std::move(result));
    }
    co_return timed_out();
  }

  [[nodiscard]] Error timed_out() const {
    return fail(net::Errc::Timeout, what_ +
                                        ": the server did not end the watch after its "
                                        "timeoutSeconds; connection presumed dead");
  }

  net::ClientCall call_;
  WatchDecoder decoder_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::string what_;
  bool done_ = false;
};

}  // namespace

// ---- free functions ----

std::string query_escape(std::string_view s) {
  return escape(s, true);
}

std::string list_query(const ListOptions& o) {
  std::string q;  // keys in alphabetical order, as url.Values.Encode
  if (o.allow_watch_bookmarks) {
    add_param(q, "allowWatchBookmarks", "true");
  }
  if (!o.continue_token.empty()) {
    add_param(q, "continue", o.continue_token);
  }
  if (!o.field_selector.empty()) {
    add_param(q, "fieldSelector", o.field_selector.to_string());
  }
  if (!o.label_selector.empty()) {
    add_param(q, "labelSelector", o.label_selector.to_string());
  }
  if (o.limit > 0) {
    add_param(q, "limit", std::to_string(o.limit));
  }
  if (!o.resource_version.empty()) {
    add_param(q, "resourceVersion", o.resource_version);
  }
  if (!o.resource_version_match.empty()) {
    add_param(q, "resourceVersionMatch", o.resource_version_match);
  }
  if (o.send_initial_events) {
    add_param(q, "sendInitialEvents", *o.send_initial_events ? "true" : "false");
  }
  if (o.timeout_seconds) {
    add_param(q, "timeoutSeconds", std::to_string(*o.timeout_seconds));
  }
  if (o.watch) {
    add_param(q, "watch", "true");
  }
  return q;
}

Result<ObjectList> parse_object_list(std::string_view body) {
  auto doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(Errc::Malformed, "list: body is not a JSON object: " + text::excerpt(body, 128));
  }
  ObjectList list;
  if (auto meta = doc.find("metadata"); meta != doc.end() && !meta->is_null()) {
    if (!meta->is_object()) {
      return fail(Errc::Malformed, "list: metadata is not an object");
    }
    if (auto rv = meta->find("resourceVersion"); rv != meta->end() && !rv->is_null()) {
      if (!rv->is_string()) {
        return fail(Errc::Malformed, "list: metadata.resourceVersion is not a string");
      }
      list.resource_version = rv->get<std::string>();
    }
    if (auto c = meta->find("continue"); c != meta->end() && !c->is_null()) {
      if (!c->is_string()) {
        return fail(Errc::Malformed, "list: metadata.continue is not a string");
      }
      list.continue_token = c->get<std::string>();
    }
    if (auto r = meta->find("remainingItemCount"); r != meta->end() && !r->is_null()) {
      if (!r->is_number_integer()) {
        return fail(Errc::Malformed, "list: metadata.remainingItemCount is not an integer");
      }
      list.remaining_item_count = r->get<std::int64_t>();
    }
  }
  auto items = doc.find("items");
  if (items == doc.end()) {
    return fail(Errc::Malformed, "list: no items");
  }
  if (items->is_null()) {
    return list;  // Go writes a nil slice as null
  }
  if (!items->is_array()) {
    return fail(Errc::Malformed,
                "list: items is a " + std::string(json_util::type_name(*items)) + ", not an array");
  }
  list.items.reserve(items->size());
  for (std::size_t i = 0; i < items->size(); ++i) {
    auto& item = (*items)[i];
    if (!item.is_object()) {
      return fail(Errc::Malformed, "list: items[" + std::to_string(i) + "] is not an object");
    }
    list.items.push_back(std::move(item));
  }
  return list;
}

// ---- GroupVersionResource ----

std::string GroupVersionResource::api_prefix() const {
  if (group.empty()) {
    return "/api/" + version;
  }
  return "/apis/" + group + "/" + version;
}

std::string GroupVersionResource::path(std::string_view namespace_name,
                                       std::string_view name,
                                       std::string_view subresource) const {
  std::string p = api_prefix();
  if (!namespace_name.empty()) {
    p += "/namespaces/" + escape(namespace_name, false);
  }
  p += "/" + resource;
  if (!name.empty()) {
    p += "/" + escape(name, false);
    if (!subresource.empty()) {
      p += "/" + escape(subresource, false);
    }
  }
  return p;
}

std::string GroupVersionResource::group_resource() const {
  return group.empty() ? resource : resource + "." + group;
}

// ---- RestClient ----

struct RestClient::Impl {
  Impl(net::Executor ex, RestConfig c, RestClientOptions o, ServerUrl url, net::ClientSettings s)
      : executor(ex), config(std::move(c)), options(o), http(ex, s), base_path(url.base_path) {
    origin.host = url.host;
    origin.port = url.port;
    user_agent = config.user_agent.empty() ? std::string(kDefaultUserAgent) : config.user_agent;
    token = config.bearer_token;
  }

  // The bearer token, re-read from its file when that is due.
  const std::string& current_token() {
    if (config.bearer_token_file.empty()) {
      return token;
    }
    const auto now = std::chrono::steady_clock::now();
    if (token_read_ && now - token_read_at < kTokenReread) {
      return token;
    }
    token_read_at = now;
    auto bytes = fs::read_file(config.bearer_token_file, 1 << 20);
    if (!bytes) {
      // Keep using the last token: a rotation in progress must not log us out.
      logger().warn("re-reading token file {}: {}", config.bearer_token_file.string(),
                    bytes.error().what());
    } else {
      token = std::string(trim(*bytes));
      token_read_ = true;
    }
    return token;
  }

  net::Request make(std::string method,
                    std::string target,
                    std::string body = {},
                    std::string_view content_type = {}) {
    net::Request r;
    r.method = std::move(method);
    r.target = base_path + target;
    decorate(r.headers);
    if (!content_type.empty()) {
      r.headers.set("Content-Type", std::string(content_type));
    }
    r.body = std::move(body);
    return r;
  }

  void decorate(net::Headers& h) {
    if (!h.contains("Accept")) {
      h.set("Accept", std::string(kJson));
    }
    if (!h.contains("User-Agent")) {
      h.set("User-Agent", user_agent);
    }
    if (!h.contains("Authorization")) {
      const auto& t = current_token();
      if (!t.empty()) {
        h.set("Authorization", "Bearer " + t);
      }
    }
  }

  [[nodiscard]] net::Millis request_timeout() const {
    return config.request_timeout.count() > 0 ? config.request_timeout : kNoRequestTimeout;
  }

  [[nodiscard]] std::string describe(const net::Request& r) const {
    return r.method + " " + config.server + r.target.substr(base_path.size());
  }

  // Sends `r` and parses a 2xx JSON answer; non-2xx answers become the Status' Error.
  asio::awaitable<Result<json>> call_json(net::Request r) {
    const auto what = describe(r);
    auto response = co_await http.request(origin, std::move(r), request_timeout());
    if (!response) {
      co_return response.error();
    }
    if (log::enabled(4)) {
      logger().debug("{} -> {}", what, response->status);
    }
    if (response->status < 200 || response->status >= 300) {
      co_return error_from_response(response->status, response->body);
    }
    auto doc = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
      co_return fail(Errc::Malformed,
                     what + ": response is not JSON: " + text::excerpt(response->body, 128));
    }
    co_return doc;
  }

  net::Executor executor;
  RestConfig config;
  RestClientOptions options;
  net::HttpClient http;
  net::Origin origin;
  std::string base_path;
  std::string user_agent;
  std::string token;
  bool token_read_ = false;
  std::chrono::steady_clock::time_point token_read_at{};
};

Result<std::unique_ptr<RestClient>> RestClient::create(net::Executor ex,
                                                       RestConfig config,
                                                       RestClientOptions options) {
  if (auto ok = config.validate(); !ok) {
    return ok.error();
  }
  auto url = parse_server(config.server);
  if (!url) {
    return url.error();
  }
  net::ClientSettings settings;
  if (config.connect_timeout.count() > 0) {
    settings.connect_timeout = config.connect_timeout;
  }
  settings.request_timeout =
      config.request_timeout.count() > 0 ? config.request_timeout : kNoRequestTimeout;
  settings.response_header_timeout = kResponseHeaderTimeout;
  settings.max_body_bytes = options.max_response_bytes;
  std::shared_ptr<net::TlsContext> tls;
  if (url->tls) {
    net::TlsClientOptions tls_options;
    tls_options.credentials.cert_chain = config.client_cert_pem;
    tls_options.credentials.private_key = config.client_key_pem;
    tls_options.credentials.ca_bundle = config.ca_pem;
    tls_options.server_name = config.tls_server_name;
    tls_options.insecure_skip_verify = config.insecure_skip_tls_verify;
    auto context = net::TlsContext::client(std::move(tls_options));
    if (!context) {
      return context.error();
    }
    tls = std::move(*context);
  }
  auto impl = std::make_unique<Impl>(ex, std::move(config), options, *url, settings);
  impl->origin.tls = std::move(tls);
  return std::unique_ptr<RestClient>(new RestClient(std::move(impl)));
}

RestClient::RestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RestClient::~RestClient() = default;

const RestConfig& RestClient::config() const noexcept {
  return impl_->config;
}

net::Executor RestClient::get_executor() const noexcept {
  return impl_->executor;
}

asio::awaitable<Result<json>> RestClient::get(GroupVersionResource resource,
                                              std::string namespace_name,
                                              std::string name) {
  co_return co_await impl_->call_json(impl_->make("GET", resource.path(namespace_name, name)));
}

asio::awaitable<Result<ObjectList>> RestClient::list(GroupVersionResource resource,
                                                     std::string namespace_name,
                                                     ListOptions options) {
  options.watch = false;
  auto target = resource.path(namespace_name);
  if (auto q = list_query(options); !q.empty()) {
    target += "?" + q;
  }
  auto request = impl_->make("GET", std::move(target));
  const auto what = impl_->describe(request);
  auto response =
      co_await impl_->http.request(impl_->origin, std::move(request), impl_->request_timeout());
  if (!response) {
    co_return response.error();
  }
  if (response->status < 200 || response->status >= 300) {
    co_return error_from_response(response->status, response->body);
  }
  auto list = parse_object_list(response->body);
  if (!list) {
    co_return Error(list.error().code(), what + ": " + list.error().message());
  }
  co_return std::move(*list);
}

asio::awaitable<Result<ObjectList>> RestClient::list_all(GroupVersionResource resource,
                                                         std::string namespace_name,
                                                         ListOptions options) {
  if (options.limit <= 0) {
    options.limit = impl_->options.default_page_size;
  }
  const ListOptions first = options;
  bool paging = true;
  ObjectList all;
  for (bool first_page = true;; first_page = false) {
    auto page = co_await list(resource, namespace_name, options);
    if (!page) {
      if (page.error() == make_error_code(Errc::Gone) && !first_page && paging) {
        // The continue token expired between pages (~5 min on etcd's compaction): start over
        // once, unpaged, as client-go's pager does.
        logger().info(
            "list {}: continue token expired after {} items; listing again without "
            "paging",
            resource.group_resource(), all.items.size());
        paging = false;
        options = first;
        options.limit = 0;
        options.continue_token.clear();
        auto whole = co_await list(resource, namespace_name, options);
        if (!whole) {
          co_return whole.error();
        }
        co_return std::move(*whole);
      }
      co_return page.error();
    }
    if (first_page) {
      all.resource_version = page->resource_version;
      all.items.reserve(page->items.size() +
                        static_cast<std::size_t>(page->remaining_item_count.value_or(0)));
    }
    std::move(page->items.begin(), page->items.end(), std::back_inserter(all.items));
    if (page->continue_token.empty()) {
      co_return all;
    }
    // A continued list is served at the first page's RV; a resourceVersion next to a continue
    // token is a 400.
    options.continue_token = std::move(page->continue_token);
    options.resource_version.clear();
    options.resource_version_match.clear();
  }
}

asio::awaitable<Result<json>> RestClient::create(GroupVersionResource resource,
                                                 std::string namespace_name,
                                                 json object) {
  co_return co_await impl_->call_json(
      impl_->make("POST", resource.path(namespace_name), object.dump(), kJson));
}

asio::awaitable<Result<json>> RestClient::update(GroupVersionResource resource,
                                                 std::string namespace_name,
                                                 json object,
                                                 std::string subresource) {
  auto name = name_of(object);
  if (name.empty()) {
    co_return fail(Errc::Invalid,
                   "update " + resource.group_resource() + ": the object has no metadata.name");
  }
  co_return co_await impl_->call_json(
      impl_->make("PUT", resource.path(namespace_name, name, subresource), object.dump(), kJson));
}

asio::awaitable<Result<json>> RestClient::patch(GroupVersionResource resource,
                                                std::string namespace_name,
                                                std::string name,
                                                PatchType type,
                                                std::string patch,
                                                std::string subresource) {
  co_return co_await impl_->call_json(impl_->make("PATCH",
                                                  resource.path(namespace_name, name, subresource),
                                                  std::move(patch), patch_content_type(type)));
}

asio::awaitable<Result<json>> RestClient::remove(GroupVersionResource resource,
                                                 std::string namespace_name,
                                                 std::string name,
                                                 DeleteOptions options) {
  json body = json::object();
  if (!options.precondition_resource_version.empty() || !options.precondition_uid.empty()) {
    json pre = json::object();
    if (!options.precondition_resource_version.empty()) {
      pre["resourceVersion"] = options.precondition_resource_version;
    }
    if (!options.precondition_uid.empty()) {
      pre["uid"] = options.precondition_uid;
    }
    body["preconditions"] = std::move(pre);
  }
  if (!options.propagation_policy.empty()) {
    body["propagationPolicy"] = options.propagation_policy;
  }
  if (options.grace_period_seconds) {
    body["gracePeriodSeconds"] = *options.grace_period_seconds;
  }
  std::string text;
  if (!body.empty()) {
    body["kind"] = "DeleteOptions";
    body["apiVersion"] = "v1";
    text = body.dump();
  }
  const std::string_view content_type = text.empty() ? std::string_view() : kJson;
  co_return co_await impl_->call_json(
      impl_->make("DELETE", resource.path(namespace_name, name), std::move(text), content_type));
}

asio::awaitable<Result<WatchStreamPtr>> RestClient::watch(GroupVersionResource resource,
                                                          std::string namespace_name,
                                                          ListOptions options) {
  options.watch = true;
  auto request = impl_->make("GET", resource.path(namespace_name) + "?" + list_query(options));
  auto what = impl_->describe(request);
  auto call = co_await impl_->http.open(impl_->origin, std::move(request));
  if (!call) {
    co_return call.error();
  }
  const int status = call->response().status;
  if (status != 200) {
    auto body = co_await call->read_all(kMaxErrorBody);
    co_return error_from_response(status, body ? std::string_view(*body) : std::string_view());
  }
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (options.timeout_seconds && *options.timeout_seconds > 0) {
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*options.timeout_seconds) +
               kWatchGrace;
  }
  co_return std::make_unique<RestWatchStream>(std::move(*call), deadline, std::move(what));
}

asio::awaitable<Result<net::Response>> RestClient::raw(net::Request request) {
  request.target = impl_->base_path + request.target;
  impl_->decorate(request.headers);
  co_return co_await impl_->http.request(impl_->origin, std::move(request),
                                         impl_->request_timeout());
}

// ---- RestListerWatcher ----

RestListerWatcher::RestListerWatcher(RestClient& client,
                                     GroupVersionResource resource,
                                     std::string namespace_name,
                                     ListOptions selection)
    : client_(client),
      resource_(std::move(resource)),
      namespace_(std::move(namespace_name)),
      selection_(std::move(selection)) {}

asio::awaitable<Result<ObjectList>> RestListerWatcher::list(std::string resource_version) {
  ListOptions options;
  options.label_selector = selection_.label_selector;
  options.field_selector = selection_.field_selector;
  options.limit = selection_.limit;
  options.resource_version = std::move(resource_version);
  co_return co_await client_.list_all(resource_, namespace_, std::move(options));
}

asio::awaitable<Result<WatchStreamPtr>> RestListerWatcher::watch(std::string resource_version,
                                                                 std::chrono::seconds timeout) {
  ListOptions options;
  options.label_selector = selection_.label_selector;
  options.field_selector = selection_.field_selector;
  options.resource_version = std::move(resource_version);
  options.allow_watch_bookmarks = true;
  options.timeout_seconds = timeout.count();
  co_return co_await client_.watch(resource_, namespace_, std::move(options));
}

}  // namespace yurt::kube
