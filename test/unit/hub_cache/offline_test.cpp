// Offline answers: serve() behind serve_connection() over an in-memory pipe, time driven by
// FakeTimers, the cloud's return by a fake HealthView (docs/yurthub-cache.md "Offline answers").
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include "yurt/kube/time.hpp"
#include "yurt/storage/disk_store.hpp"
#include "yurt/storage/memory_store.hpp"

#include "src/apps/hub/cache/cache_manager.hpp"
#include "test/fakes/fake_clock.hpp"
#include "test/fakes/fake_timers.hpp"
#include "test/fakes/temp_dir.hpp"
#include "test/unit/hub_cache/hub_cache_test_util.hpp"
#include "test/unit/net/test_util.hpp"

namespace yurt::hub {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using net::test::kUse;
using test::event_line;
using test::json;
using test::list_body;
using test::make_req;
using test::pod;
using test::typed;

class FakeHealth final : public HealthView {
 public:
  explicit FakeHealth(asio::any_io_executor ex) : wake_(std::move(ex)) {
    wake_.expires_at(asio::steady_timer::time_point::max());
  }
  [[nodiscard]] bool healthy() const noexcept override { return healthy_; }
  asio::awaitable<void> wait_healthy() override {
    while (!healthy_) {
      co_await wake_.async_wait(kUse);
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        co_return;
      }
    }
  }
  void set_healthy() {
    healthy_ = true;
    wake_.cancel();
  }

 private:
  asio::steady_timer wake_;
  bool healthy_ = false;
};

/// What the proxy does when offline: describe the request, hand it to serve().
class CacheHandler final : public net::Handler {
 public:
  CacheHandler(CacheManager*& cache, HealthView& health) : cache_(cache), health_(health) {}
  asio::awaitable<void> handle(net::ServerExchange& ex) override {
    const net::Request& request = ex.request();
    auto info = kube::parse_request_info(request.method, request.target);
    if (!info) {
      net::Response bad;
      bad.status = 400;
      co_await ex.respond(std::move(bad));
      co_return;
    }
    const auto agent = request.headers.get("User-Agent");
    RequestContext ctx{std::string(agent.substr(0, agent.find('/'))), std::move(*info), &request,
                       std::string(test::kNode)};
    co_await cache_->serve(ctx, ex, health_);
  }

 private:
  CacheManager*& cache_;
  HealthView& health_;
};

struct Answer {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
  bool complete = false;                       // chunked body ended with its last chunk
  [[nodiscard]] json json_body() const { return json::parse(body); }
  [[nodiscard]] std::vector<json> lines() const {
    std::vector<json> out;
    std::size_t begin = 0;
    for (auto nl = body.find('\n'); nl != std::string::npos; nl = body.find('\n', begin)) {
      out.push_back(json::parse(body.substr(begin, nl - begin)));
      begin = nl + 1;
    }
    return out;
  }
};

Answer parse_answer(const std::string& raw) {
  Answer a;
  const auto end = raw.find("\r\n\r\n");
  if (end == std::string::npos) {
    return a;
  }
  std::string head = raw.substr(0, end);
  a.status = std::stoi(head.substr(9, 3));
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos) {
    const auto next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
    const auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (auto& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    a.headers[name] = line.substr(colon + 2);
    pos = next;
  }
  std::string rest = raw.substr(end + 4);
  if (a.headers["transfer-encoding"] != "chunked") {
    a.body = rest;
    a.complete = true;
    return a;
  }
  std::size_t at = 0;
  for (;;) {
    const auto line_end = rest.find("\r\n", at);
    if (line_end == std::string::npos) {
      break;
    }
    const std::size_t size = std::stoul(rest.substr(at, line_end - at), nullptr, 16);
    if (size == 0) {
      a.complete = true;
      break;
    }
    if (line_end + 2 + size + 2 > rest.size()) {
      break;
    }
    a.body += rest.substr(line_end + 2, size);
    at = line_end + 2 + size + 2;
  }
  return a;
}

/// A client connection: what it has received so far, and whether the server closed it.
struct Received {
  std::string raw;
  bool eof = false;
};

asio::awaitable<void> converse(net::AnyStream& client,
                               std::string request,
                               std::shared_ptr<Received> out) {
  co_await net::test::write_all(client, request);
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await client.async_read_some(asio::buffer(buf), kUse);
    out->raw.append(buf, n);
    if (ec) {
      out->eof = true;
      co_return;
    }
  }
}

class HubCacheOffline : public ::testing::Test {
 protected:
  void SetUp() override { open(memory_); }

