// yurthub in-process (App) against FakeApiServer on loopback: online proxying and its header
// rules, the switch to the cache and back, bootstrap, limits, bad input and a hostile upstream.

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "yurt/base/fs.hpp"
#include "yurt/base/log.hpp"
#include "yurt/certs/key_pair.hpp"
#include "yurt/kube/base64.hpp"
#include "yurt/net/client.hpp"

#include "src/apps/hub/app.hpp"
#include "test/fakes/temp_dir.hpp"
#include "test/unit/hub/fake_apiserver.hpp"
#include "test/unit/net/test_util.hpp"

namespace yurt::hub {
namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using namespace std::chrono_literals;
using test::FakeApiServer;
using test::FakePki;
using ::testing::HasSubstr;

constexpr const char* kKubelet = "kubelet/v1.34.4 (linux/amd64) kubernetes/abc";

json pod(const std::string& name,
         const std::string& ns,
         const std::string& node,
         json labels,
         const std::string& rv) {
  return {{"metadata",
           {{"name", name},
            {"namespace", ns},
            {"uid", "uid-" + name},
            {"resourceVersion", rv},
            {"labels", std::move(labels)}}},
          {"spec", {{"nodeName", node}, {"containers", json::array({{{"name", "c"}}})}}},
          {"status", {{"phase", "Running"}}}};
}

std::string pod_list() {
  json list = {
      {"kind", "PodList"},
      {"apiVersion", "v1"},
      {"metadata", {{"resourceVersion", "10"}}},
      {"items",
       json::array({pod("web-1", "default", "edge", {{"app", "web"}, {"tier", "front"}}, "7"),
                    pod("db-1", "default", "edge", {{"app", "db"}}, "8"),
                    pod("web-2", "apps", "edge", {{"app", "web"}}, "9")})}};
  return list.dump();
}

std::string service_list() {
  json kubernetes = {
      {"metadata",
       {{"name", "kubernetes"}, {"namespace", "default"}, {"uid", "u1"}, {"resourceVersion", "5"}}},
      {"spec",
       {{"clusterIP", "10.96.0.1"},
        {"clusterIPs", {"10.96.0.1"}},
        {"ports", json::array({{{"name", "https"}, {"port", 443}, {"targetPort", 6443}}})}}}};
  json web = {
      {"metadata",
       {{"name", "web"}, {"namespace", "default"}, {"uid", "u2"}, {"resourceVersion", "6"}}},
      {"spec", {{"clusterIP", "10.96.0.9"}, {"ports", json::array({{{"port", 80}}})}}}};
  return json{{"kind", "ServiceList"},
              {"apiVersion", "v1"},
              {"metadata", {{"resourceVersion", "11"}}},
              {"items", json::array({kubernetes, web})}}
      .dump();
}

/// co_spawn needs a default-constructible result; Result<ClientCall> is not.
asio::awaitable<std::optional<Result<net::ClientCall>>> open_call(net::HttpClient& client,
                                                                  net::Origin origin,
                                                                  net::Request request) {
  co_return co_await client.open(std::move(origin), std::move(request));
}

class HubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::setup(log::Format::Text, 0);
    ASSERT_TRUE(fs::atomic_write(dir / "node.pem", pki.node_cert + pki.node_key));
    ASSERT_TRUE(fs::atomic_write(dir / "ca.crt", pki.ca->certificate_pem()));
    fake.set("/api/v1/pods", pod_list());
    fake.set("/api/v1/services", service_list());
    fake.set(
        "/api/v1/namespaces/default/configmaps/cm",
        R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm","namespace":"default","resourceVersion":"4"},"data":{"k":"v"}})");
    fake.start();
  }

  void TearDown() override { stop_hub(); }

  HubSettings settings() {
    HubSettings s;
    s.node_name = "edge";
    s.servers = {{fake.url(), "127.0.0.1", fake.port()}};
    s.heartbeat_interval = 100ms;
    s.heartbeat_timeout = 500ms;
    s.proxy_port = 0;
    s.proxy_secure_port = 0;
    s.serve_port = 0;
    s.root_dir = dir.path();
    s.disk_cache_path = dir / "cache";
    s.certs.mode = BootstrapMode::KubeletCertificate;
    s.certs.node_name = "edge";
    s.certs.pki_dir = dir / "pki";
    s.certs.kubelet_client_cert = dir / "node.pem";
    s.certs.kubelet_client_key = dir / "node.pem";
    s.certs.kubelet_ca_file = dir / "ca.crt";
    s.certs.serving_ips = {"127.0.0.1"};
    s.certs.reload_interval = 1s;
    s.certs.poll_interval = 100ms;
    s.cache.offline_bookmark_interval = 1s;
    s.drain_timeout = 1000ms;
    return s;
  }

  void start_hub(HubSettings s) {
    app = std::make_unique<App>(std::move(s), clock, false);
    auto started = app->start();
    ASSERT_TRUE(started) << started.error().what();
    runner = std::thread([this] { exit_code = app->run(); });
  }

  void stop_hub() {
    if (app) {
      app->request_stop();
      runner.join();
      app.reset();
    }
  }

  /// Polls `pred` (real time: the hub and the fake run on their own threads).
  static bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 3s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (pred()) {
        return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return pred();
  }

  Result<net::Response> request(net::Request req, std::uint16_t port = 0) {
    net::Origin origin{"127.0.0.1", port != 0 ? port : app->proxy_port(), nullptr};
    req.headers.set("Host", origin.authority());
    return net::test::run_awaitable(io, client.request(origin, std::move(req), 3000ms));
  }

  Result<net::Response> get(std::string target, const std::string& agent = kKubelet) {
    net::Request req;
    req.target = std::move(target);
    if (!agent.empty()) {
      req.headers.set("User-Agent", agent);
    }
    return request(std::move(req));
  }

  Result<net::ClientCall> open(net::Origin origin, net::Request req) {
    return *net::test::run_awaitable(io, open_call(client, std::move(origin), std::move(req)));
  }

  std::string metrics() {
    net::Request req;
    req.target = "/metrics";
    auto r = request(std::move(req), app->serve_port());
    return r ? r->body : std::string();
  }

  bool has_metric(const std::string& line) {
    return metrics().find(line + "\n") != std::string::npos;
  }

  bool online() { return has_metric("yurthub_online 1"); }
  bool offline() { return has_metric("yurthub_online 0"); }

  TempDir dir;
  FakePki pki;
  FakeApiServer fake{pki};
  SystemClock clock;
  std::unique_ptr<App> app;
  std::thread runner;
  int exit_code = -1;
  asio::io_context io;
  net::HttpClient client{io.get_executor()};
};

