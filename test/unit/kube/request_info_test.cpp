#include "yurt/kube/request_info.hpp"

#include <gtest/gtest.h>

namespace yurt::kube {
namespace {

struct Case {
  const char* method;
  const char* target;
  const char* verb;
  const char* prefix;
  const char* group;
  const char* version;
  const char* ns;
  const char* resource;
  const char* subresource;
  const char* name;
  std::vector<std::string> parts;
};

// The apiserver's own table (requestinfo_test.go TestGetAPIRequestInfo), restated, plus the
// shapes our components send (kubelet, kube-proxy, kubectl logs/exec, node proxy).
// clang-format off
const Case kResourceCases[] = {
  // method, target, verb, prefix, group, version, namespace, resource, subresource, name, parts
  {"GET", "/api/v1/namespaces", "list", "api", "", "v1", "", "namespaces", "", "", {"namespaces"}},
  {"GET", "/api/v1/namespaces/other", "get", "api", "", "v1", "other", "namespaces", "", "other", {"namespaces", "other"}},
  {"GET", "/api/v1/namespaces/other/pods", "list", "api", "", "v1", "other", "pods", "", "", {"pods"}},
  {"GET", "/api/v1/namespaces/other/pods/foo", "get", "api", "", "v1", "other", "pods", "", "foo", {"pods", "foo"}},
  {"HEAD", "/api/v1/namespaces/other/pods/foo", "get", "api", "", "v1", "other", "pods", "", "foo", {"pods", "foo"}},
  {"GET", "/api/v1/pods", "list", "api", "", "v1", "", "pods", "", "", {"pods"}},
  {"HEAD", "/api/v1/pods", "list", "api", "", "v1", "", "pods", "", "", {"pods"}},
  {"PATCH", "/api/v1/namespaces/new-namespace", "patch", "api", "", "v1", "new-namespace", "namespaces", "", "new-namespace", {"namespaces", "new-namespace"}},
  // special verbs
  {"GET", "/api/v1/proxy/namespaces/other/pods/foo", "proxy", "api", "", "v1", "other", "pods", "", "foo", {"pods", "foo"}},
  {"GET", "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource", "proxy", "api", "", "v1", "other", "pods", "", "foo", {"pods", "foo", "subpath", "not", "a", "subresource"}},
  {"GET", "/api/v1/watch/pods", "watch", "api", "", "v1", "", "pods", "", "", {"pods"}},
  {"GET", "/api/v1/pods?watch=true", "watch", "api", "", "v1", "", "pods", "", "", {"pods"}},
  {"GET", "/api/v1/pods?watch=false", "list", "api", "", "v1", "", "pods", "", "", {"pods"}},
  {"GET", "/api/v1/pods?watch=FALSE", "list", "api", "", "v1", "", "pods", "", "", {"pods"}},
  {"GET", "/api/v1/pods?watch=", "watch", "api", "", "v1", "", "pods", "", "", {"pods"}},
  {"GET", "/api/v1/watch/namespaces/other/pods", "watch", "api", "", "v1", "other", "pods", "", "", {"pods"}},
  {"GET", "/api/v1/namespaces/other/pods?watch=1", "watch", "api", "", "v1", "other", "pods", "", "", {"pods"}},
  {"GET", "/api/v1/namespaces/other/pods?watch=0", "list", "api", "", "v1", "other", "pods", "", "", {"pods"}},
  // subresources
  {"GET", "/api/v1/namespaces/other/pods/foo/status", "get", "api", "", "v1", "other", "pods", "status", "foo", {"pods", "foo", "status"}},
  {"GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", "get", "api", "", "v1", "other", "pods", "proxy", "foo", {"pods", "foo", "proxy", "subpath"}},
  {"PUT", "/api/v1/namespaces/other/finalize", "update", "api", "", "v1", "other", "namespaces", "finalize", "other", {"namespaces", "other", "finalize"}},
  {"PUT", "/api/v1/namespaces/other/status", "update", "api", "", "v1", "other", "namespaces", "status", "other", {"namespaces", "other", "status"}},
  {"GET", "/api/v1/namespaces/kube-system/pods/p/log?follow=true&container=c", "get", "api", "", "v1", "kube-system", "pods", "log", "p", {"pods", "p", "log"}},
  {"POST", "/api/v1/namespaces/ns/pods/p/exec?command=sh&stdin=true", "create", "api", "", "v1", "ns", "pods", "exec", "p", {"pods", "p", "exec"}},
  {"GET", "/api/v1/nodes/edge-1/proxy/metrics/cadvisor", "get", "api", "", "v1", "", "nodes", "proxy", "edge-1", {"nodes", "edge-1", "proxy", "metrics", "cadvisor"}},
  {"PATCH", "/api/v1/nodes/edge-1/status", "patch", "api", "", "v1", "", "nodes", "status", "edge-1", {"nodes", "edge-1", "status"}},
  // verbs
  {"PATCH", "/api/v1/namespaces/other/pods/foo", "patch", "api", "", "v1", "other", "pods", "", "foo", {"pods", "foo"}},
  {"DELETE", "/api/v1/namespaces/other/pods/foo", "delete", "api", "", "v1", "other", "pods", "", "foo", {"pods", "foo"}},
  {"POST", "/api/v1/namespaces/other/pods", "create", "api", "", "v1", "other", "pods", "", "", {"pods"}},
  {"OPTIONS", "/api/v1/namespaces/other/pods", "", "api", "", "v1", "other", "pods", "", "", {"pods"}},
  // deletecollection
  {"DELETE", "/api/v1/nodes", "deletecollection", "api", "", "v1", "", "nodes", "", "", {"nodes"}},
  {"DELETE", "/api/v1/namespaces", "deletecollection", "api", "", "v1", "", "namespaces", "", "", {"namespaces"}},
  {"DELETE", "/api/v1/namespaces/other/pods", "deletecollection", "api", "", "v1", "other", "pods", "", "", {"pods"}},
  {"DELETE", "/apis/extensions/v1/namespaces/other/pods", "deletecollection", "apis", "extensions", "v1", "other", "pods", "", "", {"pods"}},
  // groups and versions
  {"POST", "/apis/extensions/v1/namespaces/other/pods", "create", "apis", "extensions", "v1", "other", "pods", "", "", {"pods"}},
  {"POST", "/apis/extensions/v1beta3/namespaces/other/pods", "create", "apis", "extensions", "v1beta3", "other", "pods", "", "", {"pods"}},
  {"PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/edge-1", "update", "apis", "coordination.k8s.io", "v1", "kube-node-lease", "leases", "", "edge-1", {"leases", "edge-1"}},
  {"GET", "/apis/batch/v1/job/foo/scale", "get", "apis", "batch", "v1", "", "job", "scale", "foo", {"job", "foo", "scale"}},
  // trailing slash and percent-escapes are decoded before splitting, as Go does
  {"GET", "/api/v1/namespaces/other/pods/", "list", "api", "", "v1", "other", "pods", "", "", {"pods"}},
  {"GET", "/api/v1/namespaces/ot%68er/pods/f%20o", "get", "api", "", "v1", "other", "pods", "", "f o", {"pods", "f o"}},
  // absolute-form targets
  {"GET", "https://10.0.0.1:6443/api/v1/nodes/n1", "get", "api", "", "v1", "", "nodes", "", "n1", {"nodes", "n1"}},
};
// clang-format on

TEST(RequestInfo, ResourceRequestsAsTheApiserverParsesThem) {
  for (const auto& c : kResourceCases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    auto r = parse_request_info(c.method, c.target);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_TRUE(r->is_resource_request);
    EXPECT_EQ(r->verb, c.verb);
    EXPECT_EQ(r->api_prefix, c.prefix);
    EXPECT_EQ(r->api_group, c.group);
    EXPECT_EQ(r->api_version, c.version);
    EXPECT_EQ(r->namespace_name, c.ns);
    EXPECT_EQ(r->resource, c.resource);
    EXPECT_EQ(r->subresource, c.subresource);
    EXPECT_EQ(r->name, c.name);
    EXPECT_EQ(r->parts, c.parts);
  }
}

TEST(RequestInfo, NonResourceRequests) {
  const char* kTargets[] = {
      "/",
      "/api",
      "/api/v1",
      "/apis",
      "/apis/apps",
      "/apis/apps/v1",
      "/apis/extensions/v1beta1/",
      "/version",
      "/healthz",
      "/readyz?verbose",
      "/openapi/v2",
      "/openapi/v3/apis/apps/v1",
      "/not-api/version/resource",
      "/api/version",
      "/apis/version/resource",  // "missing api group": 3 parts under /apis
      "/metrics",
  };
  for (const char* t : kTargets) {
    SCOPED_TRACE(t);
    auto r = parse_request_info("GET", t);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_FALSE(r->is_resource_request);
    EXPECT_EQ(r->verb, "get");
    EXPECT_TRUE(r->resource.empty());
  }
  auto post = parse_request_info("POST", "/apis/authorization.k8s.io");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->verb, "post");
}

TEST(RequestInfo, ResourceRequestsUpstreamCountsAsResources) {
  // TestGetNonAPIRequestInfo's true cases.
  for (const char* t : {"/api/version/resource", "/apis/group/version/resource/name/subresource",
                        "/api/version/resource/name/subresource", "/apis/batch/v1/job",
                        "/apis/batch/v1/job/foo", "/apis/batch/v1/job/foo/scale"}) {
    SCOPED_TRACE(t);
    auto r = parse_request_info("GET", t);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->is_resource_request);
  }
}