  void TearDown() override {
    health_.set_healthy();  // ends any watch a failed test left behind
    pump();
  }

  void open(storage::Store& store, std::chrono::seconds bookmark_interval = 10s) {
    owned_.reset();
    cache_ = nullptr;
    CacheSettings settings;
    settings.offline_bookmark_interval = bookmark_interval;
    settings.sleep = timers_.sleep_function();
    auto made = make_cache_manager(store, std::move(settings), clock_);
    ASSERT_TRUE(made);
    owned_ = std::move(*made);
    cache_ = owned_.get();
  }

  void pump() {
    io_.restart();
    io_.poll();
  }

  // Starts a request; its answer accumulates in the returned Received as the io_context runs.
  std::shared_ptr<Received> start(const std::string& method,
                                  const std::string& target,
                                  const std::string& body = {},
                                  const std::string& extra_headers = {},
                                  const std::string& agent = "kubelet/v1.32.4 (linux/amd64)") {
    auto [client, server] = net::make_pipe(io_.get_executor());
    clients_.push_back(std::move(client));
    asio::co_spawn(io_, net::serve_connection(std::move(server), handler_, {}), asio::detached);
    std::string raw = method + " " + target +
                      " HTTP/1.1\r\nHost: 127.0.0.1:10261\r\nUser-Agent: " + agent +
                      "\r\nConnection: close\r\n" + extra_headers;
    if (!body.empty()) {
      raw += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    raw += "\r\n" + body;
    auto out = std::make_shared<Received>();
    asio::co_spawn(io_, converse(clients_.back(), std::move(raw), out), asio::detached);
    pump();
    return out;
  }

  Answer ask(const std::string& method,
             const std::string& target,
             const std::string& body = {},
             const std::string& extra_headers = {}) {
    auto received = start(method, target, body, extra_headers);
    EXPECT_TRUE(received->eof) << method << " " << target << " did not complete";
    return parse_answer(received->raw);
  }

  // Records a response as if it had come from the apiserver while online.
  void online(const std::string& method,
              const std::string& target,
              const std::string& body,
              int status = 200,
              const std::string& content_type = "application/json") {
    auto req = make_req(method, target);
    ASSERT_TRUE(test::record(*cache_, *req, body, status, content_type)) << target;
  }

  void online_pods() {
    online("GET", "/api/v1/pods",
           list_body("PodList", "v1", "100",
                     json::array({pod("default", "web-1", "11", {{"app", "web"}}, "edge-1"),
                                  pod("default", "web-2", "12", {{"app", "web"}}, "edge-2"),
                                  pod("default", "db-1", "13", {{"app", "db"}}, "edge-1"),
                                  pod("kube-system", "web-3", "14", {{"app", "web"}}, "edge-1")})));
  }

  static std::vector<std::string> names(const json& list) {
    std::vector<std::string> out;
    for (const auto& item : list["items"]) {
      out.push_back(item["metadata"]["namespace"].get<std::string>() + "/" +
                    item["metadata"]["name"].get<std::string>());
    }
    return out;
  }

  asio::io_context io_;
  FakeClock clock_;
  FakeTimers timers_{io_.get_executor(), clock_};
  FakeHealth health_{io_.get_executor()};
  storage::MemoryStore memory_;
  std::unique_ptr<CacheManager> owned_;
  CacheManager* cache_ = nullptr;
  CacheHandler handler_{cache_, health_};
  std::deque<net::AnyStream> clients_;  // stable addresses: coroutines hold references
};

void expect_status(const Answer& a,
                   int code,
                   const std::string& reason,
                   const std::string& message) {
  EXPECT_EQ(a.status, code);
  EXPECT_EQ(a.headers.at("content-type"), "application/json");
  auto body = a.json_body();
  EXPECT_EQ(body["kind"], "Status");
  EXPECT_EQ(body["apiVersion"], "v1");
  EXPECT_EQ(body["status"], "Failure");
  EXPECT_EQ(body["code"], code);
  EXPECT_EQ(body["reason"], reason);
  if (!message.empty()) {
    EXPECT_EQ(body["message"], message);
  }
}

// ---- GET and LIST ---------------------------------------------------------------------------

TEST_F(HubCacheOffline, GetAnswersTheCachedObjectOrNotFound) {
  online_pods();
  auto found = ask("GET", "/api/v1/namespaces/default/pods/web-1");
  EXPECT_EQ(found.status, 200);
  EXPECT_EQ(found.headers.at("content-type"), "application/json");
  EXPECT_EQ(found.json_body()["metadata"]["name"], "web-1");
  EXPECT_EQ(found.json_body()["kind"], "Pod");

  expect_status(ask("GET", "/api/v1/namespaces/default/pods/nope"), 404, "NotFound",
                "pods \"nope\" not found");
  expect_status(ask("GET", "/apis/apps/v1/namespaces/default/deployments/d"), 404, "NotFound",
                "deployments.apps \"d\" not found");
}

TEST_F(HubCacheOffline, InvalidUtf8InTheRequestStillGetsWellFormedJson) {
  online_pods();
  auto answer = ask("GET", "/api/v1/namespaces/default/pods/%FFx");
  expect_status(answer, 404, "NotFound", "pods \"\xEF\xBF\xBDx\" not found");
  auto watch = start("GET", "/api/v1/pods?allowWatchBookmarks=true&resourceVersion=%FF&watch=1");
  ASSERT_TRUE(timers_.advance_to_next());
  pump();
  auto lines = parse_answer(watch->raw).lines();
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0]["object"]["metadata"]["resourceVersion"], "\xEF\xBF\xBD");
}

