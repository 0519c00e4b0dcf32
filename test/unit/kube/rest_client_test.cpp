// RestClient against an in-process fake apiserver on 127.0.0.1 (net::Listener): the bytes on
// the wire, Status errors, pagination, and watch streams cut into small chunks.

#include "yurt/kube/rest_client.hpp"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "yurt/kube/lister_watcher.hpp"
#include "yurt/kube/request_info.hpp"
#include "yurt/kube/resource_version.hpp"
#include "yurt/net/server.hpp"

#include "test/fakes/temp_dir.hpp"
#include "test/unit/kube/async_util.hpp"

namespace yurt::kube {
namespace {

using json = nlohmann::json;
namespace asio = boost::asio;

net::Request get_request(std::string target) {
  net::Request r;
  r.target = std::move(target);
  return r;
}

json cm(const std::string& name, const std::string& rv) {
  return {{"kind", "ConfigMap"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", name}, {"namespace", "ns"}, {"resourceVersion", rv}}}};
}

std::string event(std::string_view type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

struct Seen {
  std::string method;
  std::string target;
  net::Headers headers;
  std::string body;
};

class FakeApiServer final : public net::Handler {
 public:
  asio::awaitable<void> handle(net::ServerExchange& ex) override {
    const auto& req = ex.request();
    auto body = co_await ex.read_body(1 << 20);
    seen.push_back({req.method, req.target, req.headers, body ? *body : ""});
    auto info = parse_request_info(req.method, req.target);
    if (!info || !info->is_resource_request) {
      auto [status, out] = answer("", req.target, req.headers, "");
      co_await reply(ex, status, std::move(out));
      co_return;
    }
    const auto& verb = info->verb;
    const auto& name = info->name;
    if (verb == "list") {
      co_await list(ex, info->list_options);
      co_return;
    }
    if (verb == "watch") {
      co_await watch(ex, info->list_options);
      co_return;
    }
    // (Bodies are built outside the co_await: GCC 12 miscompiles string literals in there.)
    auto [status, out] = answer(verb, name, req.headers, body ? *body : std::string());
    co_await reply(ex, status, std::move(out));
  }

  static std::pair<int, std::string> answer(const std::string& verb,
                                            const std::string& name,
                                            const net::Headers& headers,
                                            const std::string& body) {
    if (verb == "get") {
      if (name == "a") {
        return {200, cm("a", "7").dump()};
      }
      if (name == "garbage") {
        return {200, "<html>proxy error</html>"};
      }
      return {404, status_body(not_found({"", "configmaps"}, name))};
    }
    if (verb == "create") {
      auto object = json::parse(body);
      object["metadata"]["resourceVersion"] = "8";
      return {201, object.dump()};
    }
    if (verb == "update") {
      auto object = json::parse(body);
      if (object["metadata"]["resourceVersion"] == "stale") {
        return {409, status_body(conflict({"", "configmaps"}, name,
                                          "the object has been modified; please apply your "
                                          "changes to the latest version and try again"))};
      }
      return {200, object.dump()};
    }
    if (verb == "patch") {
      return {
          200,
          json{{"patch", body}, {"contentType", std::string(headers.get("Content-Type"))}}.dump()};
    }
    if (verb == "delete") {
      Status ok;
      ok.status = "Success";
      ok.code = 200;
      return {200, status_body(ok)};
    }
    return {405, status_body(method_not_supported("ConfigMap", verb))};
  }

  std::vector<Seen> seen;
  bool expire_second_page = false;
  asio::steady_timer* held = nullptr;  // a "hold" watch waiting to be let go

 private:
  static asio::awaitable<void> reply(net::ServerExchange& ex, int status, std::string body) {
    net::Response r;
    r.status = status;
    r.headers.set("Content-Type", "application/json");
    r.body = std::move(body);
    co_await ex.respond(std::move(r));
  }

  asio::awaitable<void> list(net::ServerExchange& ex, const ListOptions& o) {
    auto [status, body] = list_page(o, expire_second_page);
    co_await reply(ex, status, std::move(body));
  }

  // (JSON built outside coroutines: GCC 12 miscompiles braced initializers in their bodies.)
  static std::pair<int, std::string> list_page(const ListOptions& o, bool expire_second_page) {
    constexpr int kItems = 5;
    int from = o.continue_token.empty() ? 0 : std::stoi(o.continue_token);
    if (from > 0 && expire_second_page) {
      return {410, status_body(expired("The provided continue parameter is too old to display a "
                                       "consistent list result."))};
    }
    int to = o.limit > 0 ? std::min<int>(kItems, from + static_cast<int>(o.limit)) : kItems;
    json items = json::array();
    for (int i = from; i < to; ++i) {
      items.push_back(cm("item-" + std::to_string(i), std::to_string(10 + i)));
    }
    json meta = {{"resourceVersion", "50"}};
    if (to < kItems) {
      meta["continue"] = std::to_string(to);
      meta["remainingItemCount"] = kItems - to;
    }
    return {
        200,
        json{{"kind", "ConfigMapList"}, {"apiVersion", "v1"}, {"metadata", meta}, {"items", items}}
            .dump()};
  }

  static std::string old_watch_status() {
    return status_body(expired("too old resource version: 1 (40)"));
  }

  static std::string watch_script(const std::string& rv) {
    std::string stream = event("ADDED", cm("a", "11"));
    if (rv == "truncated") {
      stream += R"({"type":"MODIFIED","object":{"metadata")";
      return stream;
    }
    stream += event(
        "BOOKMARK",
        {{"kind", "ConfigMap"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", "12"}}}});
    stream += event("DELETED", cm("a", "13"));
    if (rv == "expire") {
      stream += watch_error_event(expired("too old resource version: 13 (20)"));
    }
    return stream;
  }

  asio::awaitable<void> watch(net::ServerExchange& ex, const ListOptions& o) {
    if (o.resource_version == "old") {
      co_await reply(ex, 410, old_watch_status());
      co_return;
    }
    net::Response head;
    head.headers.set("Content-Type", "application/json");
    head.headers.set("Transfer-Encoding", "chunked");
    auto started = co_await ex.start_response(std::move(head));
    if (!started) {
      co_return;
    }
    const std::string stream = watch_script(o.resource_version);
    if (o.resource_version == "hold") {
      // One event, then silence until the test lets go (a quiet watch).
      auto written = co_await ex.write(stream.substr(0, stream.find('\n') + 1));
      if (written) {
        asio::steady_timer hold(co_await asio::this_coro::executor,
                                asio::steady_timer::time_point::max());
        held = &hold;
        co_await hold.async_wait(asio::as_tuple(asio::use_awaitable));
        held = nullptr;
      }
      co_return;
    }
    // Small chunks, each flushed: events arrive split at arbitrary points.
    for (std::size_t pos = 0; pos < stream.size(); pos += 7) {
      auto written = co_await ex.write(std::string_view(stream).substr(pos, 7));
      if (!written) {
        co_return;
      }
    }
    co_await ex.finish();
  }
};

class RestClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    net::ListenerConfig config;
    config.endpoint = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
    auto listener = net::Listener::bind(io_.get_executor(), api_, std::move(config));
    ASSERT_TRUE(listener) << listener.error().what();
    listener_ = std::move(*listener);
    asio::co_spawn(io_, listener_->run(), asio::detached);
  }

  void TearDown() override {
    if (api_.held != nullptr) {
      api_.held->cancel();
    }
    client_.reset();
    if (listener_) {
      test::run(io_, listener_->stop(net::Millis(1000)));
    }
  }

  RestConfig rest_config() const {
    RestConfig c;
    c.server = "http://127.0.0.1:" + std::to_string(listener_->local_endpoint().port());
    c.bearer_token = "s3cret";
    c.user_agent = "kube-test/1.0";
    return c;
  }

  RestClient& client(RestConfig c) {
    auto made = RestClient::create(io_.get_executor(), std::move(c));
    EXPECT_TRUE(made) << made.error().what();
    client_ = std::move(*made);
    return *client_;
  }
  RestClient& client() { return client(rest_config()); }

  template <class T>
  T run(asio::awaitable<T> coro) {
    return test::run(io_, std::move(coro));
  }

  asio::io_context io_;
  FakeApiServer api_;
  std::unique_ptr<net::Listener> listener_;
  std::unique_ptr<RestClient> client_;
};

TEST_F(RestClientTest, GetSendsJsonAcceptUserAgentAndBearerToken) {
  auto& c = client();
  auto got = run(c.get(resources::config_maps(), "ns", "a"));
  ASSERT_TRUE(got) << got.error().what();
  EXPECT_EQ((*got)["metadata"]["resourceVersion"], "7");
  ASSERT_EQ(api_.seen.size(), 1U);
  const auto& r = api_.seen[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/api/v1/namespaces/ns/configmaps/a");
  EXPECT_EQ(r.headers.get("Accept"), "application/json");
  EXPECT_EQ(r.headers.get("User-Agent"), "kube-test/1.0");
  EXPECT_EQ(r.headers.get("Authorization"), "Bearer s3cret");
}

TEST_F(RestClientTest, Non2xxIsTheStatusError) {
  auto& c = client();
  auto missing = run(c.get(resources::config_maps(), "ns", "missing"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), make_error_code(Errc::NotFound));
  EXPECT_EQ(missing.error().message(), "configmaps \"missing\" not found");

  json stale = cm("a", "stale");
  auto conflict = run(c.update(resources::config_maps(), "ns", stale));
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error(), make_error_code(Errc::Conflict));

  auto garbage = run(c.get(resources::config_maps(), "ns", "garbage"));
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error(), make_error_code(Errc::Malformed));
  EXPECT_NE(garbage.error().message().find("GET http://127.0.0.1:"), std::string::npos);
}

TEST_F(RestClientTest, WritesCarryTheirBodiesAndContentTypes) {
  auto& c = client();
  auto created = run(c.create(resources::config_maps(), "ns", cm("new", "")));
  ASSERT_TRUE(created) << created.error().what();
  EXPECT_EQ((*created)["metadata"]["resourceVersion"], "8");
  EXPECT_EQ(api_.seen.back().method, "POST");
  EXPECT_EQ(api_.seen.back().target, "/api/v1/namespaces/ns/configmaps");
  EXPECT_EQ(api_.seen.back().headers.get("Content-Type"), "application/json");

  auto updated = run(c.update(resources::config_maps(), "ns", cm("a", "7")));
  ASSERT_TRUE(updated);
  EXPECT_EQ(api_.seen.back().method, "PUT");
  EXPECT_EQ(api_.seen.back().target, "/api/v1/namespaces/ns/configmaps/a");
  EXPECT_EQ(json::parse(api_.seen.back().body)["metadata"]["resourceVersion"], "7");

  auto nameless = run(c.update(resources::config_maps(), "ns", json::object()));
  ASSERT_FALSE(nameless);
  EXPECT_EQ(nameless.error(), make_error_code(Errc::Invalid));

  for (auto [type, content_type] :
       {std::pair{PatchType::Merge, "application/merge-patch+json"},
        std::pair{PatchType::Strategic, "application/strategic-merge-patch+json"},
        std::pair{PatchType::Json, "application/json-patch+json"}}) {
    auto patched = run(c.patch(resources::config_maps(), "ns", "a", type, R"({"data":{}})"));
    ASSERT_TRUE(patched) << patched.error().what();
    EXPECT_EQ((*patched)["contentType"], content_type);
    EXPECT_EQ(api_.seen.back().method, "PATCH");
  }

  DeleteOptions options;
  options.precondition_resource_version = "7";
  options.propagation_policy = "Background";
  auto removed = run(c.remove(resources::config_maps(), "ns", "a", options));
  ASSERT_TRUE(removed) << removed.error().what();
  EXPECT_EQ((*removed)["status"], "Success");
  auto body = json::parse(api_.seen.back().body);
  EXPECT_EQ(body["kind"], "DeleteOptions");
  EXPECT_EQ(body["preconditions"]["resourceVersion"], "7");
  EXPECT_EQ(body["propagationPolicy"], "Background");
  auto plain = run(c.remove(resources::config_maps(), "ns", "a"));
  ASSERT_TRUE(plain);
  EXPECT_TRUE(api_.seen.back().body.empty());
}

TEST_F(RestClientTest, ListPagesAndListAllFollowsContinue) {
  auto& c = client();
  ListOptions o;
  o.limit = 2;
  auto page = run(c.list(resources::config_maps(), "ns", o));
  ASSERT_TRUE(page) << page.error().what();
  EXPECT_EQ(page->items.size(), 2U);
  EXPECT_EQ(page->continue_token, "2");
  EXPECT_EQ(page->remaining_item_count, 3);

  api_.seen.clear();
  o.resource_version = "0";
  auto all = run(c.list_all(resources::config_maps(), "ns", o));
  ASSERT_TRUE(all) << all.error().what();
  ASSERT_EQ(all->items.size(), 5U);
  EXPECT_EQ(all->items[4]["metadata"]["name"], "item-4");
  EXPECT_EQ(all->resource_version, "50");
  EXPECT_TRUE(all->continue_token.empty());
  ASSERT_EQ(api_.seen.size(), 3U);
  EXPECT_EQ(api_.seen[0].target, "/api/v1/namespaces/ns/configmaps?limit=2&resourceVersion=0");
  // Continued pages drop the resourceVersion (a continue token carries it).
  EXPECT_EQ(api_.seen[1].target, "/api/v1/namespaces/ns/configmaps?continue=2&limit=2");
}

TEST_F(RestClientTest, ListAllStartsOverUnpagedWhenTheContinueTokenExpires) {
  auto& c = client();
  api_.expire_second_page = true;
  ListOptions o;
  o.limit = 2;
  auto all = run(c.list_all(resources::config_maps(), "ns", o));
  ASSERT_TRUE(all) << all.error().what();
  EXPECT_EQ(all->items.size(), 5U);
  ASSERT_EQ(api_.seen.size(), 3U);
  EXPECT_EQ(api_.seen[2].target, "/api/v1/namespaces/ns/configmaps");
}

TEST_F(RestClientTest, WatchDecodesEventsSplitIntoSmallChunks) {
  auto& c = client();
  ListOptions o;
  o.resource_version = "10";
  o.allow_watch_bookmarks = true;
  o.timeout_seconds = 300;
  auto events = run([](RestClient& rc,
                       ListOptions opts) -> asio::awaitable<std::vector<std::string>> {
    std::vector<std::string> out;
    const std::string ns = "ns";
    auto stream = co_await rc.watch(resources::config_maps(), ns, std::move(opts));
    if (!stream) {
      out.push_back("error: " + stream.error().what());
      co_return out;
    }
    for (;;) {
      auto e = co_await (*stream)->next();
      if (!e) {
        out.push_back("error: " + e.error().what());
        co_return out;
      }
      if (!*e) {
        out.push_back("end");
        co_return out;
      }
      out.push_back(std::string(to_string((*e)->type)) + " " + resource_version_of((*e)->object));
    }
  }(c, o));
  EXPECT_EQ(events, (std::vector<std::string>{"ADDED 11", "BOOKMARK 12", "DELETED 13", "end"}));
  EXPECT_EQ(api_.seen.back().target,
            "/api/v1/namespaces/ns/configmaps?allowWatchBookmarks=true&resourceVersion=10&"
            "timeoutSeconds=300&watch=true");
}

asio::awaitable<Error> watch_until_error(RestClient& rc, std::string rv) {
  ListOptions o;
  o.resource_version = std::move(rv);
  const std::string ns = "ns";
  auto stream = co_await rc.watch(resources::config_maps(), ns, std::move(o));
  if (!stream) {
    co_return stream.error();
  }
  for (;;) {
    auto e = co_await (*stream)->next();
    if (!e) {
      co_return e.error();
    }
    if (!*e) {
      co_return Error();
    }
  }
}

TEST_F(RestClientTest, WatchExpiryAsHttp410AndAsErrorEventIsGone) {
  auto& c = client();
  auto http = run(watch_until_error(c, "old"));
  EXPECT_EQ(http, make_error_code(Errc::Gone));
  EXPECT_NE(http.message().find("too old resource version: 1 (40)"), std::string::npos);
  auto in_stream = run(watch_until_error(c, "expire"));
  EXPECT_EQ(in_stream, make_error_code(Errc::Gone));
  EXPECT_NE(in_stream.message().find("13 (20)"), std::string::npos);
}

TEST_F(RestClientTest, GracefulCancellationEndsAQuietWatch) {
  auto& c = client();
  ListOptions o;
  o.resource_version = "hold";
  auto stream = run(c.watch(resources::config_maps(), "ns", o));
  ASSERT_TRUE(stream) << stream.error().what();
  auto first = run((*stream)->next());
  ASSERT_TRUE(first && *first);
  std::optional<Result<std::optional<WatchEvent>>> second;
  auto waiting = test::Task::spawn(
      io_,
      [](WatchStream& s,
         std::optional<Result<std::optional<WatchEvent>>>& out) -> asio::awaitable<void> {
        co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
        out = co_await s.next();
      }(**stream, second));
  // Nothing arrives; a graceful stop (total cancellation) must still end the read.
  io_.restart();
  io_.run_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(waiting.done());
  waiting.cancel(asio::cancellation_type::total);
  io_.restart();
  for (int i = 0; i < 100 && !waiting.done(); ++i) {
    io_.run_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(waiting.done());
  ASSERT_TRUE(second);
  ASSERT_FALSE(*second);
  EXPECT_EQ(second->error().code(), std::errc::operation_canceled);
}

TEST_F(RestClientTest, WatchEndingInsideAnEventIsMalformed) {
  auto& c = client();
  auto e = run(watch_until_error(c, "truncated"));
  EXPECT_EQ(e, make_error_code(Errc::Malformed));
}

TEST_F(RestClientTest, RestListerWatcherListsAllPagesAndWatchesWithBookmarks) {
  auto& c = client();
  ListOptions selection;
  selection.limit = 2;
  selection.label_selector = *LabelSelector::parse("app=x");
  RestListerWatcher lw(c, resources::config_maps(), "ns", selection);
  auto list = run(lw.list("0"));
  ASSERT_TRUE(list) << list.error().what();
  EXPECT_EQ(list->items.size(), 5U);
  auto stream = run(lw.watch("50", std::chrono::seconds(321)));
  ASSERT_TRUE(stream) << stream.error().what();
  EXPECT_EQ(api_.seen.back().target,
            "/api/v1/namespaces/ns/configmaps?allowWatchBookmarks=true&labelSelector=app%3Dx&"
            "resourceVersion=50&timeoutSeconds=321&watch=true");
}

TEST_F(RestClientTest, TokenFileIsReadAndServerBasePathKept) {
  TempDir dir;
  { std::ofstream(dir / "token") << "from-file\n"; }
  auto config = rest_config();
  config.bearer_token = "old";
  config.bearer_token_file = dir / "token";
  auto& c = client(config);
  auto raw = run(c.raw(get_request("/version")));
  ASSERT_TRUE(raw) << raw.error().what();
  EXPECT_EQ(raw->status, 405);  // raw() hands back any status
  EXPECT_EQ(api_.seen.back().headers.get("Authorization"), "Bearer from-file");

  config.server += "/prefix/";
  auto& prefixed = client(config);
  (void)run(prefixed.get(resources::config_maps(), "ns", "a"));
  EXPECT_EQ(api_.seen.back().target, "/prefix/api/v1/namespaces/ns/configmaps/a");
}

TEST_F(RestClientTest, BadConfigsAreRefused) {
  for (const char* server : {"ftp://x", "https://", "https://host:99999", "https://[::1"}) {
    RestConfig c;
    c.server = server;
    auto made = RestClient::create(io_.get_executor(), c);
    ASSERT_FALSE(made) << server;
    EXPECT_EQ(made.error(), make_error_code(Errc::InvalidConfig)) << server;
  }
  RestConfig bad_pem;
  bad_pem.server = "https://127.0.0.1:6443";
  bad_pem.ca_pem = "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n";
  EXPECT_FALSE(RestClient::create(io_.get_executor(), bad_pem));
}

}  // namespace
}  // namespace yurt::kube
