#include "src/apps/hub/proxy.hpp"

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "yurt/base/log.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/kube/request_info.hpp"
#include "yurt/net/errc.hpp"
#include "yurt/net/splice.hpp"

#include "src/apps/hub/http_util.hpp"
#include "src/apps/hub/json_rewriter.hpp"

namespace yurt::hub {

namespace asio = boost::asio;
namespace {

spdlog::logger& logger() {
  return log::get("hub");
}

// The largest object the masterservice filter holds to rewrite; Services are a few KiB.
constexpr std::size_t kMaxFilteredObject = std::size_t{4} << 20U;

const void* context_of(const net::Executor& ex) {
  return &asio::query(ex, asio::execution::context);
}

/// How forwarding one request to one endpoint ended.
struct Forwarded {
  enum class Kind {
    Responded,        ///< answered (or the client went away): nothing left to do
    Unreachable,      ///< no response head: the endpoint is down (marked) or was cut
    BadGateway,       ///< the apiserver's answer could not be read (not a connectivity failure)
    TooLarge,         ///< the request body exceeded the limit before any answer
    CutAfterHead,     ///< streaming, cut because the endpoint went down or we are stopping
    BrokenAfterHead,  ///< the upstream body broke off: the client must see it broken too
  };
  Kind kind = Kind::Responded;
  Error error;
  bool body_consumed = false;  ///< request body bytes were taken from the client
  int status = 0;              ///< the apiserver's status code, once its head arrived
};

Forwarded answered(int status) {
  Forwarded r;
  r.status = status;
  return r;
}

struct ForwardArgs {
  net::ServerExchange* exchange = nullptr;
  const RequestContext* ctx = nullptr;
  ProxyShared* shared = nullptr;
  KillSwitch* kill = nullptr;
  std::size_t endpoint = 0;
  std::shared_ptr<net::TlsContext> tls;
  bool upgrade = false;
  bool record = false;  ///< should_record: Accept to JSON, tee 2xx into the cache
  bool filter = false;  ///< masterservice filter applies
};

bool is_connect_failure(const Error& e) {
  const auto& c = e.code();
  return e.message().starts_with("connect ") || c == std::errc::connection_refused ||
         c == std::errc::host_unreachable || c == std::errc::network_unreachable;
}

std::optional<std::uint64_t> parse_content_length(std::string_view v) {
  v = trim(v);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc{} || end != v.data() + v.size()) {
    return std::nullopt;
  }
  return n;
}

/// Origin form of a request target ("/api/v1/pods?x"), also from absolute form.
std::string origin_form(const std::string& target) {
  if (target.starts_with('/')) {
    return target;
  }
  const auto scheme = target.find("://");
  if (scheme == std::string::npos) {
    return target;
  }
  const auto path = target.find('/', scheme + 3);
  return path == std::string::npos ? std::string("/") : target.substr(path);
}

kube::Status request_too_large(std::size_t limit) {
  kube::Status s;
  s.message = "the request body exceeds the " + std::to_string(limit) + "-byte limit";
  s.reason = std::string(kube::reason::kRequestEntityTooLarge);
  s.code = 413;
  return s;
}

kube::Status bad_gateway(const Error& e) {
  kube::Status s;
  s.message = "yurthub: the apiserver's answer could not be read: " + e.what();
  s.code = 502;
  return s;
}

net::Request upstream_request(const ForwardArgs& a, const net::Origin& origin) {
  const auto& in = a.exchange->request();
  net::Request up;
  up.method = in.method;
  up.target = origin_form(in.target);
  const auto connection = in.headers.get("Connection");
  for (const auto& f : in.headers) {
    if (is_hop_by_hop(f.name, connection) || net::iequals(f.name, "Host") ||
        net::iequals(f.name, "Expect")) {
      continue;
    }
    up.headers.add(f.name, f.value);
  }
  if (a.upgrade) {
    up.headers.set("Connection", "Upgrade");
    up.headers.set("Upgrade", std::string(in.headers.get("Upgrade")));
  }
  if (a.record || a.filter) {
    up.headers.set("Accept", rewrite_accept(in.headers.get("Accept")));
    up.headers.erase("Accept-Encoding");
  }
  up.headers.set("Host", origin.authority());
  return up;
}

/// Sorts a failure before the response head into Unreachable (and marks the endpoint down on a
/// connect failure) or BadGateway.
Forwarded failed_before_head(const ForwardArgs& a, Error e, bool body_consumed) {
  Forwarded r;
  r.body_consumed = body_consumed;
  r.error = e;
  if (a.kill->fired()) {
    r.kind = Forwarded::Kind::Unreachable;
  } else if (is_connect_failure(e)) {
    a.shared->upstream->mark_down(a.endpoint, e.what());
    r.kind = Forwarded::Kind::Unreachable;
  } else if (e.code() == std::errc::operation_canceled) {
    r.kind = Forwarded::Kind::Responded;  // we are being stopped; the connection closes
  } else {
    r.kind = Forwarded::Kind::BadGateway;
  }
  if (r.kind == Forwarded::Kind::Unreachable) {
    a.shared->metrics->count_upstream_failure();
  }
  return r;
}

/// Whether the client uses the response only once it has all of it: a GET or LIST of resources.
/// Watches, logs, exec and proxied requests are read as they arrive.
bool whole_body(const kube::RequestInfo& info) {
  return info.is_resource_request && (info.verb == "get" || info.verb == "list") &&
         !info.is_long_running();
}

/// Writes a response body to the client. The apiserver sends a LIST in TLS records of ~4 KiB
/// as it encodes it; a write per record wakes the client per record (~780 wake-ups, and as many
/// context switches, for 3 MB). A body the client uses only whole goes out in writes of at
/// least kBatchBytes and its last bytes as soon as it ends, so the client's time to the last
/// byte is unchanged; anything else goes out piece by piece (a watch event must not wait).
class BodyWriter {
 public:
  static constexpr std::size_t kBatchBytes = 64 * 1024;