TEST_F(HubCacheOffline, ListEvaluatesNamespaceLabelAndFieldSelectors) {
  online_pods();
  auto all = ask("GET", "/api/v1/pods?limit=500&resourceVersion=0");
  EXPECT_EQ(all.status, 200);
  auto list = all.json_body();
  EXPECT_EQ(list["kind"], "PodList");
  EXPECT_EQ(list["apiVersion"], "v1");
  EXPECT_EQ(list["metadata"]["resourceVersion"], "100");
  EXPECT_FALSE(list["metadata"].contains("continue"));  // limit ignored: everything at once
  EXPECT_EQ(names(list).size(), 4U);

  auto selected =
      ask("GET", "/api/v1/pods?labelSelector=app%3Dweb&fieldSelector=spec.nodeName%3Dedge-1");
  EXPECT_EQ(names(selected.json_body()),
            (std::vector<std::string>{"default/web-1", "kube-system/web-3"}));
  auto negative = ask("GET", "/api/v1/namespaces/default/pods?labelSelector=app%21%3Dweb");
  EXPECT_EQ(names(negative.json_body()), (std::vector<std::string>{"default/db-1"}));
  auto by_name = ask("GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb-2");
  EXPECT_EQ(names(by_name.json_body()), (std::vector<std::string>{"default/web-2"}));

  expect_status(ask("GET", "/api/v1/pods?fieldSelector=spec.bogus%3Dx"), 400, "BadRequest",
                "field label not supported: spec.bogus");
}

TEST_F(HubCacheOffline, KubeletServicesWithNegativeFieldSelector) {
  const json headless{
      {"metadata", {{"name", "headless"}, {"namespace", "default"}, {"resourceVersion", "3"}}},
      {"spec", {{"clusterIP", "None"}}}};
  const json normal{
      {"metadata", {{"name", "kubernetes"}, {"namespace", "default"}, {"resourceVersion", "4"}}},
      {"spec", {{"clusterIP", "10.96.0.1"}}}};
  const json external{
      {"metadata", {{"name", "ext"}, {"namespace", "default"}, {"resourceVersion", "5"}}},
      {"spec", {{"type", "ExternalName"}}}};
  online("GET", "/api/v1/services",
         list_body("ServiceList", "v1", "50", json::array({headless, normal, external})));
  auto answer = ask("GET", "/api/v1/services?fieldSelector=spec.clusterIP%21%3DNone");
  EXPECT_EQ(names(answer.json_body()),
            (std::vector<std::string>{"default/ext", "default/kubernetes"}));
  EXPECT_EQ(answer.json_body()["kind"], "ServiceList");
}

TEST_F(HubCacheOffline, ListThatWasNeverListedCompletelyIsRefused) {
  // Only single objects are known: a list from them could omit pods the kubelet must keep.
  online("GET", "/api/v1/namespaces/default/pods/a", typed(pod("default", "a", "5")).dump());
  expect_status(ask("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1"), 503,
                "ServiceUnavailable",
                "yurthub: the apiserver is unreachable; list pods in all namespaces "
                "fieldSelector=spec.nodeName=edge-1 (never listed completely by kubelet) cannot "
                "be served from the cache");
  // A narrower list than one recorded is covered.
  online_pods();
  EXPECT_EQ(ask("GET", "/api/v1/namespaces/kube-system/pods?labelSelector=app%3Dweb").status, 200);
}

