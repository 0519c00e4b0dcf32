// The object index beside the store (docs/yurthub-cache.md "Object index"): kept equal to the
// store across every write and a reopen, and deciding selectors exactly as the stored JSON does.
// Also the races the proxy's answer-before-commit order opens: a LIST committed after a watch
// has already applied later events.
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "yurt/storage/memory_store.hpp"

#include "src/apps/hub/cache/cache_core.hpp"
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
using test::stored_rv;
using test::typed;

constexpr std::string_view kPods = "kubelet/pods.v1.core/";

ResourceId pods_of(std::string component = "kubelet") {
  return {std::move(component), "", "v1", "pods"};
}

Part part(std::string ns, std::string_view labels, std::string_view fields) {
  auto l = kube::LabelSelector::parse(labels);
  auto f = kube::FieldSelector::parse(fields);
  EXPECT_TRUE(l && f) << labels << " / " << fields;
  return {std::move(ns), l ? *l : kube::LabelSelector{}, f ? *f : kube::FieldSelector{}};
}

CacheCore::Item item(const json& object, kube::ResourceRef ref = {"", "pods"}) {
  return {object.dump(), std::make_shared<const ObjectFacts>(ObjectFacts::of(object, ref))};
}

void expect_same_facts(const ObjectFacts& got, const ObjectFacts& want, const std::string& key) {
  EXPECT_EQ(got.parsed, want.parsed) << key;
  EXPECT_EQ(got.resource_version, want.resource_version) << key;
  EXPECT_EQ(got.namespace_name, want.namespace_name) << key;
  EXPECT_EQ(got.labels, want.labels) << key;
  EXPECT_EQ(got.fields, want.fields) << key;
}

class HubCacheIndex : public ::testing::Test {
 protected:
  HubCacheIndex() { core_.load(); }

  // Every object of every view is indexed with exactly the bytes the store holds, and its facts
  // are those of the stored JSON.
  void expect_index_matches_store() {
    std::map<std::string, storage::Value> objects;
    for (auto& o : store_.list("")) {
      if (o.key.find("/_lists/") == std::string::npos) {
        objects.emplace(o.key, o.value);
      }
    }
    const auto indexed = core_.indexed_values();
    ASSERT_EQ(indexed.size(), objects.size());
    for (const auto& [key, value] : objects) {
      auto it = indexed.find(key);
      ASSERT_NE(it, indexed.end()) << key;
      EXPECT_EQ(it->second, value) << key << ": the entry describes other bytes";
      auto parts = storage::parse_key(key);
      ASSERT_TRUE(parts);
      const kube::ResourceRef ref{parts->group, parts->resource};
      expect_same_facts(*core_.facts({key, value}, ref), ObjectFacts::parse(*value, ref), key);
    }
  }

  storage::MemoryStore store_;
  FakeClock clock_;
  CacheCore core_{store_, CacheSettings{}, clock_};
};

TEST_F(HubCacheIndex, FollowsTheStoreAcrossPutReplaceRemoveAndReopen) {
  const auto rid = pods_of();
  std::map<std::string, CacheCore::Item> items;
  items.emplace(std::string(kPods) + "default/a", item(typed(pod("default", "a", "5"))));
  items.emplace(std::string(kPods) + "default/b",
                item(typed(pod("default", "b", "6", {{"app", "web"}}))));
  items.emplace(std::string(kPods) + "kube-system/c",
                item(typed(pod("kube-system", "c", "7", {}, "edge-2"))));
  core_.commit_list(rid, {part("", "", ""), "10", "Pod", "v1"}, std::move(items), nullptr, false);
  expect_index_matches_store();

  // Upserts: a newer version replaces the entry, an older one changes nothing.
  EXPECT_EQ(core_.upsert(rid, typed(pod("default", "a", "12", {{"app", "web"}}))),
            CacheCore::Write::Written);
  EXPECT_EQ(core_.upsert(rid, typed(pod("default", "b", "3"))), CacheCore::Write::Kept);
  EXPECT_EQ(core_.upsert(rid, typed(pod("default", "new", "13"))), CacheCore::Write::Written);
  expect_index_matches_store();

  // A narrower LIST replaces its part only: b leaves (not newer than the list), a stays (newer),
  // d is new.
  std::map<std::string, CacheCore::Item> narrower;
  narrower.emplace(std::string(kPods) + "default/d",
                   item(typed(pod("default", "d", "11", {{"app", "web"}}))));
  core_.commit_list(rid, {part("default", "app=web", ""), "11", "Pod", "v1"}, std::move(narrower),
                    nullptr, false);
  EXPECT_EQ(store_.keys(kPods),
            (std::vector<std::string>{
                std::string(kPods) + "default/a", std::string(kPods) + "default/d",
                std::string(kPods) + "default/new", std::string(kPods) + "kube-system/c"}));
  expect_index_matches_store();

  EXPECT_EQ(core_.remove_unless_newer(rid, "default", "d", "20"), CacheCore::Write::Written);
  core_.remove(rid, "kube-system", "c");
  expect_index_matches_store();

  // Written behind the index's back (another process's files at open): the facts still come
  // from the bytes, and a reopen indexes them.
  ASSERT_TRUE(store_.put(std::string(kPods) + "default/side",
                         typed(pod("default", "side", "30", {{"app", "db"}})).dump()));
  const storage::Object side{std::string(kPods) + "default/side",
                             *store_.get(std::string(kPods) + "default/side")};
  EXPECT_TRUE(core_.selects(rid, part("", "app=db", ""), side));
  EXPECT_EQ(core_.indexed_values().count(side.key), 0U);

  CacheCore reopened(store_, CacheSettings{}, clock_);
  reopened.load();
  const auto indexed = reopened.indexed_values();
  EXPECT_EQ(indexed.size(), store_.keys(kPods).size());
  EXPECT_EQ(indexed.at(side.key), side.value);
  expect_same_facts(*reopened.facts(side, rid.ref()), ObjectFacts::parse(*side.value, rid.ref()),
                    side.key);
}