struct SelectorCase {
  const char* method;
  const char* target;
  const char* verb;
  const char* name;
  const char* field_selector;  // canonical form
  const char* label_selector;
};

// requestinfo_test.go TestSelectorParsing, restated (malformed selectors are errors here).
const SelectorCase kSelectorCases[] = {
    {"GET", "/apis/group/version/resource", "list", "", "", ""},
    {"GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1", "list", "name1",
     "metadata.name=name1", ""},
    {"GET", "/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1", "watch",
     "name1", "metadata.name=name1", ""},
    {"GET", "/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux", "list", "",
     "foo=bar", "baz=qux"},
    {"DELETE", "/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux",
     "deletecollection", "", "foo=bar", "baz=qux"},
    {"GET",
     "/apis/group/version/resource?fieldSelector=metadata.name=foo&fieldSelector=metadata.name="
     "bar&labelSelector=foo=bar&labelSelector=foo=baz",
     "list", "foo", "metadata.name=foo", "foo=bar"},
    {"GET", "/apis/group/version/resource/name?fieldSelector=foo=bar&labelSelector=foo=bar", "get",
     "name", "", ""},
    {"GET", "/apis/group/version/watch/resource/name?fieldSelector=metadata.name=foo", "watch",
     "name", "metadata.name=foo", ""},
    // encoded the way client-go encodes it
    {"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-1&limit=500&resourceVersion=0", "list",
     "", "spec.nodeName=edge-1", ""},
    {"GET",
     "/api/v1/services?labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes."
     "io%2Fservice-proxy-name",
     "list", "", "", "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"},
    // a name that is not a valid path segment is not taken from the selector
    {"GET", "/api/v1/configmaps?fieldSelector=metadata.name%3D..", "list", "", "metadata.name=..",
     ""},
    {"GET", "/api/v1/configmaps?fieldSelector=metadata.name%21%3Dx", "list", "", "metadata.name!=x",
     ""},
};

