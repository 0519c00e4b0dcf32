#pragma once

// Helpers shared by the hub cache tests: requests as the proxy would describe them, recording a
// response body in pieces, object builders.

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "yurt/kube/request_info.hpp"
#include "yurt/net/http.hpp"
#include "yurt/storage/store.hpp"

#include "src/apps/hub/cache/cache_manager.hpp"

namespace yurt::hub::test {

using nlohmann::json;

inline constexpr std::string_view kNode = "edge-1";

/// A request and the RequestContext pointing at it (kept together so the pointer stays valid).
struct Req {
  net::Request request;
  RequestContext ctx;
};

inline std::unique_ptr<Req> make_req(std::string method,
                                     std::string target,
                                     std::string component = "kubelet",
                                     std::string accept = "application/json") {
  auto r = std::make_unique<Req>();
  r->request.method = std::move(method);
  r->request.target = std::move(target);
  if (!accept.empty()) {
    r->request.headers.add("Accept", std::move(accept));
  }
  auto info = kube::parse_request_info(r->request.method, r->request.target);
  EXPECT_TRUE(info) << r->request.target << ": " << (info ? "" : info.error().what());
  r->ctx.component = std::move(component);
  if (info) {
    r->ctx.info = std::move(*info);
  }
  r->ctx.request = &r->request;
  r->ctx.node_name = std::string(kNode);
  return r;
}

/// Records `body` as the response to `req`, fed in pieces of `piece` bytes, and waits until the
/// cache has applied it. Returns whether the manager wanted to record it at all.
inline bool record(CacheManager& cache,
                   const Req& req,
                   std::string_view body,
                   int status = 200,
                   std::string content_type = "application/json",
                   bool complete = true,
                   std::size_t piece = 7) {
  net::Response head;
  head.status = status;
  head.headers.add("Content-Type", std::move(content_type));
  auto recorder = cache.record(req.ctx, head);
  if (!recorder) {
    return false;
  }
  for (std::size_t i = 0; i < body.size(); i += piece) {
    recorder->on_data(body.substr(i, piece));
  }
  recorder->finish(complete);
  cache.settle();
  return true;
}

inline json pod(std::string ns,
                std::string name,
                std::string rv,
                json labels = json::object(),
                std::string node = std::string(kNode)) {
  return json{{"metadata",
               {{"name", std::move(name)},
                {"namespace", std::move(ns)},
                {"resourceVersion", std::move(rv)},
                {"labels", std::move(labels)}}},
              {"spec", {{"nodeName", std::move(node)}}}};
}

/// The same object as a watch event or GET carries it (with kind and apiVersion).
inline json typed(json object, std::string kind = "Pod", std::string api_version = "v1") {
  object["kind"] = std::move(kind);
  object["apiVersion"] = std::move(api_version);
  return object;
}

inline std::string list_body(std::string kind,
                             std::string api_version,
                             std::string rv,
                             json items,
                             std::string continue_token = {}) {
  json list{{"kind", std::move(kind)},
            {"apiVersion", std::move(api_version)},
            {"metadata", {{"resourceVersion", std::move(rv)}}},
            {"items", std::move(items)}};
  if (!continue_token.empty()) {
    list["metadata"]["continue"] = std::move(continue_token);
  }
  return list.dump();
}

inline std::string event_line(std::string type, const json& object) {
  return json{{"type", std::move(type)}, {"object", object}}.dump() + "\n";
}

/// The stored object under `key` as JSON, or null.
inline json stored(const storage::Store& store, std::string_view key) {
  auto value = store.get(key);
  if (!value) {
    return nullptr;
  }
  return json::parse(**value);
}

inline std::string stored_rv(const storage::Store& store, std::string_view key) {
  auto j = stored(store, key);
  return j.is_null() ? std::string("<absent>")
                     : j["metadata"]["resourceVersion"].get<std::string>();
}

}  // namespace yurt::hub::test