std::vector<std::string> names(const std::string& list_body) {
  std::vector<std::string> out;
  auto j = json::parse(list_body);
  for (const auto& item : j["items"]) {
    out.push_back(item["metadata"]["name"]);
  }
  return out;
}

TEST_F(HubTest, CacheableRequestsAskForJsonWithoutGzipAndUseTheNodeIdentity) {
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return online(); }));
  net::Request req;
  req.target = "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge";
  req.headers.set("User-Agent", kKubelet);
  req.headers.set("Accept", "application/vnd.kubernetes.protobuf,application/json");
  req.headers.set("Accept-Encoding", "gzip");
  auto r = request(std::move(req));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, pod_list());  // byte for byte
  auto seen = fake.last("/api/v1/pods");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers.get("Accept"), "application/json");
  EXPECT_FALSE(seen->headers.contains("Accept-Encoding"));
  EXPECT_EQ(seen->peer_cn, "system:node:edge");
  EXPECT_EQ(seen->peer_orgs, std::vector<std::string>{"system:nodes"});
  EXPECT_EQ(seen->headers.get("Host"), "127.0.0.1:" + std::to_string(fake.port()));
}

TEST_F(HubTest, OtherRequestsPassUntouched) {
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return online(); }));
  net::Request req;
  req.target = "/api/v1/pods";
  req.headers.set("User-Agent", "kubectl/v1.34");
  req.headers.set("Accept", "application/vnd.kubernetes.protobuf,application/json");
  req.headers.set("Accept-Encoding", "gzip");
  req.headers.set("X-Custom", "kept");
  auto r = request(std::move(req));
  ASSERT_TRUE(r);
  auto seen = fake.last("/api/v1/pods");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers.get("Accept"), "application/vnd.kubernetes.protobuf,application/json");
  EXPECT_EQ(seen->headers.get("Accept-Encoding"), "gzip");
  EXPECT_EQ(seen->headers.get("X-Custom"), "kept");
  // Not a cache agent: nothing recorded.
  auto listing = request(
      [] {
        net::Request l;
        l.target = "/v1/cache?prefix=kubectl/";
        return l;
      }(),
      app->serve_port());
  ASSERT_TRUE(listing);
  EXPECT_EQ(json::parse(listing->body)["total"], 0);
}