TEST(RequestInfo, SelectorsAndNameFromFieldSelector) {
  for (const auto& c : kSelectorCases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    auto r = parse_request_info(c.method, c.target);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->verb, c.verb);
    EXPECT_EQ(r->name, c.name);
    EXPECT_EQ(r->list_options.field_selector.to_string(), c.field_selector);
    EXPECT_EQ(r->list_options.label_selector.to_string(), c.label_selector);
  }
}

TEST(RequestInfo, ListOptionsDecoded) {
  auto r = parse_request_info(
      "GET",
      "/api/v1/pods?allowWatchBookmarks=true&fieldSelector=spec.nodeName%3Dedge-1&"
      "resourceVersion=&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&"
      "timeoutSeconds=377&watch=true&limit=%2B500&continue=abc%2Bdef+g");
  ASSERT_TRUE(r) << r.error().what();
  const auto& o = r->list_options;
  EXPECT_EQ(r->verb, "watch");
  EXPECT_TRUE(o.watch);
  EXPECT_TRUE(o.allow_watch_bookmarks);
  EXPECT_EQ(o.send_initial_events, std::optional<bool>(true));
  EXPECT_EQ(o.timeout_seconds, std::optional<std::int64_t>(377));
  EXPECT_EQ(o.limit, 500);
  EXPECT_EQ(o.resource_version, "");
  EXPECT_EQ(o.resource_version_match, "NotOlderThan");
  EXPECT_EQ(o.continue_token, "abc+def g");
  EXPECT_EQ(r->query_value("resourceVersion"), std::optional<std::string_view>(""));
  EXPECT_EQ(r->query_value("absent"), std::nullopt);

  auto plain = parse_request_info("GET", "/api/v1/pods?resourceVersion=0&sendInitialEvents=0");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->list_options.resource_version, "0");
  EXPECT_FALSE(plain->list_options.watch);
  EXPECT_EQ(plain->list_options.send_initial_events, std::optional<bool>(false));
  EXPECT_EQ(plain->list_options.timeout_seconds, std::nullopt);
  EXPECT_EQ(plain->list_options.limit, 0);

  auto legacy = parse_request_info("GET", "/api/v1/watch/namespaces/ns/pods?resourceVersion=7");
  ASSERT_TRUE(legacy);
  EXPECT_TRUE(legacy->list_options.watch);
  EXPECT_EQ(legacy->list_options.resource_version, "7");
}