TEST_F(HubCacheOffline, ListContinueTokenIsExpired) {
  online_pods();
  expect_status(ask("GET", "/api/v1/pods?limit=1&continue=abc"), 410, "Expired", {});
}

TEST_F(HubCacheOffline, TableRequestsAreNotAcceptable) {
  online_pods();
  auto answer =
      ask("GET", "/api/v1/pods", {}, "Accept: application/json;as=Table;v=v1;g=meta.k8s.io\r\n");
  expect_status(answer, 406, "NotAcceptable", {});
  // Protobuf-preferring clients get JSON (they decode by Content-Type).
  auto proto = ask("GET", "/api/v1/pods", {},
                   "Accept: application/vnd.kubernetes.protobuf,application/json\r\n");
  EXPECT_EQ(proto.status, 200);
}

// ---- WATCH ----------------------------------------------------------------------------------

TEST_F(HubCacheOffline, WatchSendsBookmarksAndEndsAtTimeoutSeconds) {
  online_pods();
  auto watch = start("GET",
                     "/api/v1/pods?allowWatchBookmarks=true&fieldSelector=spec.nodeName%3Dedge-1&"
                     "resourceVersion=100&timeoutSeconds=25&watch=true");
  auto answer = parse_answer(watch->raw);
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.headers["content-type"], "application/json");
  EXPECT_EQ(answer.headers["transfer-encoding"], "chunked");
  EXPECT_TRUE(answer.lines().empty());  // the client already has everything up to RV 100

  const json bookmark{
      {"type", "BOOKMARK"},
      {"object",
       {{"kind", "Pod"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", "100"}}}}}};
  for (std::size_t n = 1; n <= 2; ++n) {
    ASSERT_TRUE(timers_.advance_to_next());
    pump();
    auto lines = parse_answer(watch->raw).lines();
    ASSERT_EQ(lines.size(), n);
    EXPECT_EQ(lines.back(), bookmark);
    EXPECT_FALSE(watch->eof);
  }
  ASSERT_TRUE(timers_.advance_to_next());  // 25 s reached
  pump();
  EXPECT_TRUE(watch->eof);
  EXPECT_TRUE(parse_answer(watch->raw).complete);  // a clean end: the client re-watches
  EXPECT_EQ(timers_.requested(), (std::vector<std::chrono::nanoseconds>{10s, 10s, 5s}));
}

TEST_F(HubCacheOffline, WatchEndsWhenTheCloudIsBack) {
  online_pods();
  auto watch = start("GET", "/api/v1/pods?allowWatchBookmarks=true&resourceVersion=100&watch=1");
  ASSERT_TRUE(timers_.advance_to_next());
  pump();
  EXPECT_EQ(parse_answer(watch->raw).lines().size(), 1U);
  health_.set_healthy();
  pump();
  EXPECT_TRUE(watch->eof);
  auto answer = parse_answer(watch->raw);
  EXPECT_TRUE(answer.complete);
  EXPECT_EQ(answer.lines().size(), 1U);
  EXPECT_EQ(timers_.pending(), 0U);
}

TEST_F(HubCacheOffline, WatchWithoutBookmarksOnlyWaits) {
  online_pods();
  auto watch = start("GET", "/api/v1/pods?resourceVersion=100&timeoutSeconds=60&watch=1");
  ASSERT_TRUE(timers_.advance_to_next());
  pump();
  EXPECT_TRUE(watch->eof);
  EXPECT_TRUE(parse_answer(watch->raw).lines().empty());
  EXPECT_EQ(timers_.requested(), (std::vector<std::chrono::nanoseconds>{60s}));
}

TEST_F(HubCacheOffline, WatchFromZeroStartsWithAddedForEveryMatchingObject) {
  online_pods();
  auto watch = start("GET",
                     "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1&labelSelector=app%3Dweb&"
                     "resourceVersion=0&timeoutSeconds=5&watch=1");
  auto lines = parse_answer(watch->raw).lines();
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(lines[0]["type"], "ADDED");
  EXPECT_EQ(lines[0]["object"]["metadata"]["name"], "web-1");
  EXPECT_EQ(lines[1]["object"]["metadata"]["name"], "web-3");
  EXPECT_EQ(lines[1]["object"]["kind"], "Pod");
  ASSERT_TRUE(timers_.advance_to_next());
  pump();
  EXPECT_TRUE(watch->eof);
}

TEST_F(HubCacheOffline, WatchListSendsInitialEventsThenTheEndBookmark) {
  online_pods();
  auto watch = start("GET",
                     "/api/v1/pods?allowWatchBookmarks=true&fieldSelector=spec.nodeName%3Dedge-1&"
                     "resourceVersion=&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&"
                     "timeoutSeconds=377&watch=true");
  auto lines = parse_answer(watch->raw).lines();
  ASSERT_EQ(lines.size(), 4U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(lines[i]["type"], "ADDED");
  }
  EXPECT_EQ(lines[3], (json{{"type", "BOOKMARK"},
                            {"object",
                             {{"kind", "Pod"},
                              {"apiVersion", "v1"},
                              {"metadata",
                               {{"resourceVersion", "100"},
                                {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}}}}));
  // Then a normal watch: plain bookmarks until the end.
  ASSERT_TRUE(timers_.advance_to_next());
  pump();
  lines = parse_answer(watch->raw).lines();
  ASSERT_EQ(lines.size(), 5U);
  EXPECT_EQ(lines[4]["type"], "BOOKMARK");
  EXPECT_FALSE(lines[4]["object"]["metadata"].contains("annotations"));
  health_.set_healthy();
  pump();
  EXPECT_TRUE(watch->eof);
}

TEST_F(HubCacheOffline, InvalidWatchListIsRejectedLikeTheApiserver) {
  online_pods();
  auto answer = ask("GET", "/api/v1/pods?allowWatchBookmarks=true&sendInitialEvents=true&watch=1");
  expect_status(answer, 422, "Invalid", {});
  EXPECT_NE(answer.json_body()["message"].get<std::string>().find("resourceVersionMatch"),
            std::string::npos);
}

TEST_F(HubCacheOffline, WatchFromAnOlderVersionThanTheViewGetsExpired) {
  online_pods();
  auto watch = start("GET", "/api/v1/pods?resourceVersion=50&watch=1");
  EXPECT_TRUE(watch->eof);
  auto answer = parse_answer(watch->raw);
  EXPECT_EQ(answer.status, 200);
  ASSERT_EQ(answer.lines().size(), 1U);
  const json error = answer.lines()[0];
  EXPECT_EQ(error["type"], "ERROR");
  EXPECT_EQ(error["object"]["code"], 410);
  EXPECT_EQ(error["object"]["reason"], "Expired");
  EXPECT_EQ(error["object"]["message"], "too old resource version: 50 (100)");
}

TEST_F(HubCacheOffline, WatchOfSomethingNeverListedNeedsAVersion) {
  expect_status(ask("GET", "/api/v1/pods?watch=1"), 503, "ServiceUnavailable", {});
  // From a version: held open, bookmarks carry the client's own version.
  auto watch = start("GET", "/api/v1/pods?allowWatchBookmarks=true&resourceVersion=77&watch=1");
  ASSERT_TRUE(timers_.advance_to_next());
  pump();
  auto lines = parse_answer(watch->raw).lines();
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0]["object"]["metadata"]["resourceVersion"], "77");
  health_.set_healthy();
  pump();
  EXPECT_TRUE(watch->eof);
}

// A watch recorded online keeps the covered part's RV moving; offline answers use it.
TEST_F(HubCacheOffline, RecordedWatchEventsAndBookmarksAdvanceTheListVersion) {
  online("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1",
         list_body("PodList", "v1", "10", json::array({pod("default", "a", "5")})));
  online("GET",
         "/api/v1/pods?allowWatchBookmarks=true&fieldSelector=spec.nodeName%3Dedge-1&"
         "resourceVersion=10&watch=true",
         event_line("ADDED", typed(pod("default", "b", "11"))) +
             event_line("BOOKMARK", json{{"kind", "Pod"},
                                         {"apiVersion", "v1"},
                                         {"metadata", {{"resourceVersion", "20"}}}}));
  auto list = ask("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1").json_body();
  EXPECT_EQ(list["metadata"]["resourceVersion"], "20");
  EXPECT_EQ(names(list), (std::vector<std::string>{"default/a", "default/b"}));
  // A watch from a version the client cannot have got from a complete view does not advance it.
  online("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1&resourceVersion=90&watch=true",
         event_line("ADDED", typed(pod("default", "c", "91"))));
  list = ask("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1").json_body();
  EXPECT_EQ(list["metadata"]["resourceVersion"], "20");
}

// CoreDNS ≥ 1.14.2 never LISTs: its WatchList's initial set is what makes its view complete.
TEST_F(HubCacheOffline, RecordedWatchListMakesThePartListable) {
  auto target = std::string(
      "/api/v1/services?allowWatchBookmarks=true&resourceVersion=&resourceVersionMatch="
      "NotOlderThan&sendInitialEvents=true&watch=true");
  auto req = make_req("GET", target, "coredns");
  const json svc{
      {"kind", "Service"},
      {"apiVersion", "v1"},
      {"metadata", {{"name", "dns"}, {"namespace", "kube-system"}, {"resourceVersion", "7"}}}};
  ASSERT_TRUE(test::record(
      *cache_, *req,
      event_line("ADDED", svc) +
          event_line("BOOKMARK",
                     json{{"kind", "Service"},
                          {"apiVersion", "v1"},
                          {"metadata",
                           {{"resourceVersion", "30"},
                            {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}})));
  auto received = start("GET", "/api/v1/services", {}, {}, "coredns/1.14.2");
  auto list = parse_answer(received->raw).json_body();
  EXPECT_EQ(list["kind"], "ServiceList");
  EXPECT_EQ(list["metadata"]["resourceVersion"], "30");
  EXPECT_EQ(names(list), (std::vector<std::string>{"kube-system/dns"}));
  // Views are per component: the kubelet never listed services.
  EXPECT_EQ(ask("GET", "/api/v1/services").status, 503);
}

// ---- the node Lease -------------------------------------------------------------------------

TEST_F(HubCacheOffline, NodeLeaseGetIsSynthesizedWhenNeverCached) {
  auto answer = ask("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1");
  EXPECT_EQ(answer.status, 200);
  auto lease = answer.json_body();
  EXPECT_EQ(lease["kind"], "Lease");
  EXPECT_EQ(lease["apiVersion"], "coordination.k8s.io/v1");
  EXPECT_EQ(lease["metadata"]["name"], "edge-1");
  EXPECT_EQ(lease["metadata"]["namespace"], "kube-node-lease");
  EXPECT_EQ(lease["spec"]["holderIdentity"], "edge-1");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 40);
  EXPECT_EQ(lease["spec"]["renewTime"], "2024-01-01T00:00:00.000000Z");
}

TEST_F(HubCacheOffline, NodeLeaseRenewalsAreAnsweredLocally) {
  const std::string path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1";
  json cached{{"kind", "Lease"},
              {"apiVersion", "coordination.k8s.io/v1"},
              {"metadata",
               {{"name", "edge-1"}, {"namespace", "kube-node-lease"}, {"resourceVersion", "500"}}},
              {"spec",
               {{"holderIdentity", "edge-1"},
                {"leaseDurationSeconds", 40},
                {"renewTime", "2023-12-31T23:59:50.000000Z"}}}};
  online("GET", path, cached.dump());
  EXPECT_EQ(ask("GET", path).json_body(), cached);

  // A JSON renewal: the kubelet's renewTime is kept, the version moves on.
  json renewed = cached;
  renewed["spec"]["renewTime"] = "2024-01-01T00:00:05.123456Z";
  auto json_put = ask("PUT", path, renewed.dump(), "Content-Type: application/json\r\n");
  EXPECT_EQ(json_put.status, 200);
  EXPECT_EQ(json_put.json_body()["spec"]["renewTime"], "2024-01-01T00:00:05.123456Z");
  EXPECT_EQ(json_put.json_body()["metadata"]["resourceVersion"], "501");

  // The kubelet's default: a protobuf body we cannot read. The answer is JSON (it decodes by
  // Content-Type) with renewTime now.
  clock_.advance(10s);
  auto proto_put = ask("PUT", path, std::string("k8s\0\x0a\x1b", 6) + "lease-bytes",
                       "Content-Type: application/vnd.kubernetes.protobuf\r\n");
  EXPECT_EQ(proto_put.status, 200);
  EXPECT_EQ(proto_put.headers.at("content-type"), "application/json");
  auto lease = proto_put.json_body();
  EXPECT_EQ(lease["spec"]["renewTime"], "2024-01-01T00:00:10.000000Z");
  EXPECT_EQ(lease["spec"]["holderIdentity"], "edge-1");
  EXPECT_EQ(lease["metadata"]["resourceVersion"], "502");
  EXPECT_EQ(ask("GET", path).json_body(), lease);
  // Nothing of this is written to the store.
  EXPECT_EQ(
      test::stored_rv(memory_, "kubelet/leases.v1.coordination.k8s.io/kube-node-lease/edge-1"),
      "500");
}

// ---- writes ---------------------------------------------------------------------------------

TEST_F(HubCacheOffline, EventCreatesAreAcceptedAndDropped) {
  json event{{"metadata", {{"name", "web-1.17a"}, {"namespace", "default"}}},
             {"reason", "Pulled"},
             {"involvedObject", {{"kind", "Pod"}, {"name", "web-1"}}}};
  auto created = ask("POST", "/api/v1/namespaces/default/events", event.dump(),
                     "Content-Type: application/json\r\n");
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.json_body()["reason"], "Pulled");
  EXPECT_EQ(created.json_body()["kind"], "Event");

  auto proto =
      ask("POST", "/apis/events.k8s.io/v1/namespaces/default/events", std::string("k8s\0\x01", 5),
          "Content-Type: application/vnd.kubernetes.protobuf\r\n");
  EXPECT_EQ(proto.status, 201);
  EXPECT_EQ(proto.json_body()["apiVersion"], "events.k8s.io/v1");
  EXPECT_EQ(proto.json_body()["metadata"]["namespace"], "default");

  auto patched = ask("PATCH", "/api/v1/namespaces/default/events/web-1.17a", R"({"count":2})",
                     "Content-Type: application/strategic-merge-patch+json\r\n");
  EXPECT_EQ(patched.status, 200);
  EXPECT_EQ(patched.json_body()["metadata"]["name"], "web-1.17a");
  EXPECT_EQ(memory_.stats().objects, 0U);
}

TEST_F(HubCacheOffline, OtherWritesGetAClearStatus) {
  expect_status(ask("PUT", "/api/v1/namespaces/default/configmaps/x", "{}"), 503,
                "ServiceUnavailable",
                "yurthub: the apiserver is unreachable; update configmaps cannot be served from "
                "the cache");
  expect_status(ask("DELETE", "/api/v1/namespaces/default/pods/web-1"), 503, "ServiceUnavailable",
                "yurthub: the apiserver is unreachable; delete pods cannot be served from the "
                "cache");
  expect_status(ask("GET", "/openapi/v2"), 503, "ServiceUnavailable", {});
}

// After an offline reboot the kubelet must mount projected tokens before it starts pods: it gets
// a placeholder that expires within a minute, echoing the request's spec when that is JSON.
TEST_F(HubCacheOffline, TokenRequestGetsAShortLivedPlaceholder) {
  const json request{{"kind", "TokenRequest"},
                     {"apiVersion", "authentication.k8s.io/v1"},
                     {"spec",
                      {{"audiences", {"https://kubernetes.default.svc"}},
                       {"expirationSeconds", 3607},
                       {"boundObjectRef", {{"kind", "Pod"}, {"name", "web-1"}}}}}};
  auto answer =
      ask("POST", "/api/v1/namespaces/shop/serviceaccounts/builder/token", request.dump());
  ASSERT_EQ(answer.status, 201) << answer.body;
  const json body = answer.json_body();
  EXPECT_EQ(body["kind"], "TokenRequest");
  EXPECT_EQ(body["metadata"]["namespace"], "shop");
  EXPECT_EQ(body["metadata"]["name"], "builder");
  EXPECT_EQ(body["spec"], request["spec"]);
  EXPECT_EQ(body["status"]["token"], "yurthub-offline-placeholder-not-a-credential");
  const auto now = std::chrono::time_point_cast<std::chrono::microseconds>(clock_.now());
  EXPECT_EQ(body["status"]["expirationTimestamp"], kube::format_rfc3339(now + 60s));

  // The kubelet's protobuf body cannot be echoed: its usual lifetime stands in.
  auto proto =
      ask("POST", "/api/v1/namespaces/shop/serviceaccounts/builder/token",
          std::string("k8s\0\x01", 5), "Content-Type: application/vnd.kubernetes.protobuf\r\n");
  ASSERT_EQ(proto.status, 201) << proto.body;
  EXPECT_EQ(proto.json_body()["spec"]["expirationSeconds"], 3607);
  EXPECT_EQ(memory_.stats().objects, 0U) << "a token must never be stored";
}

TEST_F(HubCacheOffline, KubeletNodeStatusAndRegistrationAfterAnOfflineReboot) {
  const json node{{"kind", "Node"},
                  {"apiVersion", "v1"},
                  {"metadata", {{"name", "edge-1"}, {"resourceVersion", "40"}}},
                  {"status", {{"nodeInfo", {{"kubeletVersion", "v1.32.4"}}}}}};
  online("GET", "/api/v1/nodes?fieldSelector=metadata.name%3Dedge-1",
         list_body("NodeList", "v1", "45", json::array({node})));
  // Registration: a protobuf POST of its own Node → AlreadyExists, so the kubelet GETs it.
  expect_status(ask("POST", "/api/v1/nodes", std::string("k8s\0node", 8),
                    "Content-Type: application/vnd.kubernetes.protobuf\r\n"),
                409, "AlreadyExists", "nodes \"edge-1\" already exists");
  // Heartbeat: the status patch is answered with the cached Node.
  auto patched = ask("PATCH", "/api/v1/nodes/edge-1/status", R"({"status":{}})",
                     "Content-Type: application/strategic-merge-patch+json\r\n");
  EXPECT_EQ(patched.status, 200);
  EXPECT_EQ(patched.json_body(), node);
  // Another node's status is an ordinary write.
  EXPECT_EQ(ask("PATCH", "/api/v1/nodes/edge-2/status", "{}").status, 503);
}

// ---- discovery ------------------------------------------------------------------------------

TEST_F(HubCacheOffline, DiscoveryServesTheRepresentationAsked) {
  const std::string legacy = R"({"kind":"APIGroupList","apiVersion":"v1","groups":[]})";
  const std::string aggregated =
      R"({"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","items":[]})";
  const std::string v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
  online("GET", "/apis", legacy);
  online("GET", "/apis", aggregated, 200, v2);
  online("GET", "/version", R"({"major":"1","minor":"32","gitVersion":"v1.32.4"})");

  const std::string kubectl_accept =
      "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
      "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
      "application/json\r\n";
  auto agg = ask("GET", "/apis", {}, kubectl_accept);
  EXPECT_EQ(agg.status, 200);
  EXPECT_EQ(agg.body, aggregated);
  EXPECT_EQ(agg.headers.at("content-type"), v2);

  auto plain = ask("GET", "/apis", {}, "Accept: application/json, */*\r\n");
  EXPECT_EQ(plain.body, legacy);
  EXPECT_EQ(plain.headers.at("content-type"), "application/json");

  EXPECT_EQ(ask("GET", "/version").json_body()["gitVersion"], "v1.32.4");
  // Only the aggregated form accepted, only the legacy one cached: 406, as the apiserver would
  // for a representation it cannot produce.
  online("GET", "/api", R"({"kind":"APIVersions","versions":["v1"]})");
  expect_status(
      ask("GET", "/api", {},
          "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList\r\n"),
      406, "NotAcceptable", {});
  expect_status(ask("GET", "/apis/apps/v1"), 503, "ServiceUnavailable", {});
}

// ---- restart --------------------------------------------------------------------------------

TEST_F(HubCacheOffline, ReopenedDiskStoreServesTheSameAnswers) {
  TempDir dir;
  std::vector<std::string> answers;
  const std::string list = "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1";
  for (int round = 0; round < 2; ++round) {
    auto disk = storage::DiskStore::open(dir.path());
    ASSERT_TRUE(disk);
    open(**disk);
    if (round == 0) {
      online_pods();
      online("GET", "/api/v1/pods?allowWatchBookmarks=true&resourceVersion=100&watch=true",
             event_line("MODIFIED", typed(pod("default", "web-1", "120", {{"app", "web"}}))) +
                 event_line("BOOKMARK", json{{"kind", "Pod"},
                                             {"apiVersion", "v1"},
                                             {"metadata", {{"resourceVersion", "150"}}}}));
      online("GET", "/version", R"({"gitVersion":"v1.32.4"})");
    }
    auto answer = ask("GET", list);
    EXPECT_EQ(answer.status, 200);
    EXPECT_EQ(answer.json_body()["metadata"]["resourceVersion"], "150");
    answers.push_back(answer.body);
    answers.push_back(ask("GET", "/api/v1/namespaces/default/pods/web-1").body);
    answers.push_back(ask("GET", "/version").body);
    EXPECT_EQ(cache_->stats().junk_files, 0U);
    owned_.reset();
    cache_ = nullptr;
  }
  EXPECT_EQ(answers[0], answers[3]);
  EXPECT_EQ(answers[1], answers[4]);
  EXPECT_EQ(answers[2], answers[5]);
}

TEST_F(HubCacheOffline, JunkInTheCacheDirectoryIsCountedAndNotServed) {
  TempDir dir;
  std::ofstream(dir / "unexpected") << "junk";  // not an object at depth four
  auto disk = storage::DiskStore::open(dir.path());
  ASSERT_TRUE(disk);
  open(**disk);
  EXPECT_GE(cache_->stats().junk_files, 1U);
  EXPECT_EQ(ask("GET", "/api/v1/pods").status, 503);
  owned_.reset();
  cache_ = nullptr;
}

}  // namespace
}  // namespace yurt::hub