TEST_F(HubTest, BearerRequestsTravelWithoutTheHubsCertificate) {
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return online(); }));
  net::Request req;
  req.target = "/api/v1/namespaces/default/configmaps/cm";
  req.headers.set("User-Agent", "my-operator/1.0");
  req.headers.set("Authorization", "Bearer pod-token");
  auto r = request(std::move(req));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto seen = fake.last("/api/v1/namespaces/default/configmaps/cm");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->headers.get("Authorization"), "Bearer pod-token");
  EXPECT_EQ(seen->peer_cn, "");  // no client certificate presented
}

TEST_F(HubTest, OfflineListEvaluatesFieldAndLabelSelectors) {
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return online(); }));
  fake.set("/api/v1/pods", [] {
    auto j = json::parse(pod_list());
    j["items"].erase(2);  // what the apiserver returns for spec.nodeName=edge in default+apps…
    return j.dump();
  }());
  auto online_list = get("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge");
  ASSERT_TRUE(online_list);
  ASSERT_EQ(online_list->status, 200);

  fake.stop();
  ASSERT_TRUE(eventually([&] { return offline(); }));
  auto r = get("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge&labelSelector=app%3Dweb");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(names(r->body), std::vector<std::string>{"web-1"});
  auto none = get("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge&labelSelector=app%3Dcache");
  ASSERT_TRUE(none);
  EXPECT_TRUE(names(none->body).empty());
  EXPECT_THAT(metrics(), HasSubstr("yurthub_served_from_cache_total"));
  EXPECT_FALSE(has_metric("yurthub_served_from_cache_total 0"));
}

TEST_F(HubTest, ConnectFailureAnswersFromTheCacheAtOnce) {
  auto s = settings();
  s.heartbeat_interval = 60s;  // only the failed connect can notice
  start_hub(s);
  ASSERT_TRUE(eventually([&] { return online(); }));
  auto cm = get("/api/v1/namespaces/default/configmaps/cm");
  ASSERT_TRUE(cm);
  ASSERT_EQ(cm->status, 200);
  fake.stop();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = get("/api/v1/namespaces/default/configmaps/cm");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["data"]["k"], "v");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "waited out a timeout";
  EXPECT_TRUE(has_metric("yurthub_upstream_healthy{server=\"" + fake.url() + "\"} 0"));
  EXPECT_TRUE(offline());
}

TEST_F(HubTest, WatchIsCutWhenTheEndpointDiesAndResumesFromTheCache) {
  fake.set_watch_events("/api/v1/pods",
                        {R"({"type":"ADDED","object":)" +
                         pod("web-1", "default", "edge", {{"app", "web"}}, "12").dump() + "}"});
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return online(); }));
  ASSERT_TRUE(get("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge"));

  // An online watch, held open by the fake after one event.
  net::Request watch;
  watch.target = "/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dedge&resourceVersion=10";
  watch.headers.set("User-Agent", kKubelet);
  watch.headers.set("Host", "127.0.0.1");
  net::Origin origin{"127.0.0.1", app->proxy_port(), nullptr};
  auto call = open(origin, std::move(watch));
  ASSERT_TRUE(call) << call.error().what();
  auto first = net::test::run_awaitable(io, call->read_some());
  ASSERT_TRUE(first);
  EXPECT_THAT(std::string(*first), HasSubstr("\"ADDED\""));
  ASSERT_TRUE(eventually([&] { return fake.waiting() == 1; }));

  // The link goes black: /readyz stops answering, connections stay open but silent.
  fake.freeze_readyz = true;
  ASSERT_TRUE(eventually([&] { return offline(); }));
  // The hub cut the watch cleanly (the client re-watches), without waiting for the dead TCP.
  std::string rest;
  for (;;) {
    auto piece = net::test::run_awaitable(io, call->read_some());
    ASSERT_TRUE(piece) << piece.error().what();
    if (piece->empty()) {
      break;
    }
    rest += *piece;
  }
  // The re-watch is served by the cache: bookmarks while offline.
  net::Request again;
  again.target =
      "/api/v1/pods?watch=true&allowWatchBookmarks=true&fieldSelector=spec.nodeName%3Dedge&"
      "resourceVersion=12&timeoutSeconds=30";
  again.headers.set("User-Agent", kKubelet);
  again.headers.set("Host", "127.0.0.1");
  auto offline_watch = open(origin, std::move(again));
  ASSERT_TRUE(offline_watch) << offline_watch.error().what();
  EXPECT_EQ(offline_watch->response().status, 200);
  auto bookmark = net::test::run_awaitable(io, offline_watch->read_some(), 3000ms);
  ASSERT_TRUE(bookmark);
  EXPECT_THAT(std::string(*bookmark), HasSubstr("BOOKMARK"));
  // The cloud comes back: the offline watch ends so the client goes online again.
  fake.freeze_readyz = false;
  fake.release();
  std::string tail;
  for (;;) {
    auto piece = net::test::run_awaitable(io, offline_watch->read_some(), 4000ms);
    ASSERT_TRUE(piece) << piece.error().what();
    if (piece->empty()) {
      break;
    }
    tail += *piece;
  }
  EXPECT_TRUE(online());
}

