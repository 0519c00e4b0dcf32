#include "yurt/kube/watch.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "yurt/kube/errors.hpp"
#include "yurt/kube/rest_client.hpp"

namespace yurt::kube {
namespace {

using json = nlohmann::json;

std::string event_line(std::string_view type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

json config_map(const std::string& name, const std::string& rv, std::size_t payload = 0) {
  return {{"kind", "ConfigMap"},
          {"apiVersion", "v1"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"resourceVersion", rv}}},
          {"data", {{"blob", std::string(payload, 'x')}}}};
}

// Feeds `stream` cut at the given piece size and collects everything next() returns.
struct Decoded {
  std::vector<WatchEvent> events;
  std::optional<Error> error;
};

Decoded decode_in_pieces(const std::string& stream, std::size_t piece) {
  WatchDecoder decoder;
  Decoded out;
  auto drain = [&] {
    for (;;) {
      auto e = decoder.next();
      if (!e) {
        out.error = e.error();
        return false;
      }
      if (!*e) {
        return true;
      }
      out.events.push_back(std::move(**e));
    }
  };
  for (std::size_t pos = 0; pos < stream.size(); pos += piece) {
    decoder.feed(std::string_view(stream).substr(pos, piece));
    if (!drain()) {
      return out;
    }
  }
  if (auto fin = decoder.finish(); !fin) {
    out.error = fin.error();
    return out;
  }
  drain();
  return out;
}

const std::string& sample_stream() {
  static const std::string s = [] {
    std::string out;
    out += event_line("ADDED", config_map("a", "10"));
    out += event_line("MODIFIED", config_map("a", "11"));
    out += "\n";  // blank lines between events are tolerated
    out += event_line(
        "BOOKMARK",
        {{"kind", "ConfigMap"}, {"apiVersion", "v1"}, {"metadata", {{"resourceVersion", "15"}}}});
    out += event_line("DELETED", config_map("a", "16"));
    return out;
  }();
  return s;
}

TEST(WatchDecoder, EveryChunkBoundaryYieldsTheSameEvents) {
  const auto& stream = sample_stream();
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    auto d = decode_in_pieces(stream, piece);
    ASSERT_FALSE(d.error) << "piece " << piece << ": " << d.error->what();
    ASSERT_EQ(d.events.size(), 4U) << "piece " << piece;
    EXPECT_EQ(d.events[0].type, EventType::Added);
    EXPECT_EQ(d.events[1].type, EventType::Modified);
    EXPECT_EQ(d.events[1].object["metadata"]["resourceVersion"], "11");
    EXPECT_EQ(d.events[2].type, EventType::Bookmark);
    EXPECT_EQ(d.events[2].object["metadata"]["resourceVersion"], "15");
    EXPECT_EQ(d.events[3].type, EventType::Deleted);
  }
}

TEST(WatchDecoder, EverySplitPointOfTwoEventsInTwoPieces) {
  const auto& stream = sample_stream();
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    WatchDecoder decoder;
    std::size_t n = 0;
    for (auto part :
         {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)}) {
      decoder.feed(part);
      for (;;) {
        auto e = decoder.next();
        ASSERT_TRUE(e) << "cut " << cut << ": " << e.error().what();
        if (!*e) {
          break;
        }
        ++n;
      }
    }
    EXPECT_EQ(n, 4U) << "cut " << cut;
  }
}

TEST(WatchDecoder, HugeObjectAcrossManyPieces) {
  // A 5 MiB object delivered in 64 KiB pieces, with a small event on each side.
  std::string stream = event_line("ADDED", config_map("small-1", "1"));
  stream += event_line("ADDED", config_map("huge", "2", 5U << 20));
  stream += event_line("ADDED", config_map("small-2", "3"));
  auto d = decode_in_pieces(stream, 64 * 1024);
  ASSERT_FALSE(d.error) << d.error->what();
  ASSERT_EQ(d.events.size(), 3U);
  EXPECT_EQ(d.events[1].object["data"]["blob"].get_ref<const std::string&>().size(), 5U << 20);
  EXPECT_EQ(d.events[2].object["metadata"]["name"], "small-2");
}

TEST(WatchDecoder, BuffersOnlyThePendingEvent) {
  WatchDecoder decoder;
  for (int i = 0; i < 1000; ++i) {
    decoder.feed(event_line("ADDED", config_map("o" + std::to_string(i), std::to_string(i))));
    auto e = decoder.next();
    ASSERT_TRUE(e && *e);
  }
  decoder.feed("{\"type\":");
  auto e = decoder.next();
  ASSERT_TRUE(e);
  EXPECT_FALSE(*e);
  EXPECT_EQ(decoder.buffered(), 8U);
  EXPECT_EQ(decoder.events(), 1000U);
}