TEST_F(HubCacheIndex, JunkBytesAreIndexedAsUnparsedAndNeverSelected) {
  ASSERT_TRUE(store_.put(std::string(kPods) + "default/junk", "[1,2"));
  core_.load();
  const storage::Object junk{std::string(kPods) + "default/junk",
                             *store_.get(std::string(kPods) + "default/junk")};
  EXPECT_FALSE(core_.facts(junk, {"", "pods"})->parsed);
  EXPECT_FALSE(core_.selects(pods_of(), part("", "", "spec.nodeName!=x"), junk));
}

// The index decides every selector as the stored JSON does: label operators, each indexed field,
// Go zero values of absent fields, namespaces, and fields it does not hold (read from the bytes).
TEST_F(HubCacheIndex, SelectorsDecideAsTheStoredJson) {
  std::vector<json> objects{
      typed(pod("default", "a", "5", {{"app", "web"}, {"tier", "1"}})),
      typed(pod("default", "b", "6", {{"app", "db"}}, "edge-2")),
      typed(pod("kube-system", "c", "7")),
      json{{"kind", "Pod"},
           {"apiVersion", "v1"},
           {"metadata", {{"name", "bare"}, {"namespace", "default"}, {"resourceVersion", "8"}}}},
      json{{"kind", "Pod"},
           {"apiVersion", "v1"},
           {"metadata",
            {{"name", "full"},
             {"namespace", "apps"},
             {"resourceVersion", "9"},
             {"labels", {{"app", "web"}, {"n", "42"}}}}},
           {"spec",
            {{"nodeName", "edge-1"},
             {"hostNetwork", true},
             {"restartPolicy", "Never"},
             {"serviceAccountName", "sa"}}},
           {"status",
            {{"phase", "Running"},
             {"podIP", "10.0.0.9"},
             {"podIPs", json::array({{{"ip", "10.0.0.9"}}})}}}},
  };
  const std::vector<std::pair<std::string_view, std::string_view>> selectors{
      {"", ""},
      {"app=web", ""},
      {"app!=web", ""},
      {"app in (web,db)", ""},
      {"app notin (web)", ""},
      {"tier", ""},
      {"!tier", ""},
      {"n>40", ""},
      {"", "spec.nodeName=edge-1"},
      {"", "spec.nodeName!=edge-1"},
      {"", "spec.host=edge-2"},
      {"", "metadata.name=full"},
      {"", "metadata.namespace=default"},
      {"", "spec.hostNetwork=false"},
      {"", "spec.hostNetwork=true"},
      {"", "status.phase=Running"},
      {"", "status.podIP=10.0.0.9"},
      {"", "spec.restartPolicy!=Never,spec.serviceAccountName="},
      {"app=web", "spec.nodeName=edge-1,status.phase!=Pending"},
      {"", "spec.containers=x"},  // not a selectable field: evaluated from the bytes
  };
  const auto rid = pods_of();
  for (const auto& object : objects) {
    const std::string bytes = object.dump();
    const storage::Object stored{"kubelet/pods.v1.core/x/y", std::make_shared<std::string>(bytes)};
    const auto facts = ObjectFacts::parse(bytes, rid.ref());
    for (const std::string ns : {"", "default"}) {
      for (const auto& [labels, fields] : selectors) {
        const Part p = part(ns, labels, fields);
        const bool want = p.contains(object, rid.ref());
        EXPECT_EQ(core_.selects(rid, p, stored), want)
            << bytes << " ns=" << ns << " labels=" << labels << " fields=" << fields;
        if (auto decided = p.contains(facts, rid.ref())) {
          EXPECT_EQ(*decided, want) << bytes << " " << labels << " " << fields;
        } else {
          EXPECT_EQ(fields, "spec.containers=x") << "an indexed field was not decided";
        }
      }
    }
  }
  // A resource without a field table (a CRD) holds metadata only; other paths read the bytes.
  const ResourceId crd{"kubelet", "example.com", "v1", "widgets"};
  const json widget{{"kind", "Widget"},
                    {"apiVersion", "example.com/v1"},
                    {"metadata", {{"name", "w"}, {"namespace", "default"}}},
                    {"spec", {{"color", "red"}}}};
  const storage::Object w{"kubelet/widgets.v1.example.com/default/w",
                          std::make_shared<std::string>(widget.dump())};
  EXPECT_TRUE(core_.selects(crd, part("", "", "spec.color=red"), w));
  EXPECT_FALSE(core_.selects(crd, part("", "", "spec.color=blue"), w));
  EXPECT_TRUE(core_.selects(crd, part("", "", "metadata.name=w"), w));
}