TEST_F(HubTest, TooManyRequestsGet429WithRetryAfter) {
  auto s = settings();
  s.max_requests_in_flight = 1;
  start_hub(s);
  ASSERT_TRUE(eventually([&] { return online(); }));
  // One request parked at the fake, on its own thread's client.
  std::thread parked([&] {
    asio::io_context io2;
    net::HttpClient c2(io2.get_executor());
    net::Request req;
    req.target = "/api/v1/namespaces/default/configmaps/slow";
    req.headers.set("Host", "x");
    req.headers.set("User-Agent", "kubectl/1");
    net::Origin o{"127.0.0.1", app->proxy_port(), nullptr};
    auto r = net::test::run_awaitable(io2, c2.request(o, std::move(req), 4000ms), 4500ms);
    EXPECT_TRUE(r);
  });
  ASSERT_TRUE(eventually([&] { return fake.waiting() == 1; }));
  auto r = get("/api/v1/namespaces/default/configmaps/cm");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->headers.get("Retry-After"), "1");
  auto status = json::parse(r->body);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["reason"], "TooManyRequests");
  EXPECT_EQ(status["code"], 429);
  // Watches are counted apart: one still gets through.
  net::Request watch;
  watch.target = "/api/v1/services?watch=true";
  watch.headers.set("User-Agent", "kubectl/1");
  watch.headers.set("Host", "x");
  net::Origin origin{"127.0.0.1", app->proxy_port(), nullptr};
  auto w = open(origin, std::move(watch));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->response().status, 200);
  fake.release();
  parked.join();
  EXPECT_TRUE(has_metric("yurthub_rejected_requests_total{kind=\"short\"} 1"));
}

TEST_F(HubTest, BadInputGetsPreciseStatuses) {
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return online(); }));
  auto bad_escape = get("/api/v1/namespaces/default/pods/%zz");
  ASSERT_TRUE(bad_escape);
  EXPECT_EQ(bad_escape->status, 400);
  EXPECT_EQ(json::parse(bad_escape->body)["reason"], "BadRequest");
  EXPECT_THAT(json::parse(bad_escape->body)["message"].get<std::string>(), HasSubstr("%zz"));

  auto dots = get("/api/v1/namespaces/../pods");
  ASSERT_TRUE(dots);
  EXPECT_EQ(dots->status, 400);

  auto selector = get("/api/v1/pods?labelSelector=app%20in%20(");
  ASSERT_TRUE(selector);
  EXPECT_EQ(selector->status, 400);
  EXPECT_EQ(json::parse(selector->body)["kind"], "Status");

  auto timeout = get("/api/v1/pods?watch=true&timeoutSeconds=soon");
  ASSERT_TRUE(timeout);
  EXPECT_EQ(timeout->status, 400);

  // The size is refused from the header, before the body is read (a client still sending
  // would see its connection closed under it, so this one sends only the head).
  auto raw = [&](const std::string& bytes) {
    return net::test::run_awaitable(
        io, [](std::uint16_t port, std::string out) -> asio::awaitable<std::string> {
          asio::ip::tcp::socket socket(co_await asio::this_coro::executor);
          co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port},
                                        asio::use_awaitable);
          co_await net::test::write_all(socket, out);
          co_return co_await net::test::read_until(socket, "\r\n\r\n");
        }(app->proxy_port(), bytes));
  };
  auto too_large =
      raw("POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n"
          "User-Agent: kubectl/1\r\nContent-Type: application/json\r\nContent-Length: " +
          std::to_string((std::size_t{3} << 20U) + 1) + "\r\n\r\n");
  EXPECT_THAT(too_large, ::testing::StartsWith("HTTP/1.1 413 "));
  auto two_lengths =
      raw("GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
  EXPECT_THAT(two_lengths, ::testing::StartsWith("HTTP/1.1 400 "));

  net::Request huge_header;
  huge_header.target = "/api/v1/pods";
  huge_header.headers.set("X-Big", std::string((std::size_t{1} << 20U) + 10, 'h'));
  auto hdr = request(std::move(huge_header));
  ASSERT_TRUE(hdr);
  EXPECT_EQ(hdr->status, 431);
  // None of these reached the apiserver.
  EXPECT_EQ(fake.count("/api/v1/namespaces/default/pods/"), 0U);
  EXPECT_EQ(fake.count("/api/v1/namespaces/default/configmaps"), 0U);
}