TEST(WatchDecoder, ErrorEventWith410IsGone) {
  WatchDecoder decoder;
  decoder.feed(event_line("ADDED", config_map("a", "10")));
  decoder.feed(watch_error_event(expired("too old resource version: 10 (20)")));
  auto first = decoder.next();
  ASSERT_TRUE(first && *first);
  auto second = decoder.next();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), make_error_code(Errc::Gone));
  EXPECT_NE(second.error().message().find("too old resource version: 10 (20)"), std::string::npos);
}

TEST(WatchDecoder, ErrorEventWithReasonGoneAndOtherStatuses) {
  Status gone;
  gone.reason = "Gone";
  gone.code = 410;
  gone.message = "gone";
  auto e = parse_watch_event(watch_error_event(gone));
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), make_error_code(Errc::Gone));

  auto internal = parse_watch_event(watch_error_event(internal_error("etcd is sad")));
  ASSERT_FALSE(internal);
  EXPECT_EQ(internal.error(), make_error_code(Errc::Internal));
}

TEST(WatchDecoder, ErrorEventWithoutStatusIsMalformed) {
  auto e = parse_watch_event(R"({"type":"ERROR","object":{"kind":"Pod"}})");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), make_error_code(Errc::Malformed));
}

TEST(WatchDecoder, MalformedLinesAreErrorsNamingTheEvent) {
  for (const char* line : {"not json\n", "[1,2]\n",
                           R"({"object":{}})"
                           "\n",
                           R"({"type":"ADDED"})"
                           "\n",
                           R"({"type":"ADDED","object":"x"})"
                           "\n",
                           R"({"type":7,"object":{}})"
                           "\n",
                           R"({"type":"SURPRISE","object":{}})"
                           "\n"}) {
    WatchDecoder decoder;
    decoder.feed(event_line("ADDED", config_map("a", "1")));
    decoder.feed(line);
    ASSERT_TRUE(decoder.next());
    auto e = decoder.next();
    ASSERT_FALSE(e) << line;
    EXPECT_EQ(e.error(), make_error_code(Errc::Malformed)) << line;
    EXPECT_NE(e.error().message().find("watch event 2"), std::string::npos) << e.error().message();
  }
}

TEST(WatchDecoder, EventLargerThanTheLimitIsRefused) {
  WatchDecoder decoder(1024);
  decoder.feed(std::string(600, ' '));
  auto first = decoder.next();
  ASSERT_TRUE(first);
  decoder.feed(std::string(600, 'x'));  // still no newline, now beyond the limit
  auto e = decoder.next();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), make_error_code(Errc::RequestEntityTooLarge));
}

TEST(WatchDecoder, FinishAcceptsACompleteLastEventWithoutNewline) {
  WatchDecoder decoder;
  auto line = event_line("ADDED", config_map("a", "1"));
  line.pop_back();
  decoder.feed(line);
  auto pending = decoder.next();
  ASSERT_TRUE(pending);
  EXPECT_FALSE(*pending);
  ASSERT_TRUE(decoder.finish());
  auto last = decoder.next();
  ASSERT_TRUE(last && *last);
  EXPECT_EQ((*last)->object["metadata"]["name"], "a");
  auto end = decoder.next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
}

TEST(WatchDecoder, FinishInsideAnEventIsMalformed) {
  WatchDecoder decoder;
  decoder.feed(R"({"type":"ADDED","object":{"metadata")");
  ASSERT_TRUE(decoder.next());
  auto fin = decoder.finish();
  ASSERT_FALSE(fin);
  EXPECT_EQ(fin.error(), make_error_code(Errc::Malformed));
  WatchDecoder blank;
  blank.feed("\n  \r\n");
  ASSERT_TRUE(blank.next());
  EXPECT_TRUE(blank.finish());
}

// ---- Status → Error (the body of non-2xx answers) ----

