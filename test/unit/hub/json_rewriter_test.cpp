#include "src/apps/hub/json_rewriter.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace yurt::hub {
namespace {

using json = nlohmann::json;

const std::string kKubernetes =
    R"({"metadata":{"name":"kubernetes","namespace":"default","resourceVersion":"5"},)"
    R"("spec":{"clusterIP":"10.96.0.1","clusterIPs":["10.96.0.1"],)"
    R"("ports":[{"name":"https","port":443,"protocol":"TCP","targetPort":6443}]}})";
const std::string kOther =
    R"({"metadata":{"name":"web","namespace":"default","annotations":{"x":"}{\"\\"}},)"
    R"("spec":{"clusterIP":"10.96.0.9","ports":[{"port":80}]}})";

std::string list_of(const std::string& a, const std::string& b) {
  return R"({"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[)" +
         a + "," + b + "]}";
}

JsonRewriter::Transform master(int port = 10268) {
  return [port](std::string_view o) { return rewrite_master_service(o, "127.0.0.1", port); };
}

/// Feeds `input` in pieces of `step` bytes.
std::string run(JsonRewriter& r, const std::string& input, std::size_t step) {
  std::string out;
  for (std::size_t i = 0; i < input.size(); i += step) {
    out += r.feed(std::string_view(input).substr(i, step));
  }
  out += r.finish();
  return out;
}

TEST(MasterService, RewritesOnlyTheDefaultKubernetesService) {
  auto rewritten = rewrite_master_service(kKubernetes, "169.254.2.1", 10268);
  ASSERT_TRUE(rewritten);
  auto j = json::parse(*rewritten);
  EXPECT_EQ(j["spec"]["clusterIP"], "169.254.2.1");
  EXPECT_EQ(j["spec"]["clusterIPs"], json::array({"169.254.2.1"}));
  EXPECT_EQ(j["spec"]["ports"][0]["port"], 10268);
  EXPECT_EQ(j["spec"]["ports"][0]["targetPort"], 6443);
  // Key order is kept (the object is otherwise byte-identical to what the apiserver sent).
  EXPECT_EQ(rewritten->find("\"metadata\""), 1U);

  EXPECT_FALSE(rewrite_master_service(kOther, "169.254.2.1", 10268));
  auto other_ns = kKubernetes;
  other_ns.replace(other_ns.find("\"default\""), 9, "\"kube-system\"");
  EXPECT_FALSE(rewrite_master_service(other_ns, "169.254.2.1", 10268));
  EXPECT_FALSE(rewrite_master_service("{not json \"kubernetes\"", "h", 1));
  EXPECT_FALSE(rewrite_master_service(R"({"kind":"Pod","metadata":{"name":"kubernetes",)"
                                      R"("namespace":"default"},"spec":{}})",
                                      "h", 1));
}

TEST(MasterService, WatchEventAndUnnamedPort) {
  const std::string event = R"({"type":"MODIFIED","object":{"kind":"Service","metadata":)"
                            R"({"name":"kubernetes","namespace":"default"},)"
                            R"("spec":{"clusterIP":"10.96.0.1","ports":[{"port":443}]}}})";
  auto rewritten = rewrite_master_service(event, "127.0.0.1", 10268);
  ASSERT_TRUE(rewritten);
  auto j = json::parse(*rewritten);
  EXPECT_EQ(j["type"], "MODIFIED");
  EXPECT_EQ(j["object"]["spec"]["clusterIP"], "127.0.0.1");
  EXPECT_EQ(j["object"]["spec"]["ports"][0]["port"], 10268);
}

TEST(JsonRewriter, ListItemsAtEverySplit) {
  const auto input = list_of(kOther, kKubernetes);
  for (std::size_t step = 1; step <= input.size(); step += (step < 20 ? 1 : 37)) {
    JsonRewriter r(JsonRewriter::Mode::ListItems, master(), 1 << 20);
    auto out = run(r, input, step);
    auto j = json::parse(out);
    ASSERT_EQ(j["items"].size(), 2U) << "step " << step;
    EXPECT_EQ(j["items"][0], json::parse(kOther)) << "step " << step;
    EXPECT_EQ(j["items"][1]["spec"]["clusterIP"], "127.0.0.1") << "step " << step;
    EXPECT_EQ(j["metadata"]["resourceVersion"], "9");
    EXPECT_EQ(r.seen(), 2U);
    EXPECT_EQ(r.rewritten(), 1U);
  }
}

TEST(JsonRewriter, UntouchedObjectsAreByteIdentical) {
  const auto input = list_of(kOther, kOther);
  JsonRewriter r(JsonRewriter::Mode::ListItems, master(), 1 << 20);
  EXPECT_EQ(run(r, input, 7), input);
}

TEST(JsonRewriter, ItemsKeyOnlyAtTopLevel) {
  // A nested "items" array (inside metadata) is not the list's items.
  const std::string input =
      R"({"metadata":{"items":[)" + kKubernetes + R"(]},"items":[)" + kKubernetes + "]}";
  JsonRewriter r(JsonRewriter::Mode::ListItems, master(), 1 << 20);
  auto j = json::parse(run(r, input, 5));
  EXPECT_EQ(j["metadata"]["items"][0]["spec"]["clusterIP"], "10.96.0.1");
  EXPECT_EQ(j["items"][0]["spec"]["clusterIP"], "127.0.0.1");
}

TEST(JsonRewriter, WatchEventsOnePerLine) {
  const std::string a = R"({"type":"ADDED","object":)" + kOther + "}";
  const std::string b = R"({"type":"ADDED","object":)" + kKubernetes + "}";
  const std::string bookmark =
      R"({"type":"BOOKMARK","object":{"kind":"Service","metadata":{"resourceVersion":"12"}}})";
  const auto input = a + "\n" + b + "\n" + bookmark + "\n";
  for (std::size_t step : {1, 3, 64, 4096}) {
    JsonRewriter r(JsonRewriter::Mode::TopLevel, master(), 1 << 20);
    auto out = run(r, input, step);
    ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 3);
    auto first = out.substr(0, out.find('\n'));
    EXPECT_EQ(first, a);
    auto second =
        json::parse(out.substr(a.size() + 1, out.find('\n', a.size() + 1) - a.size() - 1));
    EXPECT_EQ(second["object"]["spec"]["clusterIP"], "127.0.0.1");
    EXPECT_TRUE(out.ends_with(bookmark + "\n"));
  }
}

TEST(JsonRewriter, OversizedObjectsPassThrough) {
  const auto input = list_of(kKubernetes, kOther);
  JsonRewriter r(JsonRewriter::Mode::ListItems, master(), 64);
  EXPECT_EQ(run(r, input, 10), input);
  EXPECT_EQ(r.rewritten(), 0U);
}

TEST(JsonRewriter, DeepNestingStopsInterpreting) {
  std::string input = R"({"items":[)";
  input += std::string(JsonRewriter::kMaxDepth + 10, '[');
  input += std::string(JsonRewriter::kMaxDepth + 10, ']');
  input += "]}";
  JsonRewriter r(JsonRewriter::Mode::ListItems, master(), 1 << 20);
  EXPECT_EQ(run(r, input, 100), input);
}

TEST(JsonRewriter, TruncatedBodyIsHandedOnUnchanged) {
  const auto input = list_of(kOther, kKubernetes);
  const auto cut = input.substr(0, input.size() - 40);
  JsonRewriter r(JsonRewriter::Mode::ListItems, master(), 1 << 20);
  EXPECT_EQ(run(r, cut, 9), cut);
}

}  // namespace
}  // namespace yurt::hub