TEST(RequestInfo, QueryKeptForEveryVerb) {
  auto r = parse_request_info("GET",
                              "/api/v1/namespaces/ns/pods/p/log?follow=true&tailLines=10&"
                              "sinceTime=2026-01-01T00%3A00%3A00Z&&x");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->query.size(), 4U);
  EXPECT_EQ(r->query[2],
            (std::pair<std::string, std::string>{"sinceTime", "2026-01-01T00:00:00Z"}));
  EXPECT_EQ(r->query[3], (std::pair<std::string, std::string>{"x", ""}));
  // Not a list: typed ListOptions values are not decoded, so junk there is not an error.
  auto get = parse_request_info("GET", "/api/v1/namespaces/ns/pods/p?timeoutSeconds=abc");
  ASSERT_TRUE(get);
}

TEST(RequestInfo, Subpath) {
  struct {
    const char* target;
    const char* subpath;
  } cases[] = {
      {"/api/v1/nodes/edge-1/proxy/metrics/cadvisor", "metrics/cadvisor"},
      {"/api/v1/nodes/edge-1/proxy/metrics/", "metrics/"},
      {"/api/v1/nodes/edge-1/proxy", ""},
      {"/api/v1/namespaces/ns/services/https:svc:443/proxy/a/b?x=1", "a/b"},
      {"/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource",
       "subpath/not/a/subresource"},
      {"/api/v1/namespaces/ns/pods/p", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target);
    auto r = parse_request_info("GET", c.target);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->subpath, c.subpath);
  }
}

TEST(RequestInfo, LongRunning) {
  struct {
    const char* method;
    const char* target;
    bool long_running;
  } cases[] = {
      {"GET", "/api/v1/pods?watch=1", true},
      {"GET", "/api/v1/watch/pods", true},
      {"GET", "/api/v1/pods", false},
      {"GET", "/api/v1/namespaces/ns/pods/p/log", true},
      {"POST", "/api/v1/namespaces/ns/pods/p/exec", true},
      {"POST", "/api/v1/namespaces/ns/pods/p/attach", true},
      {"POST", "/api/v1/namespaces/ns/pods/p/portforward", true},
      {"GET", "/api/v1/nodes/n/proxy/stats", true},
      {"GET", "/api/v1/proxy/nodes/n", true},
      {"PATCH", "/api/v1/nodes/n/status", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target);
    auto r = parse_request_info(c.method, c.target);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->is_long_running(), c.long_running);
  }
}