  BodyWriter(net::ServerExchange& exchange, bool batch) : exchange_(exchange), batch_(batch) {}

  /// False when the client went away.
  asio::awaitable<bool> write(std::string_view data) {
    if (data.empty()) {
      co_return true;  // an empty chunk would end the body
    }
    if (!batch_ || (pending_.empty() && data.size() >= kBatchBytes)) {
      co_return static_cast<bool>(co_await exchange_.write(data));
    }
    pending_.append(data);
    if (pending_.size() < kBatchBytes) {
      co_return true;
    }
    co_return co_await flush();
  }

  /// Writes `last` and what is held back, then ends the body (unless the client went away).
  asio::awaitable<void> finish(std::string_view last) {
    bool delivered = co_await write(last);
    if (delivered) {
      delivered = co_await flush();
    }
    if (delivered) {
      co_await exchange_.finish();
    }
  }

 private:
  asio::awaitable<bool> flush() {
    if (pending_.empty()) {
      co_return true;
    }
    auto written = co_await exchange_.write(pending_);
    pending_.clear();
    co_return static_cast<bool>(written);
  }

  net::ServerExchange& exchange_;
  bool batch_;
  std::string pending_;
};

asio::awaitable<Forwarded> forward(ForwardArgs a) {
  co_await asio::this_coro::throw_if_cancelled(false);
  auto& exchange = *a.exchange;
  const auto& in = exchange.request();
  auto ex = co_await asio::this_coro::executor;
  auto& client = a.shared->clients->for_executor(ex);
  const auto& address = a.shared->upstream->address(a.endpoint);
  net::Origin origin{address.host, address.port, a.tls};
  net::Request up = upstream_request(a, origin);

  const auto length = parse_content_length(in.headers.get("Content-Length"));
  const bool has_body = (length && *length > 0) || in.headers.contains("Transfer-Encoding");
  Result<net::ClientCall> call = fail(net::Errc::Closed, "not started");
  bool body_consumed = false;
  if (has_body) {
    call = co_await client.start(origin, std::move(up));
    if (!call) {
      co_return failed_before_head(a, call.error(), false);
    }
    std::size_t total = 0;
    for (;;) {
      auto piece = co_await exchange.read_body_some();
      if (!piece) {
        // The client broke off its own request: nobody to answer.
        co_return Forwarded{};
      }
      if (piece->empty()) {
        break;
      }
      body_consumed = true;
      total += piece->size();
      if (total > a.shared->max_request_body) {
        Forwarded r;
        r.kind = Forwarded::Kind::TooLarge;
        r.body_consumed = true;
        co_return r;
      }
      if (auto w = co_await call->write(*piece); !w) {
        co_return failed_before_head(a, w.error(), body_consumed);
      }
    }
    if (auto e = co_await call->end_request(); !e) {
      co_return failed_before_head(a, e.error(), body_consumed);
    }
    if (auto h = co_await call->read_head(); !h) {
      co_return failed_before_head(a, h.error(), body_consumed);
    }
  } else {
    call = co_await client.open(origin, std::move(up));
    if (!call) {
      co_return failed_before_head(a, call.error(), false);
    }
  }

  const net::Response& head = call->response();
  if (head.status == 101 && a.upgrade) {
    net::Response switching;
    switching.status = 101;
    switching.reason = head.reason;
    switching.headers = head.headers;
    auto upstream_stream = call->take_stream();
    if (!upstream_stream) {
      co_return failed_before_head(a, upstream_stream.error(), body_consumed);
    }
    auto client_stream = co_await exchange.upgrade(std::move(switching));
    if (!client_stream) {
      co_return answered(head.status);
    }
    auto spliced = co_await net::splice(std::move(*client_stream), std::move(*upstream_stream),
                                        net::Millis(0));
    logger().debug("{} {}: upgraded stream ended ({} bytes up, {} down){}", in.method, in.target,
                   spliced.a_to_b, spliced.b_to_a,
                   spliced.error.code() ? ": " + spliced.error.what() : std::string());
    co_return answered(head.status);
  }

  const bool ok = head.status >= 200 && head.status < 300;
  const bool filter = a.filter && ok && is_json(head.headers.get("Content-Type"));
  net::Response out;
  out.status = head.status;
  out.reason = head.reason;
  const auto connection = head.headers.get("Connection");
  for (const auto& f : head.headers) {
    if (is_hop_by_hop(f.name, connection) || (filter && net::iequals(f.name, "Content-Length"))) {
      continue;
    }
    out.headers.add(f.name, f.value);
  }

  std::unique_ptr<ResponseRecorder> recorder;
  if (a.record && ok) {
    recorder = a.shared->cache->record(*a.ctx, head);
  }
  std::optional<JsonRewriter> rewriter;
  if (filter) {
    const auto mode =
        a.ctx->info.verb == "list" ? JsonRewriter::Mode::ListItems : JsonRewriter::Mode::TopLevel;
    rewriter.emplace(
        mode,
        [host = a.shared->service_host, port = a.shared->service_port](std::string_view object) {
          return rewrite_master_service(object, host, port);
        },
        kMaxFilteredObject);
  }
  auto finish_recorder = [&recorder](bool complete) {
    if (recorder) {
      recorder->finish(complete);
      recorder.reset();
    }
  };

  if (auto started = co_await exchange.start_response(std::move(out)); !started) {
    finish_recorder(false);
    co_return answered(head.status);
  }
  BodyWriter body(exchange, whole_body(a.ctx->info));
  for (;;) {
    auto piece = co_await call->read_some();
    if (!piece) {
      finish_recorder(false);
      Forwarded r;
      r.error = piece.error();
      r.body_consumed = body_consumed;
      r.status = head.status;
      const bool cut = a.kill->fired() || piece.error().code() == std::errc::operation_canceled;
      r.kind = cut ? Forwarded::Kind::CutAfterHead : Forwarded::Kind::BrokenAfterHead;
      co_return r;
    }
    std::string filtered;
    std::string_view data = *piece;
    if (piece->empty()) {
      // The upstream body is complete: it is recorded whether or not the client takes the
      // rest. The client has everything before the cache commits (a LIST's commit is the costly
      // part).
      if (rewriter) {
        filtered = rewriter->finish();
        if (recorder) {
          recorder->on_data(filtered);
        }
      }
      co_await body.finish(filtered);
      finish_recorder(true);
      co_return answered(head.status);
    }
    if (rewriter) {
      filtered = rewriter->feed(*piece);
      data = filtered;
    }
    if (data.empty()) {
      continue;
    }
    if (!co_await body.write(data)) {
      finish_recorder(false);
      co_return answered(head.status);  // the client went away
    }
    if (recorder) {
      recorder->on_data(data);
    }
  }
}

// `status` by value: coroutine parameters must not refer to temporaries (docs/net.md).
asio::awaitable<void> respond_status(net::ServerExchange& exchange, kube::Status status) {
  net::Response response = status_response(status);
  if (status.code == 429 || status.code == 503) {
    response.headers.set("Retry-After", "1");
  }
  co_await exchange.respond(std::move(response));
}

bool wants_master_service_filter(const RequestContext& ctx, bool secure) {
  const auto& i = ctx.info;
  return !secure && ctx.component == "kubelet" && i.is_resource_request && i.api_group.empty() &&
         i.resource == "services" && i.subresource.empty() &&
         (i.verb == "get" || i.verb == "list" || i.verb == "watch");
}

}  // namespace