/// The sizes of the chunks of a raw chunked HTTP/1.1 response, the last (0) one excluded.
std::vector<std::size_t> chunk_sizes(const std::string& response) {
  std::vector<std::size_t> sizes;
  auto at = response.find("\r\n\r\n");
  if (at == std::string::npos) {
    return sizes;
  }
  at += 4;
  for (;;) {
    const auto eol = response.find("\r\n", at);
    if (eol == std::string::npos) {
      return sizes;
    }
    const std::size_t size = std::stoul(response.substr(at, eol - at), nullptr, 16);
    if (size == 0) {
      return sizes;
    }
    sizes.push_back(size);
    at = eol + 2 + size + 2;
  }
}

TEST_F(HubTest, ListBodiesReachTheClientInLargeWrites) {
  // The apiserver streams a LIST in small chunks as it encodes it; the hub must not hand each
  // one on as a write (and a wake-up of the client) of its own.
  json list = json::parse(pod_list());
  for (int i = 0; i < 1800; ++i) {
    list["items"].push_back(
        pod("p-" + std::to_string(i), "default", "edge", {{"app", "bulk"}}, "9"));
  }
  const std::string body = list.dump();
  ASSERT_GT(body.size(), 3 * 64 * 1024U);
  fake.set("/api/v1/pods", body);
  fake.body_chunk_bytes = 1024;
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return online(); }));
  auto raw = [&]() -> asio::awaitable<std::string> {
    asio::ip::tcp::socket socket(io);
    auto [cec] = co_await socket.async_connect(
        {asio::ip::make_address("127.0.0.1"), app->proxy_port()}, net::test::kUse);
    EXPECT_FALSE(cec) << cec.message();
    const std::string request =
        std::string("GET /api/v1/pods?fieldSelector=spec.nodeName%3Dedge HTTP/1.1\r\n") +
        "Host: hub\r\n" + "User-Agent: " + kKubelet + "\r\nConnection: close\r\n\r\n";
    co_await net::test::write_all(socket, request);
    co_return co_await net::test::read_to_eof(socket);
  };
  const std::string response = net::test::run_awaitable(io, raw());
  ASSERT_THAT(response, HasSubstr("Transfer-Encoding: chunked"));
  const auto sizes = chunk_sizes(response);
  ASSERT_FALSE(sizes.empty()) << response.substr(0, 300);
  std::size_t total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    total += sizes[i];
    if (i + 1 < sizes.size()) {
      EXPECT_GE(sizes[i], 64 * 1024U) << "chunk " << i << " of " << sizes.size();
    }
  }
  EXPECT_EQ(total, body.size());
  // Recorded whole, as before (1803 pods, and what the hub caches of its own).
  EXPECT_TRUE(eventually([&] {
    constexpr std::string_view kGauge = "\nyurthub_cache_objects ";
    const auto text = metrics();
    const auto at = text.find(kGauge);
    return at != std::string::npos && std::stoul(text.substr(at + kGauge.size())) >= 1803;
  })) << metrics();
}