TEST(RequestInfo, MalformedInputIsAPreciseError) {
  struct {
    const char* method;
    std::string target;
    const char* message_part;
  } cases[] = {
      {"GET", "", "empty request target"},
      {"GET", "api/v1/pods", "not an absolute path"},
      {"GET", "*", "not an absolute path"},
      {"GET", "/api/v1/pods with space", "control character or space"},
      {"GET", std::string("/api/v1/po\x01ds"), "control character or space"},
      {"GET", "/api/v1/namespaces/%zz/pods", "invalid URL escape \"%zz\""},
      {"GET", "/api/v1/pods/%4", "invalid URL escape \"%4\""},
      {"GET", "/api/v1/pods/%", "invalid URL escape \"%\""},
      {"GET", "/api/v1/pods/a%00b", "control character"},
      {"GET", "/api/v1/pods?labelSelector=%G1", "invalid URL escape"},
      {"GET", "/api/v1/pods?a%=1", "invalid URL escape"},
      {"GET", "/api/v1/pods?watch=1;x=2", "semicolon"},
      {"GET", "/api/v1//pods", "empty, '.' or '..' segment"},
      {"GET", "/api/v1/namespaces/../pods", "empty, '.' or '..' segment"},
      {"GET", "/api/v1/namespaces/%2E%2E/secrets", "empty, '.' or '..' segment"},
      {"GET", "/api/v1/watch", "unable to determine kind and namespace"},
      {"GET", "/apis/apps/v1/proxy/", "unable to determine kind and namespace"},
      {"GET", "/api/v1/pods?timeoutSeconds=abc", "timeoutSeconds=\"abc\" is not an integer"},
      {"GET", "/api/v1/pods?timeoutSeconds=", "is not an integer"},
      {"GET", "/api/v1/pods?limit=99999999999999999999", "limit="},
      {"GET", "/api/v1/pods?watch=1&timeoutSeconds=1.5", "is not an integer"},
      {"GET", "/api/v1/pods?limit=%2B-5", "is not an integer"},
      {"GET", "/api/v1/pods?labelSelector=a%20in%20(", "labelSelector"},
      {"GET", "/api/v1/pods?fieldSelector=metadata.name%3Dname1,foo", "can't understand 'foo'"},
      {"DELETE", "/api/v1/namespaces/ns/pods?fieldSelector=a%3D%5Cx", "invalid escape sequence"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.target);
    auto r = parse_request_info(c.method, c.target);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(Errc::BadRequest));
    EXPECT_NE(r.error().message().find(c.message_part), std::string::npos) << r.error().message();
  }
}

TEST(RequestInfo, PercentDecode) {
  EXPECT_EQ(percent_decode("a%2Fb+c", false).value(), "a/b+c");
  EXPECT_EQ(percent_decode("a%2fb+c", true).value(), "a/b c");
  EXPECT_EQ(percent_decode("", true).value(), "");
  EXPECT_FALSE(percent_decode("%x1", true));
  EXPECT_FALSE(percent_decode("ab%", true));
}

TEST(RequestInfo, PathSegmentNames) {
  EXPECT_TRUE(is_valid_path_segment_name("edge-1"));
  EXPECT_TRUE(is_valid_path_segment_name("a.b"));
  EXPECT_FALSE(is_valid_path_segment_name("."));
  EXPECT_FALSE(is_valid_path_segment_name(".."));
  EXPECT_FALSE(is_valid_path_segment_name("a/b"));
  EXPECT_FALSE(is_valid_path_segment_name("a%2F"));
}

}  // namespace
}  // namespace yurt::kube