// The proxy sends a LIST's last chunk before the cache commits it, so the client may already be
// watching from the list's RV — and the watch's events applied — when the commit happens.
class HubCacheLateCommit : public ::testing::Test {
 protected:
  HubCacheLateCommit() {
    auto made = make_cache_manager(store_, CacheSettings{}, clock_);
    EXPECT_TRUE(made);
    cache_ = std::move(*made);
  }

  std::unique_ptr<ResponseRecorder> start(const test::Req& req, std::string_view body) {
    net::Response head;
    head.status = 200;
    head.headers.add("Content-Type", "application/json");
    auto recorder = cache_->record(req.ctx, head);
    EXPECT_TRUE(recorder);
    if (recorder) {
      recorder->on_data(body);
    }
    return recorder;
  }

  storage::MemoryStore store_;
  FakeClock clock_;
  std::unique_ptr<CacheManager> cache_;
};

TEST_F(HubCacheLateCommit, AWatchDeleteBeforeTheCommitIsNotUndone) {
  auto first = make_req("GET", "/api/v1/pods");
  ASSERT_TRUE(record(*cache_, *first,
                     list_body("PodList", "v1", "10", json::array({pod("default", "old", "5")}))));
  // LIST at 20 holds old (still there) and new (created at 15); the client has it all.
  auto list = make_req("GET", "/api/v1/pods");
  auto recorder = start(
      *list, list_body("PodList", "v1", "20",
                       json::array({pod("default", "old", "5"), pod("default", "new", "15")})));
  // ... and watches from 20 before the commit: both are deleted.
  auto watch = make_req("GET", "/api/v1/pods?watch=true&resourceVersion=20");
  ASSERT_TRUE(record(*cache_, *watch,
                     event_line("DELETED", typed(pod("default", "old", "21"))) +
                         event_line("DELETED", typed(pod("default", "new", "22")))));
  recorder->finish(true);
  cache_->settle();
  EXPECT_TRUE(store_.keys(kPods).empty()) << "the late commit resurrected a deleted pod";
  EXPECT_EQ(cache_->stats().stale_ignored, 2U);
}

TEST_F(HubCacheLateCommit, AWatchStartedBeforeTheCommitStillMovesThePart) {
  auto list = make_req("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1");
  auto recorder =
      start(*list, list_body("PodList", "v1", "20", json::array({pod("default", "a", "5")})));
  auto watch_req =
      make_req("GET",
               "/api/v1/pods?watch=true&resourceVersion=20&fieldSelector=spec.nodeName%3D"
               "edge-1&allowWatchBookmarks=true");
  net::Response head;
  head.status = 200;
  head.headers.add("Content-Type", "application/json");
  auto watch = cache_->record(watch_req->ctx, head);
  ASSERT_TRUE(watch);
  // The watch exists before the part does; once committed, its events move the part.
  recorder->finish(true);
  watch->on_data(event_line("MODIFIED", typed(pod("default", "a", "25"))));
  watch->finish(true);
  cache_->settle();
  EXPECT_EQ(stored_rv(store_, "kubelet/pods.v1.core/default/a"), "25");
  auto core_view = store_.list("kubelet/_lists/");
  ASSERT_EQ(core_view.size(), 1U);
  EXPECT_EQ(json::parse(*core_view[0].value)["resourceVersion"], "25");
}

}  // namespace
}  // namespace yurt::hub