void UpstreamClients::add(net::Executor ex, net::ClientSettings settings) {
  const void* ctx = context_of(ex);
  entries_.push_back(Entry{ctx, ex, std::make_unique<net::HttpClient>(ex, settings)});
}

net::HttpClient& UpstreamClients::for_executor(const net::Executor& ex) {
  const void* ctx = context_of(ex);
  for (auto& e : entries_) {
    if (e.context == ctx) {
      return *e.client;
    }
  }
  // A handler on an executor nobody registered is a wiring bug.
  throw std::logic_error("yurthub: no upstream client for this worker");
}

void UpstreamClients::close_idle_all() {
  for (auto& e : entries_) {
    asio::post(e.executor, [client = e.client.get()] { client->close_idle(); });
  }
}

namespace {

/// Refusals decided from the request head alone, before anything goes upstream: the target the
/// apiserver would refuse (malformed escapes, `..`, selectors, integers), an ambiguous or bad
/// Content-Length, a body announced beyond the apiserver's limit.
std::optional<kube::Status> check_head(const net::Request& req,
                                       const Result<kube::RequestInfo>& info,
                                       std::size_t max_body) {
  if (!info) {
    return kube::bad_request(info.error().message());
  }
  if (req.headers.get_all("Content-Length").size() > 1) {
    return kube::bad_request("more than one Content-Length header");
  }
  if (auto cl = req.headers.get("Content-Length"); !cl.empty()) {
    auto n = parse_content_length(cl);
    if (!n) {
      return kube::bad_request("invalid Content-Length " + quote(cl));
    }
    if (*n > max_body) {
      return request_too_large(max_body);
    }
  }
  return std::nullopt;
}

std::string code_of(const kube::Status& s) {
  return std::to_string(s.code);
}

}  // namespace

