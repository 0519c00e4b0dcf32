// Recording: what reaches the store from LIST, WATCH, GET and write responses, and what never
// does (docs/yurthub-cache.md "Recording").
#include <algorithm>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "yurt/storage/memory_store.hpp"

#include "src/apps/hub/cache/cache_manager.hpp"
#include "test/fakes/fake_clock.hpp"
#include "test/unit/hub_cache/hub_cache_test_util.hpp"

namespace yurt::hub {
namespace {

using test::event_line;
using test::json;
using test::list_body;
using test::make_req;
using test::pod;
using test::record;
using test::stored;
using test::stored_rv;
using test::typed;

constexpr std::string_view kPods = "kubelet/pods.v1.core/";

class HubCacheRecording : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen(CacheSettings settings = {}) {
    cache_.reset();
    auto made = make_cache_manager(store_, std::move(settings), clock_);
    ASSERT_TRUE(made);
    cache_ = std::move(*made);
  }

  // A LIST of pods with `query` answered by `items` at `rv`.
  void list_pods(const std::string& path_and_query, json items, const std::string& rv) {
    auto req = make_req("GET", path_and_query);
    ASSERT_TRUE(record(*cache_, *req, list_body("PodList", "v1", rv, std::move(items))));
  }

  std::vector<std::string> pod_keys() { return store_.keys(kPods); }