TEST(StatusToError, ResponsesMapToCodesByReasonThenCode) {
  struct Case {
    int http;
    std::string body;
    Errc want;
  };
  const std::vector<Case> cases = {
      {404, status_body(not_found({"", "configmaps"}, "x")), Errc::NotFound},
      {409, status_body(already_exists({"", "configmaps"}, "x")), Errc::AlreadyExists},
      {409, status_body(conflict({"coordination.k8s.io", "leases"}, "l", "stale")), Errc::Conflict},
      {410, status_body(expired("too old resource version: 1 (5)")), Errc::Gone},
      {403, status_body(forbidden({"", "pods"}, "", "no")), Errc::Forbidden},
      {429, status_body(too_many_requests("slow down", 3)), Errc::TooManyRequests},
      {500, "<html>oops</html>", Errc::Internal},
      {503, "", Errc::ServiceUnavailable},
      {410, "", Errc::Gone},
  };
  for (const auto& c : cases) {
    auto e = error_from_response(c.http, c.body);
    EXPECT_EQ(e, make_error_code(c.want)) << c.http << " " << c.body;
  }
  auto nf = error_from_response(404, status_body(not_found({"", "configmaps"}, "x")));
  EXPECT_EQ(nf.message(), "configmaps \"x\" not found");
}

// ---- request building ----

TEST(RestRequests, PathsForCoreGroupsNamespacesAndSubresources) {
  EXPECT_EQ(resources::config_maps().path("ns", "a"), "/api/v1/namespaces/ns/configmaps/a");
  EXPECT_EQ(resources::config_maps().path(), "/api/v1/configmaps");
  EXPECT_EQ(resources::leases().path("kube-system", "ctrl"),
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/ctrl");
  EXPECT_EQ(resources::nodes().path("", "n1", "status"), "/api/v1/nodes/n1/status");
  EXPECT_EQ(resources::pods().path("ns", "a b/c"), "/api/v1/namespaces/ns/pods/a%20b%2Fc");
  EXPECT_EQ(resources::leases().group_resource(), "leases.coordination.k8s.io");
}

TEST(RestRequests, QueriesAreSortedAndEscapedAsClientGo) {
  ListOptions list;
  list.label_selector = *LabelSelector::parse("tier!=db,app=x");
  list.field_selector = *FieldSelector::parse("spec.nodeName=edge-1");
  list.limit = 500;
  list.resource_version = "0";
  EXPECT_EQ(list_query(list),
            "fieldSelector=spec.nodeName%3Dedge-1&labelSelector=app%3Dx%2Ctier%21%3Ddb&limit=500&"
            "resourceVersion=0");
  ListOptions page;
  page.continue_token = "abc+/=";
  page.limit = 2;
  EXPECT_EQ(list_query(page), "continue=abc%2B%2F%3D&limit=2");
  EXPECT_EQ(list_query({}), "");

  ListOptions watch;
  watch.watch = true;
  watch.allow_watch_bookmarks = true;
  watch.resource_version = "48211";
  watch.timeout_seconds = 412;
  watch.field_selector = *FieldSelector::parse("metadata.name=edge-1");
  EXPECT_EQ(list_query(watch),
            "allowWatchBookmarks=true&fieldSelector=metadata.name%3Dedge-1&resourceVersion=48211&"
            "timeoutSeconds=412&watch=true");
  EXPECT_EQ(query_escape("a b"), "a+b");

  // What we write, the apiserver side of this module reads back.
  auto info = parse_request_info("GET", "/api/v1/pods?" + list_query(watch));
  ASSERT_TRUE(info) << info.error().what();
  EXPECT_EQ(info->verb, "watch");
  EXPECT_EQ(info->list_options.resource_version, "48211");
  EXPECT_EQ(info->list_options.field_selector, watch.field_selector);
}

TEST(RestRequests, ParseObjectList) {
  auto list = parse_object_list(
      R"({"kind":"ConfigMapList","metadata":{"resourceVersion":"77","continue":"c1",)"
      R"("remainingItemCount":3},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]})");
  ASSERT_TRUE(list) << list.error().what();
  EXPECT_EQ(list->resource_version, "77");
  EXPECT_EQ(list->continue_token, "c1");
  EXPECT_EQ(list->remaining_item_count, 3);
  EXPECT_EQ(list->items.size(), 2U);

  auto empty = parse_object_list(R"({"metadata":{"resourceVersion":"5"},"items":null})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->items.empty());

  for (const char* bad : {"nope", R"({"metadata":{}})", R"({"items":{}})", R"({"items":[1]})",
                          R"({"metadata":{"resourceVersion":5},"items":[]})"}) {
    auto r = parse_object_list(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), make_error_code(Errc::Malformed)) << bad;
  }
}

}  // namespace
}  // namespace yurt::kube
