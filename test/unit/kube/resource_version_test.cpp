#include "yurt/kube/resource_version.hpp"

#include <gtest/gtest.h>

namespace yurt::kube {
namespace {

using nlohmann::json;

TEST(ResourceVersion, ParsesEtcdRevisionsOnly) {
  EXPECT_EQ(parse_resource_version("48211"), std::optional<std::uint64_t>(48211));
  EXPECT_EQ(parse_resource_version("0"), std::optional<std::uint64_t>(0));
  EXPECT_EQ(parse_resource_version("18446744073709551615"),
            std::optional<std::uint64_t>(UINT64_MAX));
  for (const char* opaque : {"", "007", "-1", "+1", "1a", "abc", " 1", "18446744073709551616"}) {
    EXPECT_EQ(parse_resource_version(opaque), std::nullopt) << opaque;
  }
}

TEST(ResourceVersion, Compare) {
  EXPECT_EQ(compare_resource_versions("9", "10"), std::partial_ordering::less);
  EXPECT_EQ(compare_resource_versions("10", "10"), std::partial_ordering::equivalent);
  EXPECT_EQ(compare_resource_versions("100", "99"), std::partial_ordering::greater);
  EXPECT_EQ(compare_resource_versions("x", "10"), std::partial_ordering::unordered);
  EXPECT_EQ(compare_resource_versions("", ""), std::partial_ordering::unordered);
}

TEST(ResourceVersion, CacheGuard) {
  EXPECT_TRUE(should_replace("9", "10"));    // newer (numerically, not lexically)
  EXPECT_FALSE(should_replace("10", "10"));  // replay
  EXPECT_FALSE(should_replace("10", "9"));   // late, older event
  EXPECT_TRUE(should_replace("", "5"));      // nothing stored yet
  EXPECT_TRUE(should_replace("a1", "b2"));   // opaque: the latest event wins
}

TEST(ResourceVersion, Of) {
  EXPECT_EQ(resource_version_of(json::parse(R"({"metadata":{"resourceVersion":"7"}})")), "7");
  EXPECT_EQ(resource_version_of(json::parse(R"({"metadata":{"resourceVersion":7}})")), "");
  EXPECT_EQ(resource_version_of(json::parse(R"({"metadata":null})")), "");
  EXPECT_EQ(resource_version_of(json::array()), "");
}

TEST(ObjectKey, FromObjects) {
  EXPECT_EQ(object_key(json::parse(R"({"metadata":{"name":"p","namespace":"ns"}})")).value(),
            "ns/p");
  EXPECT_EQ(object_key(json::parse(R"({"metadata":{"name":"n1"}})")).value(), "n1");
  EXPECT_EQ(object_key(json::parse(R"({"metadata":{"name":"n1","namespace":""}})")).value(), "n1");
  EXPECT_EQ(object_key(json::parse(R"({"metadata":{"name":"n1","namespace":null}})")).value(),
            "n1");
  struct {
    const char* in;
    const char* message_part;
  } bad[] = {
      {"[]", "not a JSON object"},
      {"{}", "no metadata"},
      {R"({"metadata":[]})", "no metadata"},
      {R"({"metadata":{}})", "no metadata.name"},
      {R"({"metadata":{"name":""}})", "no metadata.name"},
      {R"({"metadata":{"name":1}})", "no metadata.name"},
      {R"({"metadata":{"name":"a","namespace":1}})", "namespace is not a string"},
  };
  for (const auto& c : bad) {
    SCOPED_TRACE(c.in);
    auto k = object_key(json::parse(c.in));
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error(), make_error_code(Errc::Malformed));
    EXPECT_NE(k.error().message().find(c.message_part), std::string::npos);
  }
}

TEST(ObjectKey, Split) {
  auto k = split_object_key("ns/p").value();
  EXPECT_EQ(k.namespace_name, "ns");
  EXPECT_EQ(k.name, "p");
  auto c = split_object_key("n1").value();
  EXPECT_EQ(c.namespace_name, "");
  EXPECT_EQ(c.name, "n1");
  EXPECT_FALSE(split_object_key(""));
  EXPECT_FALSE(split_object_key("a/b/c"));
  EXPECT_FALSE(split_object_key("ns/"));
  EXPECT_EQ(object_key("ns", "p"), "ns/p");
  EXPECT_EQ(object_key("", "p"), "p");
}

}  // namespace
}  // namespace yurt::kube