  storage::MemoryStore store_;
  FakeClock clock_;
  std::unique_ptr<CacheManager> cache_;
};

std::vector<std::string> keys(std::initializer_list<std::string_view> names) {
  std::vector<std::string> out;
  for (auto n : names) {
    out.push_back(std::string(kPods) + std::string(n));
  }
  return out;
}

TEST_F(HubCacheRecording, ListStoresEachItemWithKindUnderItsKey) {
  list_pods("/api/v1/pods", json::array({pod("default", "a", "5"), pod("kube-system", "b", "6")}),
            "10");
  EXPECT_EQ(pod_keys(), keys({"default/a", "kube-system/b"}));
  auto a = stored(store_, "kubelet/pods.v1.core/default/a");
  EXPECT_EQ(a["kind"], "Pod");
  EXPECT_EQ(a["apiVersion"], "v1");
  EXPECT_EQ(a["spec"]["nodeName"], "edge-1");
  EXPECT_EQ(cache_->stats().lists_recorded, 1U);
}

TEST_F(HubCacheRecording, FullListRemovesObjectsNoLongerListed) {
  list_pods("/api/v1/pods", json::array({pod("default", "a", "5"), pod("default", "b", "6")}),
            "10");
  list_pods("/api/v1/pods", json::array({pod("default", "a", "5")}), "20");
  EXPECT_EQ(pod_keys(), keys({"default/a"}));
}

// OpenYurt #1400: a narrower LIST replaced the whole view. Here it only replaces its own part.
TEST_F(HubCacheRecording, LabelSelectorListAfterFullListKeepsTheOthers) {
  list_pods("/api/v1/pods",
            json::array({pod("default", "a", "5", {{"app", "web"}}),
                         pod("default", "b", "6", {{"app", "db"}})}),
            "10");
  list_pods("/api/v1/pods?labelSelector=app%3Dweb",
            json::array({pod("default", "a", "15", {{"app", "web"}})}), "20");
  EXPECT_EQ(pod_keys(), keys({"default/a", "default/b"}));
  EXPECT_EQ(stored_rv(store_, "kubelet/pods.v1.core/default/a"), "15");
}

TEST_F(HubCacheRecording, SelectorListRemovesStaleObjectsInsideTheSelectorOnly) {
  list_pods("/api/v1/pods",
            json::array({pod("default", "a", "5", {{"app", "web"}}),
                         pod("default", "b", "6", {{"app", "db"}}),
                         pod("default", "c", "7", {{"app", "web"}})}),
            "10");
  list_pods("/api/v1/pods?labelSelector=app%3Dweb",
            json::array({pod("default", "a", "5", {{"app", "web"}})}), "20");
  EXPECT_EQ(pod_keys(), keys({"default/a", "default/b"}));
}

TEST_F(HubCacheRecording, FieldSelectorAndNamespaceBoundWhatAListReplaces) {
  list_pods("/api/v1/pods",
            json::array({pod("default", "mine", "5", {}, "edge-1"),
                         pod("default", "other", "6", {}, "edge-2"),
                         pod("kube-system", "gone", "7", {}, "edge-1")}),
            "10");
  // The kubelet's LIST: only pods bound to its node; another node's pod stays.
  list_pods("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1",
            json::array({pod("default", "mine", "5", {}, "edge-1")}), "20");
  EXPECT_EQ(pod_keys(), keys({"default/mine", "default/other"}));
  // A namespaced LIST touches only its namespace.
  list_pods("/api/v1/namespaces/kube-system/pods", json::array({pod("kube-system", "new", "21")}),
            "30");
  EXPECT_EQ(pod_keys(), keys({"default/mine", "default/other", "kube-system/new"}));
  list_pods("/api/v1/namespaces/default/pods", json::array(), "40");
  EXPECT_EQ(pod_keys(), keys({"kube-system/new"}));
}

TEST_F(HubCacheRecording, ListNeverReplacesANewerObjectNorDropsOneCreatedAfterIt) {
  auto watch = make_req("GET", "/api/v1/pods?watch=true&resourceVersion=1");
  ASSERT_TRUE(record(*cache_, *watch,
                     event_line("ADDED", typed(pod("default", "a", "20"))) +
                         event_line("ADDED", typed(pod("default", "late", "15")))));
  // An older list (RV 10) arrives after the watch events.
  list_pods("/api/v1/pods", json::array({pod("default", "a", "5")}), "10");
  EXPECT_EQ(stored_rv(store_, "kubelet/pods.v1.core/default/a"), "20");
  EXPECT_EQ(stored_rv(store_, "kubelet/pods.v1.core/default/late"), "15");
  EXPECT_EQ(cache_->stats().stale_ignored, 1U);
}

// A second, lagging stream of the same component must not bring back an object that a newer,
// complete view says is gone.
TEST_F(HubCacheRecording, LaggingStreamDoesNotResurrectADeletedObject) {
  list_pods("/api/v1/pods", json::array({pod("default", "a", "5")}), "10");
  auto current = make_req("GET", "/api/v1/pods?watch=1&resourceVersion=10");
  ASSERT_TRUE(record(*cache_, *current, event_line("DELETED", typed(pod("default", "a", "12")))));
  EXPECT_TRUE(pod_keys().empty());
  auto lagging = make_req("GET", "/api/v1/pods?watch=1&resourceVersion=6&labelSelector=x%21%3Dy");
  ASSERT_TRUE(record(*cache_, *lagging, event_line("MODIFIED", typed(pod("default", "a", "8")))));
  EXPECT_TRUE(pod_keys().empty());
  // An object created after the view's version is new, not resurrected.
  ASSERT_TRUE(record(*cache_, *lagging, event_line("ADDED", typed(pod("default", "b", "13")))));
  EXPECT_EQ(pod_keys(), keys({"default/b"}));
}

TEST_F(HubCacheRecording, TruncatedListCommitsNothing) {
  list_pods("/api/v1/pods", json::array({pod("default", "a", "5")}), "10");
  auto req = make_req("GET", "/api/v1/pods");
  const std::string body =
      list_body("PodList", "v1", "20", json::array({pod("default", "b", "6")}));
  // The whole body arrived but the connection broke before its end was confirmed.
  ASSERT_TRUE(record(*cache_, *req, body, 200, "application/json", /*complete=*/false));
  EXPECT_EQ(pod_keys(), keys({"default/a"}));
  EXPECT_EQ(cache_->stats().incomplete_bodies, 1U);
}

// Stored as the apiserver sent them (a list item with the kind and apiVersion a list leaves
// out), so that a later LIST recognises an unchanged object by its bytes and parses nothing.
TEST_F(HubCacheRecording, ObjectsAreStoredAsSent) {
  const std::string item =
      R"({"metadata":{"name":"a","namespace":"default","resourceVersion":"5"},)"
      R"("spec":{"nodeName":"edge-1"}})";
  auto req = make_req("GET", "/api/v1/pods");
  ASSERT_TRUE(record(*cache_, *req,
                     R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"10"},)"
                     R"("items":[)" +
                         item + "]}\n"));
  EXPECT_EQ(**store_.get("kubelet/pods.v1.core/default/a"),
            R"({"kind":"Pod","apiVersion":"v1",)" + item.substr(1));
  // A watch event's object, byte for byte (the order of its keys is the apiserver's).
  const std::string object =
      R"({"kind":"Pod","apiVersion":"v1","spec":{"nodeName":"edge-1"},)"
      R"("metadata":{"resourceVersion":"11","namespace":"default","name":"a"}})";
  auto watch = make_req("GET", "/api/v1/pods?watch=1&resourceVersion=10");
  ASSERT_TRUE(record(*cache_, *watch, R"({"type":"MODIFIED","object":)" + object + "}\n"));
  EXPECT_EQ(**store_.get("kubelet/pods.v1.core/default/a"), object);
  // A GET's body, without the newline after it.
  auto get = make_req("GET", "/api/v1/namespaces/default/pods/a");
  const std::string got = R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"a",)"
                          R"("namespace":"default","resourceVersion":"12"}})";
  ASSERT_TRUE(record(*cache_, *get, got + "\n"));
  EXPECT_EQ(**store_.get("kubelet/pods.v1.core/default/a"), got);
}