TEST_F(HubTest, GarbageFromTheApiserverIsABadGateway) {
  test::RawTlsServer hostile(pki, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
  auto s = settings();
  s.servers = {{hostile.url(), "127.0.0.1", hostile.port()}};
  start_hub(s);
  ASSERT_TRUE(eventually([&] { return online(); }));
  auto r = get("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(json::parse(r->body)["kind"], "Status");
  EXPECT_TRUE(has_metric("yurthub_cache_objects 0"));
}

TEST_F(HubTest, TruncatedBodyReachesNeitherClientAsCompleteNorTheCache) {
  const std::string body = pod_list();
  test::RawTlsServer hostile(
      pki, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, body.size() / 2));
  auto s = settings();
  s.servers = {{hostile.url(), "127.0.0.1", hostile.port()}};
  start_hub(s);
  ASSERT_TRUE(eventually([&] { return online(); }));
  auto r = get("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge");
  EXPECT_FALSE(r && r->body == body);  // the client sees a broken message, never a whole one
  EXPECT_TRUE(eventually([&] { return hostile.answered() >= 1; }));
  EXPECT_TRUE(eventually(
      [&] { return !has_metric("yurthub_cache_skipped_total{reason=\"incomplete\"} 0"); }));
  EXPECT_TRUE(has_metric("yurthub_cache_objects 0"));
}

TEST_F(HubTest, TruncatedChunkedWatchIsNotCompletedForTheClient) {
  test::RawTlsServer hostile(
      pki,
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      "10\r\n{\"type\":\"ADDED\",\r\n");
  auto s = settings();
  s.servers = {{hostile.url(), "127.0.0.1", hostile.port()}};
  start_hub(s);
  ASSERT_TRUE(eventually([&] { return online(); }));
  auto r = get("/api/v1/pods?watch=true&fieldSelector=spec.nodeName%3Dedge");
  ASSERT_FALSE(r);  // cut, not a clean end
  EXPECT_TRUE(has_metric("yurthub_cache_objects 0"));
}

TEST_F(HubTest, GarbageJsonIsForwardedButNotCached) {
  const std::string garbage = "{\"items\":[{]]]]";
  test::RawTlsServer hostile(pki,
                             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: " +
                                 std::to_string(garbage.size()) + "\r\n\r\n" + garbage);
  auto s = settings();
  s.servers = {{hostile.url(), "127.0.0.1", hostile.port()}};
  start_hub(s);
  ASSERT_TRUE(eventually([&] { return online(); }));
  auto r = get("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, garbage);
  // The recorder finishes just after the client has the last byte.
  EXPECT_TRUE(eventually(
      [&] { return !has_metric("yurthub_cache_skipped_total{reason=\"malformed\"} 0"); }));
  EXPECT_TRUE(has_metric("yurthub_cache_objects 0"));
}

TEST_F(HubTest, MasterServiceFilterOnlineAndOffline) {
  auto s = settings();
  s.service_host = "169.254.2.1";
  s.proxy_secure_port = 0;
  start_hub(s);
  ASSERT_TRUE(eventually([&] { return online(); }));
  auto check = [](const std::string& body) {
    auto j = json::parse(body);
    ASSERT_EQ(j["items"].size(), 2U);
    EXPECT_EQ(j["items"][0]["spec"]["clusterIP"], "169.254.2.1");
    EXPECT_EQ(j["items"][0]["spec"]["ports"][0]["port"], 0);  // the configured secure port
    EXPECT_EQ(j["items"][1]["spec"]["clusterIP"], "10.96.0.9");
  };
  auto r = get("/api/v1/services?fieldSelector=spec.clusterIP%21%3DNone");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  check(r->body);
  // Another component sees the real Service.
  auto other = get("/api/v1/services", "kube-proxy/v1.34");
  ASSERT_TRUE(other);
  EXPECT_EQ(json::parse(other->body)["items"][0]["spec"]["clusterIP"], "10.96.0.1");

  fake.stop();
  ASSERT_TRUE(eventually([&] { return offline(); }));
  auto cached = get("/api/v1/services?fieldSelector=spec.clusterIP%21%3DNone");
  ASSERT_TRUE(cached);
  ASSERT_EQ(cached->status, 200) << cached->body;
  check(cached->body);
}

TEST_F(HubTest, UpgradesAreSpliced) {
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return online(); }));
  net::Request req;
  req.method = "POST";
  req.target = "/api/v1/namespaces/default/pods/web-1/exec?command=sh&stdin=true";
  req.headers.set("Host", "x");
  req.headers.set("User-Agent", "kubectl/1");
  req.headers.set("Authorization", "Bearer admin");
  req.headers.set("Connection", "Upgrade");
  req.headers.set("Upgrade", "SPDY/3.1");
  net::Origin origin{"127.0.0.1", app->proxy_port(), nullptr};
  auto call = open(origin, std::move(req));
  ASSERT_TRUE(call) << call.error().what();
  EXPECT_EQ(call->response().status, 101);
  auto stream = call->take_stream();
  ASSERT_TRUE(stream);
  net::test::run_awaitable(io, net::test::write_all(*stream, "hello"));
  auto echoed = net::test::run_awaitable(io, net::test::read_until(*stream, "hello"));
  EXPECT_EQ(echoed, "echo:hello");
  stream->close();
}