asio::awaitable<void> ProxyHandler::handle(net::ServerExchange& exchange) {
  co_await asio::this_coro::throw_if_cancelled(false);
  const auto& req = exchange.request();
  auto& metrics = *shared_.metrics;

  RequestContext ctx;
  ctx.component = component_of(req.headers.get("User-Agent"));
  ctx.request = &req;
  ctx.node_name = shared_.node_name;

  auto info = kube::parse_request_info(req.method, req.target);
  std::optional<kube::Status> refusal = check_head(req, info, shared_.max_request_body);
  if (info) {
    ctx.info = std::move(*info);
  }
  const std::string verb = ctx.info.verb.empty() ? "other" : ctx.info.verb;
  const bool upgrade = is_upgrade_request(req.headers);
  const bool long_running = upgrade || ctx.info.is_long_running();
  InFlight::Slot slot;
  if (!refusal) {
    slot = (long_running ? shared_.long_requests : shared_.short_requests)->try_acquire();
    if (!slot) {
      metrics.count_rejected(long_running);
      refusal = kube::too_many_requests(
          "too many requests in flight at yurthub, please try again later", 1);
    }
  }
  if (refusal) {
    metrics.count_request(ctx.component, verb, code_of(*refusal));
    co_await respond_status(exchange, std::move(*refusal));
    co_return;
  }
  if (long_running) {
    // Watches and streams would hold a graceful stop forever: let it end them.
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_await asio::this_coro::throw_if_cancelled(false);
  }

  const bool node_identity = !secure_ && !has_own_credentials(req.headers);
  ForwardArgs args;
  args.exchange = &exchange;
  args.ctx = &ctx;
  args.shared = &shared_;
  args.upgrade = upgrade;
  args.record = !upgrade && shared_.cache != nullptr && shared_.cache->should_record(ctx);
  args.filter = !upgrade && wants_master_service_filter(ctx, secure_);

  auto ex = co_await asio::this_coro::executor;
  std::optional<kube::Status> failure;
  for (std::size_t attempt = 0; attempt < shared_.upstream->size() && !failure; ++attempt) {
    auto endpoint = shared_.upstream->pick();
    if (!endpoint) {
      break;
    }
    args.endpoint = *endpoint;
    args.tls = node_identity ? shared_.tls->node() : shared_.tls->anonymous();
    if (!args.tls) {
      failure = kube::service_unavailable("yurthub is still obtaining its client certificate");
      break;
    }
    auto kill = std::make_shared<KillSwitch>();
    args.kill = kill.get();
    auto tracked = shared_.upstream->track(*endpoint, ex, kill);
    if (!shared_.upstream->endpoint_healthy(*endpoint)) {
      continue;  // went down between pick() and track()
    }
    // The child runs with the kill switch's slot; our own cancellation (graceful stop, drain
    // deadline) is handed on to it through the same switch.
    auto cs = co_await asio::this_coro::cancellation_state;
    auto parent_slot = cs.slot();
    if (parent_slot.is_connected()) {
      parent_slot.assign([k = kill.get()](asio::cancellation_type) { k->cancel(); });
    }
    auto result = co_await asio::co_spawn(
        ex, forward(args), asio::bind_cancellation_slot(kill->slot(), asio::use_awaitable));
    if (parent_slot.is_connected()) {
      parent_slot.clear();
    }

    switch (result.kind) {
      case Forwarded::Kind::Responded:
        metrics.count_request(ctx.component, verb,
                              result.status != 0 ? std::to_string(result.status) : "aborted");
        co_return;
      case Forwarded::Kind::Unreachable:
        logger().debug("{} {}: {} unreachable: {}", req.method, req.target,
                       shared_.upstream->address(*endpoint).url, result.error.what());
        if (result.body_consumed) {
          // Part of the body is gone: it cannot be sent anywhere else.
          failure = kube::service_unavailable(
              "yurthub lost the apiserver while forwarding the request body: " +
              result.error.what());
        }
        break;  // otherwise another endpoint, or the cache
      case Forwarded::Kind::BadGateway:
        failure = bad_gateway(result.error);
        break;
      case Forwarded::Kind::TooLarge:
        failure = request_too_large(shared_.max_request_body);
        break;
      case Forwarded::Kind::CutAfterHead:
        // A watch or stream cut because its apiserver went down (or we are stopping): end it
        // cleanly, so the client re-issues it — to the cache, if nothing else is healthy.
        metrics.count_request(ctx.component, verb, std::to_string(result.status));
        co_await exchange.finish();
        co_return;
      case Forwarded::Kind::BrokenAfterHead:
        metrics.count_request(ctx.component, verb, std::to_string(result.status));
        logger().warn("{} {}: the apiserver's body broke off: {}", req.method, req.target,
                      result.error.what());
        // Close without the terminating chunk: the client must not take a truncated body for a
        // complete one.
        throw boost::system::system_error(asio::error::connection_aborted,
                                          "upstream body broke off");
    }
  }
  if (!failure && shared_.cache == nullptr) {
    failure = kube::service_unavailable("no apiserver is reachable and there is no cache");
  }
  if (failure) {
    metrics.count_request(ctx.component, verb, code_of(*failure));
    co_await respond_status(exchange, std::move(*failure));
    co_return;
  }
  metrics.count_served_from_cache();
  metrics.count_request(ctx.component, verb, "cache");
  co_await shared_.cache->serve(ctx, exchange, *shared_.upstream);
}

}  // namespace yurt::hub
