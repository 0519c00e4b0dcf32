#include "yurt/storage/key.hpp"

#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "yurt/base/strings.hpp"

namespace yurt::storage {
namespace {

struct GoodKey {
  std::string key;
};

void PrintTo(const GoodKey& g, std::ostream* os) {
  *os << quote(g.key, 40);
}

class ValidKey : public ::testing::TestWithParam<GoodKey> {};

TEST_P(ValidKey, Accepted) {
  auto r = validate_key(GetParam().key);
  EXPECT_TRUE(r) << r.error().what();
}

INSTANTIATE_TEST_SUITE_P(
    Keys,
    ValidKey,
    ::testing::Values(GoodKey{"kubelet/pods.v1.core/default/nginx"},
                      GoodKey{"kube-proxy/nodes.v1.core/_/edge-1"},
                      GoodKey{"coredns/endpointslices.v1.discovery.k8s.io/ns/a.b-c"},
                      GoodKey{"kubelet/clusterroles.v1.rbac.authorization.k8s.io/_/system:node"},
                      GoodKey{"c/r.v.g/n/" + std::string(255, 'x')},
                      GoodKey{"c/r.v.g/n/caf\xC3\xA9 with space"}));

struct BadKey {
  std::string key;
  std::string message_part;
};

void PrintTo(const BadKey& b, std::ostream* os) {
  *os << quote(b.key, 40);
}

class InvalidKey : public ::testing::TestWithParam<BadKey> {};

TEST_P(InvalidKey, RejectedWithReason) {
  auto r = validate_key(GetParam().key);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::InvalidKey);
  EXPECT_NE(r.error().message().find(GetParam().message_part), std::string::npos)
      << r.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Keys,
    InvalidKey,
    ::testing::Values(BadKey{"", "empty key"},
                      BadKey{"kubelet/pods.v1.core/default", "has 3 segments, want 4"},
                      BadKey{"a/b/c/d/e", "has 5 segments"},
                      BadKey{"/etc/passwd/x", "segment 1 \"\" is empty"},
                      BadKey{"a//c/d", "segment 2 \"\" is empty"},
                      BadKey{"a/b/c/", "segment 4 \"\" is empty"},
                      BadKey{"../../../etc", "segment 1 \"..\" starts with '.'"},
                      BadKey{"a/b/../d", "segment 3 \"..\" starts with '.'"},
                      BadKey{"a/b/./d", "starts with '.'"},
                      BadKey{"a/b/c/.tmp-0123", "starts with '.'"},
                      BadKey{std::string("a/b/c/d\0e", 9), "control character"},
                      BadKey{"a/b/c/d\ne", "control character"},
                      BadKey{"c/r.v.g/n/" + std::string(256, 'x'), "over the limit of 255"},
                      BadKey{std::string(5000, 'a'), "over the limit of 1023"}));

TEST(ValidatePrefix, WholeSegmentsOnly) {
  EXPECT_TRUE(validate_prefix("kubelet/"));
  EXPECT_TRUE(validate_prefix("kubelet/pods.v1.core/"));
  EXPECT_TRUE(validate_prefix("kubelet/pods.v1.core/default/"));
  for (const char* bad : {"", "kubelet", "kubelet/pod", "kubelet//", "/", "../",
                          "kubelet/pods.v1.core/default/x/", "kubelet/.x/"}) {
    auto r = validate_prefix(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::InvalidKey);
  }
}

KeyParts pod(std::string ns, std::string name) {
  return KeyParts{.component = "kubelet",
                  .group = "",
                  .version = "v1",
                  .resource = "pods",
                  .namespace_ = std::move(ns),
                  .name = std::move(name)};
}

TEST(MakeKey, LayoutOfArchitectureD2) {
  EXPECT_EQ(make_key(pod("default", "nginx")).value(), "kubelet/pods.v1.core/default/nginx");
  EXPECT_EQ(make_key(KeyParts{.component = "kube-proxy",
                              .group = "discovery.k8s.io",
                              .version = "v1",
                              .resource = "endpointslices",
                              .namespace_ = "kube-system",
                              .name = "kube-dns-abcde"})
                .value(),
            "kube-proxy/endpointslices.v1.discovery.k8s.io/kube-system/kube-dns-abcde");
  EXPECT_EQ(
      make_key(
          KeyParts{.component = "kubelet", .version = "v1", .resource = "nodes", .name = "edge-1"})
          .value(),
      "kubelet/nodes.v1.core/_/edge-1");
}

TEST(MakeKey, Prefixes) {
  EXPECT_EQ(make_resource_prefix(pod("x", "y")).value(), "kubelet/pods.v1.core/");
  EXPECT_EQ(make_namespace_prefix(pod("default", "y")).value(), "kubelet/pods.v1.core/default/");
  EXPECT_EQ(make_namespace_prefix(pod("", "y")).value(), "kubelet/pods.v1.core/_/");
  EXPECT_TRUE(validate_prefix(make_namespace_prefix(pod("", "")).value()));
}

TEST(MakeKey, EscapesWhatAFileNameMustNotCarry) {
  // Names that Kubernetes allows for some kinds (path-segment names) or hostile User-Agents.
  struct Case {
    KeyParts parts;
    std::string key;
  };
  auto with_component = [](std::string c) {
    auto p = pod("ns", "n");
    p.component = std::move(c);
    return p;
  };
  const Case cases[] = {
      {pod("ns", ".hidden"), "kubelet/pods.v1.core/ns/%2Ehidden"},
      {pod("ns", ".."), "kubelet/pods.v1.core/ns/%2E."},
      {pod("ns", ".tmp-1"), "kubelet/pods.v1.core/ns/%2Etmp-1"},
      {pod("ns", "a/b"), "kubelet/pods.v1.core/ns/a%2Fb"},
      {pod("ns", "100%"), "kubelet/pods.v1.core/ns/100%25"},
      {pod("ns", "_"), "kubelet/pods.v1.core/ns/%5F"},
      {pod("_", "n"), "kubelet/pods.v1.core/%5F/n"},
      {pod("ns", "a\nb"), "kubelet/pods.v1.core/ns/a%0Ab"},
      {with_component("../../etc"), "%2E.%2F..%2Fetc/pods.v1.core/ns/n"},
  };
  for (const auto& c : cases) {
    auto key = make_key(c.parts);
    ASSERT_TRUE(key) << key.error().what();
    EXPECT_EQ(*key, c.key);
    EXPECT_TRUE(validate_key(*key));
    auto back = parse_key(*key);
    ASSERT_TRUE(back) << back.error().what();
    EXPECT_EQ(*back, c.parts) << *key;
  }
}

TEST(MakeKey, RoundTrips) {
  for (const auto& parts : {pod("default", "nginx"), pod("", "edge-1"),
                            KeyParts{.component = "coredns",
                            .group = "discovery.k8s.io",
                            .version = "v1beta1",
                            .resource = "endpointslices",
                            .namespace_ = "kube-system",
                            .name = "system:x@y"}}) {
    const auto key = make_key(parts).value();
    EXPECT_EQ(parse_key(key).value(), parts) << key;
  }
}

TEST(MakeKey, RejectsBadParts) {
  auto expect_invalid = [](KeyParts p, const std::string& part) {
    auto r = make_key(p);
    ASSERT_FALSE(r) << *r;
    EXPECT_EQ(r.error().code(), Errc::InvalidKey);
    EXPECT_NE(r.error().message().find(part), std::string::npos) << r.error().message();
  };
  auto p = pod("ns", "n");
  p.component.clear();
  expect_invalid(p, "component is empty");
  expect_invalid(pod("ns", ""), "name is empty");
  p = pod("ns", "n");
  p.resource = "Pods";
  expect_invalid(p, "resource \"Pods\" may contain only [a-z0-9-]");
  p = pod("ns", "n");
  p.resource = "pods.x";
  expect_invalid(p, "resource");
  p = pod("ns", "n");
  p.version = "";
  expect_invalid(p, "version");
  p = pod("ns", "n");
  p.group = ".apps";
  expect_invalid(p, "must not start or end with '.'");
  expect_invalid(pod("ns", std::string(256, 'x')), "after escaping");
  expect_invalid(pod("ns", "." + std::string(253, 'x')), "after escaping");
}

TEST(ParseKey, RejectsNonCanonical) {
  for (const char* bad :
       {"kubelet/pods.v1/ns/n", "kubelet/pods..core/ns/n", "kubelet/.v1.core/ns/n",
        "kubelet/Pods.v1.core/ns/n", "kubelet/pods.v1.core/ns/a%2", "kubelet/pods.v1.core/ns/a%zz",
        "kubelet/pods.v1.core/ns/%2e", "kubelet/pods.v1.core/ns/a%41", "kubelet/pods.v1./ns/n",
        "a/b/c"}) {
    auto r = parse_key(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::InvalidKey) << bad;
  }
}

}  // namespace
}  // namespace yurt::storage