TEST_F(HubTest, HubServerEndpoints) {
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return online(); }));
  ASSERT_TRUE(get("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge"));
  // Counted and recorded once the exchange is over, just after the client has its answer.
  ASSERT_TRUE(eventually([&] {
    return has_metric("yurthub_requests_total{component=\"kubelet\",verb=\"list\",code=\"200\"} 1");
  }));
  auto at = [&](const std::string& target) {
    net::Request r;
    r.target = target;
    return request(std::move(r), app->serve_port());
  };
  auto healthz = at("/v1/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->body, "OK");
  auto readyz = at("/v1/readyz");
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 200);
  auto m = metrics();
  for (const char* family :
       {"yurthub_requests_total{component=\"kubelet\",verb=\"list\",code=\"200\"} 1",
        "yurthub_upstream_healthy{server=", "yurthub_cache_objects ", "yurthub_cache_bytes ",
        "yurthub_certificate_expiry_seconds{certificate=\"client\"}",
        "yurthub_in_flight_requests{kind=\"long-running\"}"}) {
    EXPECT_THAT(m, HasSubstr(family));
  }
  auto listing = at("/v1/cache?prefix=kubelet/");
  ASSERT_TRUE(listing);
  auto j = json::parse(listing->body);
  EXPECT_GE(j["total"].get<int>(), 3);
  EXPECT_THAT(listing->body, HasSubstr("kubelet/pods.v1.core/default/web-1"));
  EXPECT_THAT(listing->body, ::testing::Not(HasSubstr("\"labels\"")));  // keys only
  auto bad = at("/v1/cache?prefix=%zz");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  net::Request post;
  post.method = "POST";
  post.target = "/v1/healthz";
  auto refused = request(std::move(post), app->serve_port());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 405);
}

TEST_F(HubTest, TokenBootstrapObtainsANodeClientCertificate) {
  const certs::BootstrapToken token{"abcdef", "0123456789abcdef"};
  const std::string kubeconfig =
      "apiVersion: v1\nkind: Config\nclusters:\n- name: ''\n  cluster:\n    server: " + fake.url() +
      "\n    certificate-authority-data: " + kube::base64_encode(pki.ca->certificate_pem()) + "\n";
  json cm = {{"kind", "ConfigMap"},
             {"apiVersion", "v1"},
             {"metadata", {{"name", "cluster-info"}, {"namespace", "kube-public"}}},
             {"data",
              {{"kubeconfig", kubeconfig},
               {"jws-kubeconfig-abcdef", certs::compute_detached_jws(kubeconfig, token)}}}};
  fake.set_cluster_info(cm.dump());
  auto s = settings();
  s.certs.mode = BootstrapMode::Token;
  s.certs.join_token = token.str();
  s.certs.ca_pins = {pki.pin()};
  start_hub(s);
  ASSERT_TRUE(eventually([&] { return online(); }));
  ASSERT_TRUE(eventually(
      [&] { return has_metric("yurthub_certificate_ready{certificate=\"client\"} 1"); }, 4s));
  auto csrs = fake.csrs();
  ASSERT_FALSE(csrs.empty());
  EXPECT_EQ(csrs[0]["spec"]["signerName"], "kubernetes.io/kube-apiserver-client-kubelet");
  auto post = fake.last("/apis/certificates.k8s.io/v1/certificatesigningrequests");
  ASSERT_TRUE(post);
  EXPECT_EQ(fake.seen()[0].target.substr(0, 7), "/readyz");
  bool bearer = false;
  for (const auto& r : fake.seen()) {
    if (r.method == "POST" && r.target.starts_with("/apis/certificates.k8s.io")) {
      bearer = bearer || r.headers.get("Authorization") == "Bearer " + token.str();
      break;
    }
  }
  EXPECT_TRUE(bearer);
  // Requests now carry the new identity.
  auto r = get("/api/v1/namespaces/default/configmaps/cm");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(fake.last("/api/v1/namespaces/default/configmaps/cm")->peer_cn, "system:node:edge");
  // The pair is stored in the kubelet's layout for the next start.
  auto stored = certs::KeyPairStore(dir / "pki", "yurthub-client", clock).load();
  ASSERT_TRUE(stored) << stored.error().what();
  EXPECT_EQ(stored->leaf.subject.common_name, "system:node:edge");
  EXPECT_EQ(stored->leaf.subject.organizations, std::vector<std::string>{"system:nodes"});
}

