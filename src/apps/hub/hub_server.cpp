#include "src/apps/hub/hub_server.hpp"

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "yurt/kube/request_info.hpp"

#include "src/apps/hub/cert_manager.hpp"
#include "src/apps/hub/http_util.hpp"
#include "src/apps/hub/version.hpp"

namespace yurt::hub {

namespace asio = boost::asio;
namespace {

net::Response text(int status,
                   std::string body,
                   std::string_view type = "text/plain; charset=utf-8") {
  net::Response r;
  r.status = status;
  r.headers.set("Content-Type", std::string(type));
  r.body = std::move(body);
  return r;
}

}  // namespace

std::string HubServer::not_ready_reason() const {
  if (sources_.cache == nullptr) {
    return "cache not loaded";
  }
  if (sources_.certs != nullptr && !sources_.certs->client_ready()) {
    return "no client certificate yet";
  }
  return {};
}

std::string HubServer::metrics_text() const {
  PromWriter w;
  if (sources_.metrics != nullptr) {
    sources_.metrics->render(w);
  }
  if (sources_.upstream != nullptr) {
    sources_.upstream->render(w);
    w.family("yurthub_online", "gauge", "1 while some apiserver is healthy (requests proxied).");
    w.sample("yurthub_online", {}, sources_.upstream->healthy() ? 1 : 0);
  }
  if (sources_.short_requests != nullptr && sources_.long_requests != nullptr) {
    w.family("yurthub_in_flight_requests", "gauge", "Requests being served now, by kind.");
    w.sample("yurthub_in_flight_requests", {{"kind", "short"}},
             static_cast<double>(sources_.short_requests->current()));
    w.sample("yurthub_in_flight_requests", {{"kind", "long-running"}},
             static_cast<double>(sources_.long_requests->current()));
  }
  if (sources_.cache != nullptr) {
    const auto s = sources_.cache->stats();
    w.family("yurthub_cache_objects", "gauge", "Objects in the cache.");
    w.sample("yurthub_cache_objects", {}, static_cast<double>(s.objects));
    w.family("yurthub_cache_bytes", "gauge", "Bytes of the objects in the cache.");
    w.sample("yurthub_cache_bytes", {}, static_cast<double>(s.bytes));
    w.family("yurthub_cache_junk_files", "gauge",
             "Files the cache found unusable at start-up (left on disk, never served).");
    w.sample("yurthub_cache_junk_files", {}, static_cast<double>(s.junk_files));
    w.family("yurthub_cache_records_total", "counter", "What the cache recorded, by kind.");
    w.sample("yurthub_cache_records_total", {{"kind", "list"}},
             static_cast<double>(s.lists_recorded));
    w.sample("yurthub_cache_records_total", {{"kind", "watch_event"}},
             static_cast<double>(s.watch_events_recorded));
    w.sample("yurthub_cache_records_total", {{"kind", "object"}},
             static_cast<double>(s.objects_recorded));
    w.family("yurthub_cache_skipped_total", "counter", "Responses or writes not recorded, by why.");
    w.sample("yurthub_cache_skipped_total", {{"reason", "stale"}},
             static_cast<double>(s.stale_ignored));
    w.sample("yurthub_cache_skipped_total", {{"reason", "non_json"}},
             static_cast<double>(s.skipped_non_json));
    w.sample("yurthub_cache_skipped_total", {{"reason", "too_large"}},
             static_cast<double>(s.skipped_too_large));
    w.sample("yurthub_cache_skipped_total", {{"reason", "malformed"}},
             static_cast<double>(s.rejected_malformed));
    w.sample("yurthub_cache_skipped_total", {{"reason", "incomplete"}},
             static_cast<double>(s.incomplete_bodies));
    w.sample("yurthub_cache_skipped_total", {{"reason", "store_error"}},
             static_cast<double>(s.store_errors));
    w.family("yurthub_cache_offline_answers_total", "counter",
             "Requests the cache answered offline, by outcome.");
    w.sample("yurthub_cache_offline_answers_total", {{"outcome", "served"}},
             static_cast<double>(s.served_offline));
    w.sample("yurthub_cache_offline_answers_total", {{"outcome", "refused"}},
             static_cast<double>(s.refused_offline));
  }
  if (sources_.certs != nullptr) {
    sources_.certs->render(w);
  }
  w.family("yurthub_build_info", "gauge", "yurthub's version.");
  w.sample("yurthub_build_info", {{"version", kVersion}}, 1);
  return w.str();
}

asio::awaitable<void> HubServer::handle(net::ServerExchange& exchange) {
  const auto& req = exchange.request();
  if (req.method != "GET" && req.method != "HEAD") {
    net::Response r = text(405, "only GET\n");
    r.headers.set("Allow", "GET, HEAD");
    co_await exchange.respond(std::move(r));
    co_return;
  }
  const auto path = req.target.substr(0, req.target.find('?'));
  // Responses are built first and awaited by name: GCC 12 miscompiles aggregate temporaries
  // inside co_await expressions (docs/net.md).
  net::Response response;
  if (path == "/v1/healthz" || path == "/healthz") {
    response = text(200, "OK");
  } else if (path == "/v1/readyz" || path == "/readyz") {
    auto why = not_ready_reason();
    response = why.empty() ? text(200, "OK") : text(503, why + "\n");
  } else if (path == "/metrics") {
    response = text(200, metrics_text(), "text/plain; version=0.0.4");
  } else if (path == "/v1/cache") {
    response = cache_listing(req.target);
  } else {
    response = text(404, "not found\n");
  }
  co_await exchange.respond(std::move(response));
}

net::Response HubServer::cache_listing(const std::string& target) const {
  auto info = kube::parse_request_info("GET", target);
  if (!info) {
    return status_response(kube::bad_request(info.error().message()));
  }
  const std::string prefix(info->query_value("prefix").value_or(""));
  nlohmann::json out = nlohmann::json::object();
  out["prefix"] = prefix;
  auto& items = out["objects"] = nlohmann::json::array();
  std::size_t total = 0;
  if (sources_.cache != nullptr) {
    sources_.cache->settle();  // what the proxy has streamed so far is listed
  }
  if (sources_.store != nullptr) {
    // Keys and sizes only: values may be Secrets.
    for (const auto& object : sources_.store->list(prefix)) {
      if (++total <= kMaxListed) {
        items.push_back({{"key", object.key}, {"bytes", object.value ? object.value->size() : 0}});
      }
    }
  }
  out["total"] = total;
  out["truncated"] = total > kMaxListed;
  return text(200, out.dump(1) + "\n", "application/json");
}

}  // namespace yurt::hub