TEST_F(HubCacheRecording, AnItemNamingItsKindOutOfPlaceIsStoredWithItOnce) {
  auto req = make_req("GET", "/api/v1/pods");
  ASSERT_TRUE(record(
      *cache_, *req,
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"10"},"items":[)"
      R"({"metadata":{"name":"a","namespace":"default","resourceVersion":"5"},"kind":"Pod"}]})"));
  const std::string bytes = **store_.get("kubelet/pods.v1.core/default/a");
  EXPECT_EQ(bytes.find(R"("kind")"), bytes.rfind(R"("kind")")) << bytes;
  EXPECT_EQ(json::parse(bytes)["apiVersion"], "v1");
}

// Unchanged items are recognised by their bytes, not parsed — which must not let anything
// malformed beside them through.
TEST_F(HubCacheRecording, AMalformedItemBesideUnchangedOnesRefusesTheList) {
  const std::string a = pod("default", "a", "5").dump();
  const auto list = [&](const std::string& items) {
    return R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"10"},"items":[)" +
           items + "]}";
  };
  auto req = make_req("GET", "/api/v1/pods");
  ASSERT_TRUE(record(*cache_, *req, list(a + "," + pod("default", "b", "6").dump())));
  ASSERT_EQ(pod_keys(), keys({"default/a", "default/b"}));
  const std::vector<std::string> bad{
      list(a + R"(,{"metadata":})"),              // not JSON
      list(a + ",42"),                            // not an object
      list(a + "," + a.substr(0, a.size() - 1)),  // cut short
      // a second items, spelled with an escape
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"10"},"items":[)" + a +
          R"(],"\u0069tems":[]})",
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"10"},"items":[)" + a +
          "]",  // the list itself cut short
  };
  for (const auto& body : bad) {
    ASSERT_TRUE(record(*cache_, *req, body));
  }
  EXPECT_EQ(cache_->stats().rejected_malformed, bad.size());
  EXPECT_EQ(pod_keys(), keys({"default/a", "default/b"})) << "b was dropped by a refused list";
  // Unchanged a and a dropped b: the part still follows the list.
  ASSERT_TRUE(record(*cache_, *req, list(a)));
  EXPECT_EQ(pod_keys(), keys({"default/a"}));
}

TEST_F(HubCacheRecording, ARecorderDroppedBeforeItsEndCommitsNothing) {
  list_pods("/api/v1/pods", json::array({pod("default", "a", "5")}), "10");
  auto req = make_req("GET", "/api/v1/pods");
  net::Response head;
  head.headers.add("Content-Type", "application/json");
  auto recorder = cache_->record(req->ctx, head);
  ASSERT_NE(recorder, nullptr);
  // The proxy's handler ended (an exception, a cancelled exchange) without finish().
  recorder->on_data(list_body("PodList", "v1", "20", json::array({pod("default", "b", "6")})));
  recorder.reset();
  cache_->settle();
  EXPECT_EQ(pod_keys(), keys({"default/a"}));
}