TEST_F(HubTest, WrongCaPinStopsTheBootstrap) {
  const certs::BootstrapToken token{"abcdef", "0123456789abcdef"};
  const std::string kubeconfig =
      "apiVersion: v1\nkind: Config\nclusters:\n- name: ''\n  cluster:\n    server: " + fake.url() +
      "\n    certificate-authority-data: " + kube::base64_encode(pki.ca->certificate_pem()) + "\n";
  json cm = {{"kind", "ConfigMap"},
             {"apiVersion", "v1"},
             {"metadata", {{"name", "cluster-info"}, {"namespace", "kube-public"}}},
             {"data",
              {{"kubeconfig", kubeconfig},
               {"jws-kubeconfig-abcdef", certs::compute_detached_jws(kubeconfig, token)}}}};
  fake.set_cluster_info(cm.dump());
  auto s = settings();
  s.certs.mode = BootstrapMode::Token;
  s.certs.join_token = token.str();
  s.certs.ca_pins = {"sha256:" + std::string(64, '0')};
  start_hub(s);
  ASSERT_TRUE(eventually([&] { return fake.count("/api/v1/namespaces/kube-public") >= 2; }));
  EXPECT_TRUE(fake.csrs().empty());
  EXPECT_TRUE(has_metric("yurthub_certificate_ready{certificate=\"client\"} 0"));
  // Without a client identity the kubelet is told to come back, not sent anonymously.
  auto r = get("/api/v1/namespaces/default/configmaps/cm");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  net::Request ready;
  ready.target = "/v1/readyz";
  auto readyz = request(std::move(ready), app->serve_port());
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 503);
}

TEST_F(HubTest, SecurePortServesPodsWithTheirOwnTokens) {
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return app->secure_port() != 0; }, 4s));
  auto csrs = fake.csrs();
  ASSERT_FALSE(csrs.empty());
  EXPECT_EQ(csrs.back()["spec"]["signerName"], "kubernetes.io/kubelet-serving");
  net::TlsClientOptions options;
  options.credentials.ca_bundle = pki.ca->certificate_pem();
  auto tls = net::TlsContext::client(std::move(options)).value();
  net::Origin origin{"127.0.0.1", app->secure_port(), tls};
  for (bool with_token : {true, false}) {
    net::Request req;
    req.target = "/api/v1/namespaces/default/configmaps/cm";
    req.headers.set("Host", origin.authority());
    req.headers.set("User-Agent", "kubelet/in-a-pod");  // even the kubelet's UA: no node identity
    if (with_token) {
      req.headers.set("Authorization", "Bearer sa-token");
    }
    auto r = net::test::run_awaitable(io, client.request(origin, std::move(req), 3000ms));
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->status, 200);
    auto seen = fake.last("/api/v1/namespaces/default/configmaps/cm");
    ASSERT_TRUE(seen);
    EXPECT_EQ(seen->peer_cn, "");
    EXPECT_EQ(seen->headers.get("Authorization"), with_token ? "Bearer sa-token" : "");
  }
}

TEST_F(HubTest, StopDrainsOpenWatches) {
  start_hub(settings());
  ASSERT_TRUE(eventually([&] { return online(); }));
  net::Request watch;
  watch.target = "/api/v1/services?watch=true";
  watch.headers.set("User-Agent", "kubectl/1");
  watch.headers.set("Host", "x");
  net::Origin origin{"127.0.0.1", app->proxy_port(), nullptr};
  auto w = open(origin, std::move(watch));
  ASSERT_TRUE(w);
  ASSERT_TRUE(eventually([&] { return fake.waiting() == 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  app->request_stop();
  runner.join();
  EXPECT_EQ(exit_code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  app.reset();
  auto end = net::test::run_awaitable(io, w->read_some());
  EXPECT_TRUE(!end || end->empty());
}

}  // namespace
}  // namespace yurt::hub