TEST_F(HubCacheRecording, GarbageNeverReachesTheStore) {
  list_pods("/api/v1/pods", json::array({pod("default", "a", "5")}), "10");
  auto req = make_req("GET", "/api/v1/pods");
  const json no_name = json{{"metadata", {{"namespace", "default"}}}};
  const std::vector<std::string> bodies{
      "{\"kind\":\"PodList\",\"items\":[",  // cut JSON
      "not json at all",                    // garbage
      list_body("PodList", "v1", "20", json::array({pod("default", "b", "6"), no_name})),  // item
      list_body("Status", "v1", "20", json::array()),        // not a list
      list_body("PodList", "apps/v1", "20", json::array()),  // wrong API
      std::string(600, '[') + std::string(600, ']'),         // too deep
  };
  for (const auto& body : bodies) {
    ASSERT_TRUE(record(*cache_, *req, body));
  }
  EXPECT_EQ(pod_keys(), keys({"default/a"}));
  EXPECT_EQ(cache_->stats().rejected_malformed, bodies.size());
  // A namespaced LIST whose item claims another namespace is refused whole.
  auto ns_req = make_req("GET", "/api/v1/namespaces/default/pods");
  ASSERT_TRUE(record(*cache_, *ns_req,
                     list_body("PodList", "v1", "30", json::array({pod("other", "x", "6")}))));
  EXPECT_EQ(pod_keys(), keys({"default/a"}));
}

TEST_F(HubCacheRecording, ListOverTheLimitIsPassedThroughUnrecorded) {
  CacheSettings settings;
  settings.max_list_bytes = 64;
  reopen(settings);
  list_pods("/api/v1/pods", json::array({pod("default", "a", "5"), pod("default", "b", "6")}),
            "10");
  EXPECT_TRUE(pod_keys().empty());
  EXPECT_EQ(cache_->stats().skipped_too_large, 1U);
}

TEST_F(HubCacheRecording, NonJsonAndTableResponsesAreNotRecorded) {
  auto req = make_req("GET", "/api/v1/pods");
  EXPECT_FALSE(record(*cache_, *req, "k8s\0...", 200, "application/vnd.kubernetes.protobuf"));
  EXPECT_FALSE(record(*cache_, *req, "{}", 200, "application/json;as=Table;v=v1;g=meta.k8s.io"));
  net::Response gz;
  gz.headers.add("Content-Type", "application/json");
  gz.headers.add("Content-Encoding", "gzip");
  EXPECT_EQ(cache_->record(req->ctx, gz), nullptr);
  EXPECT_EQ(cache_->stats().skipped_non_json, 2U);
  EXPECT_EQ(cache_->stats().objects, 0U);
}

TEST_F(HubCacheRecording, PaginatedListPagesOnlyAddObjects) {
  list_pods("/api/v1/pods", json::array({pod("default", "a", "5"), pod("default", "b", "6")}),
            "10");
  auto page = make_req("GET", "/api/v1/pods?limit=1");
  ASSERT_TRUE(
      record(*cache_, *page,
             list_body("PodList", "v1", "20", json::array({pod("default", "c", "15")}), "token")));
  EXPECT_EQ(pod_keys(), keys({"default/a", "default/b", "default/c"}));
}

TEST_F(HubCacheRecording, WatchEventsApplyInOrderAcrossArbitraryPieces) {
  auto req = make_req("GET", "/api/v1/pods?watch=1&resourceVersion=10");
  const std::string stream =
      event_line("ADDED", typed(pod("default", "a", "11"))) +
      event_line("MODIFIED", typed(pod("default", "a", "12", {{"v", "2"}}))) +
      event_line("ADDED", typed(pod("default", "b", "13"))) +
      event_line("DELETED", typed(pod("default", "b", "14"))) +
      event_line(
          "BOOKMARK",
          json{{"kind", "Pod"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", "20"}}}});
  for (std::size_t piece : {1U, 3U, 64U, 4096U}) {
    store_.replace_prefix(std::string(kPods), {}).value();
    net::Response head;
    head.headers.add("Content-Type", "application/json");
    auto recorder = cache_->record(req->ctx, head);
    ASSERT_NE(recorder, nullptr);
    for (std::size_t i = 0; i < stream.size(); i += piece) {
      recorder->on_data(std::string_view(stream).substr(i, piece));
      if (i == 0) {
        // Applied as each line completes, not at the end of the stream.
        cache_->settle();
        EXPECT_TRUE(pod_keys().empty() || piece > stream.find('\n'));
      }
    }
    cache_->settle();
    EXPECT_EQ(pod_keys(), keys({"default/a"})) << "piece " << piece;
    EXPECT_EQ(stored(store_, "kubelet/pods.v1.core/default/a")["metadata"]["labels"]["v"], "2");
    recorder->finish(false);
  }
}

TEST_F(HubCacheRecording, WatchNeverReplacesANewerObject) {
  auto req = make_req("GET", "/api/v1/pods?watch=1&resourceVersion=10");
  ASSERT_TRUE(record(*cache_, *req,
                     event_line("ADDED", typed(pod("default", "a", "50"))) +
                         event_line("MODIFIED", typed(pod("default", "a", "30"))) +
                         event_line("DELETED", typed(pod("default", "a", "40")))));
  EXPECT_EQ(stored_rv(store_, "kubelet/pods.v1.core/default/a"), "50");
  EXPECT_EQ(cache_->stats().stale_ignored, 2U);
}

TEST_F(HubCacheRecording, DeletedWithTheSameVersionKeepsWhatAnotherWatchStored) {
  // Pod a leaves watch A's selector (DELETED at 30 from A) in the same change watch B stored.
  auto b = make_req("GET", "/api/v1/pods?watch=1&resourceVersion=10");
  ASSERT_TRUE(record(*cache_, *b, event_line("MODIFIED", typed(pod("default", "a", "30")))));
  auto a = make_req("GET", "/api/v1/pods?watch=1&resourceVersion=10&labelSelector=app%3Dweb");
  ASSERT_TRUE(record(*cache_, *a, event_line("DELETED", typed(pod("default", "a", "30")))));
  EXPECT_EQ(stored_rv(store_, "kubelet/pods.v1.core/default/a"), "30");
}

TEST_F(HubCacheRecording, WatchDropsAPartialLastLineAndStopsAtGarbage) {
  auto req = make_req("GET", "/api/v1/pods?watch=1&resourceVersion=10");
  const std::string full = event_line("ADDED", typed(pod("default", "a", "11")));
  const std::string partial = event_line("ADDED", typed(pod("default", "b", "12")));
  ASSERT_TRUE(record(*cache_, *req, full + partial.substr(0, partial.size() / 2), 200,
                     "application/json", /*complete=*/false));
  EXPECT_EQ(pod_keys(), keys({"default/a"}));

  ASSERT_TRUE(record(*cache_, *req,
                     "{\"type\":\"ADDED\",\"object\":{\"metadata\n" +
                         event_line("ADDED", typed(pod("default", "c", "13")))));
  EXPECT_EQ(pod_keys(), keys({"default/a"}));
  // An object of another API group in the stream is as bad as broken JSON.
  ASSERT_TRUE(record(*cache_, *req,
                     event_line("ADDED", typed(pod("default", "d", "14"), "Pod", "apps/v1"))));
  EXPECT_EQ(pod_keys(), keys({"default/a"}));
  EXPECT_EQ(cache_->stats().rejected_malformed, 2U);
}

TEST_F(HubCacheRecording, WatchErrorEventsAreIgnored) {
  auto req = make_req("GET", "/api/v1/pods?watch=1&resourceVersion=10");
  ASSERT_TRUE(record(*cache_, *req,
                     event_line("ERROR", json{{"kind", "Status"},
                                              {"apiVersion", "v1"},
                                              {"metadata", json::object()},
                                              {"status", "Failure"},
                                              {"code", 410},
                                              {"reason", "Expired"}})));
  EXPECT_EQ(cache_->stats().objects, 0U);
  EXPECT_EQ(cache_->stats().rejected_malformed, 0U);
}

TEST_F(HubCacheRecording, WatchListInitialEventsReplaceThePartAtTheEndBookmark) {
  list_pods("/api/v1/pods",
            json::array({pod("default", "a", "5"), pod("default", "stale", "6"),
                         pod("default", "other-node", "7", {}, "edge-2")}),
            "10");
  auto req = make_req("GET",
                      "/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch="
                      "NotOlderThan&allowWatchBookmarks=true&fieldSelector=spec.nodeName%3Dedge-1");
  net::Response head;
  head.headers.add("Content-Type", "application/json");
  auto recorder = cache_->record(req->ctx, head);
  ASSERT_NE(recorder, nullptr);
  recorder->on_data(event_line("ADDED", typed(pod("default", "a", "5"))));
  recorder->on_data(event_line("ADDED", typed(pod("default", "new", "25"))));
  // Before the marker nothing is removed: the initial set may still be arriving.
  cache_->settle();
  EXPECT_EQ(pod_keys(), keys({"default/a", "default/new", "default/other-node", "default/stale"}));
  recorder->on_data(
      event_line("BOOKMARK", json{{"kind", "Pod"},
                                  {"apiVersion", "v1"},
                                  {"metadata",
                                   {{"resourceVersion", "30"},
                                    {"annotations", {{"k8s.io/initial-events-end", "true"}}}}}}));
  cache_->settle();
  EXPECT_EQ(pod_keys(), keys({"default/a", "default/new", "default/other-node"}));
  recorder->finish(true);
}

TEST_F(HubCacheRecording, GetStoresTheObjectAndNotFoundRemovesIt) {
  auto get = make_req("GET", "/api/v1/namespaces/default/secrets/token-a");
  json secret{
      {"kind", "Secret"},
      {"apiVersion", "v1"},
      {"metadata", {{"name", "token-a"}, {"namespace", "default"}, {"resourceVersion", "3"}}},
      {"data", {{"k", "dg=="}}}};
  ASSERT_TRUE(record(*cache_, *get, secret.dump()));
  EXPECT_EQ(stored(store_, "kubelet/secrets.v1.core/default/token-a")["data"]["k"], "dg==");

  // A 404 from something in between (not the apiserver's Status) proves nothing.
  EXPECT_TRUE(record(*cache_, *get, "404 page not found", 404));
  EXPECT_NE(stored(store_, "kubelet/secrets.v1.core/default/token-a"), nullptr);
  const json not_found{{"kind", "Status"},
                       {"apiVersion", "v1"},
                       {"metadata", json::object()},
                       {"status", "Failure"},
                       {"reason", "NotFound"},
                       {"code", 404},
                       {"message", "secrets \"token-a\" not found"},
                       {"details", {{"name", "token-a"}, {"kind", "secrets"}}}};
  ASSERT_TRUE(record(*cache_, *get, not_found.dump(), 404));
  EXPECT_EQ(stored(store_, "kubelet/secrets.v1.core/default/token-a"), nullptr);

  // A GET answering another object's name is not recorded under the requested one.
  json other = secret;
  other["metadata"]["name"] = "token-b";
  ASSERT_TRUE(record(*cache_, *get, other.dump()));
  EXPECT_EQ(cache_->stats().objects, 0U);
}

// `/api/v1/namespaces/x` has namespace x in its RequestInfo, but Namespaces are cluster-scoped.
TEST_F(HubCacheRecording, NamespaceObjectsAreClusterScoped) {
  auto get = make_req("GET", "/api/v1/namespaces/kube-system", "coredns");
  json ns{{"kind", "Namespace"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", "kube-system"}, {"resourceVersion", "4"}}}};
  ASSERT_TRUE(record(*cache_, *get, ns.dump()));
  EXPECT_EQ(stored_rv(store_, "coredns/namespaces.v1.core/_/kube-system"), "4");
  auto list = make_req("GET", "/api/v1/namespaces", "coredns");
  ASSERT_TRUE(record(*cache_, *list, list_body("NamespaceList", "v1", "9", json::array({ns}))));
  EXPECT_EQ(store_.keys("coredns/namespaces.v1.core/"),
            (std::vector<std::string>{"coredns/namespaces.v1.core/_/kube-system"}));
  EXPECT_EQ(store_.keys("coredns/_lists/namespaces.v1.core/").size(), 1U);  // the part record
  const json not_found{{"kind", "Status"},    {"apiVersion", "v1"},   {"metadata", json::object()},
                       {"status", "Failure"}, {"reason", "NotFound"}, {"code", 404}};
  ASSERT_TRUE(record(*cache_, *get, not_found.dump(), 404));
  EXPECT_EQ(stored(store_, "coredns/namespaces.v1.core/_/kube-system"), nullptr);
}

TEST_F(HubCacheRecording, WriteResultsAreStored) {
  auto create = make_req("POST", "/api/v1/namespaces/default/pods");
  ASSERT_TRUE(record(*cache_, *create, typed(pod("default", "mirror", "7")).dump(), 201));
  auto patch = make_req("PATCH", "/api/v1/namespaces/default/pods/mirror/status");
  ASSERT_TRUE(record(*cache_, *patch, typed(pod("default", "mirror", "8", {{"s", "1"}})).dump()));
  EXPECT_EQ(stored_rv(store_, "kubelet/pods.v1.core/default/mirror"), "8");
  auto node_patch = make_req("PATCH", "/api/v1/nodes/edge-1/status");
  json node{{"kind", "Node"},
            {"apiVersion", "v1"},
            {"metadata", {{"name", "edge-1"}, {"resourceVersion", "9"}}}};
  ASSERT_TRUE(record(*cache_, *node_patch, node.dump()));
  EXPECT_EQ(stored_rv(store_, "kubelet/nodes.v1.core/_/edge-1"), "9");
}

TEST_F(HubCacheRecording, WhatIsNeverRecorded) {
  const std::vector<std::pair<std::string, std::string>> never{
      {"POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests"},
      {"GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests?watch=1"},
      {"POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews"},
      {"POST", "/apis/authentication.k8s.io/v1/tokenreviews"},
      {"POST", "/api/v1/namespaces/default/serviceaccounts/default/token"},
      {"POST", "/api/v1/namespaces/default/events"},
      {"PATCH", "/apis/events.k8s.io/v1/namespaces/default/events/e1"},
      {"GET", "/api/v1/namespaces/default/pods/p/log"},
      {"DELETE", "/api/v1/namespaces/default/pods/p"},
      {"GET", "/openapi/v2"},
  };
  for (const auto& [method, target] : never) {
    EXPECT_FALSE(cache_->should_record(make_req(method, target)->ctx)) << method << " " << target;
  }
  // Not a cache agent, and a Table request.
  EXPECT_FALSE(cache_->should_record(make_req("GET", "/api/v1/pods", "kubectl")->ctx));
  EXPECT_FALSE(cache_->should_record(
      make_req("GET", "/api/v1/pods", "kubelet",
               "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
          ->ctx));

  const std::vector<std::pair<std::string, std::string>> recorded{
      {"GET", "/api/v1/namespaces/default/secrets?fieldSelector=metadata.name%3Dx"},
      {"GET", "/api/v1/namespaces/default/configmaps/x"},
      {"GET", "/api/v1/pods?watch=1"},
      {"PATCH", "/api/v1/nodes/edge-1/status"},
      {"GET", "/version"},
      {"GET", "/apis"},
      {"GET", "/apis/apps/v1"},
  };
  for (const auto& [method, target] : recorded) {
    EXPECT_TRUE(cache_->should_record(make_req(method, target)->ctx)) << method << " " << target;
  }
  CacheSettings everyone;
  everyone.cache_agents = {"*"};
  reopen(everyone);
  EXPECT_TRUE(cache_->should_record(make_req("GET", "/api/v1/pods", "kubectl")->ctx));
}

TEST_F(HubCacheRecording, DiscoveryIsKeptPerRepresentation) {
  auto apis = make_req("GET", "/apis");
  ASSERT_TRUE(record(*cache_, *apis, R"({"kind":"APIGroupList","apiVersion":"v1","groups":[]})"));
  ASSERT_TRUE(record(*cache_, *apis,
                     R"({"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2"})",
                     200, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"));
  // The wrong kind for the path is refused.
  auto api = make_req("GET", "/api");
  ASSERT_TRUE(record(*cache_, *api, R"({"kind":"APIGroupList"})"));
  EXPECT_EQ(
      store_.keys("_discovery/"),
      (std::vector<std::string>{"_discovery/apis/_/APIGroupDiscoveryList.v2.apidiscovery.k8s.io",
                                "_discovery/apis/_/json"}));
}

// Two watches of one component and resource applying interleaved versions from two threads:
// the per-resource lock keeps the guard's read and write together, so the newest version wins.
TEST_F(HubCacheRecording, ConcurrentRecordersKeepTheNewestVersion) {
  auto req = make_req("GET", "/api/v1/pods?watch=1&resourceVersion=1");
  constexpr int kVersions = 300;
  auto run = [&](bool ascending) {
    net::Response head;
    head.headers.add("Content-Type", "application/json");
    auto recorder = cache_->record(req->ctx, head);
    for (int i = 0; i < kVersions; ++i) {
      const int v = ascending ? i + 1 : kVersions - i;
      recorder->on_data(event_line("MODIFIED", typed(pod("default", "a", std::to_string(v)))));
    }
    recorder->finish(true);
  };
  std::thread up(run, true);
  std::thread down(run, false);
  up.join();
  down.join();
  cache_->settle();
  EXPECT_EQ(stored_rv(store_, "kubelet/pods.v1.core/default/a"), std::to_string(kVersions));
}

}  // namespace
}  // namespace yurt::hub
