#include "src/apps/hub/http_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace yurt::hub {
namespace {

TEST(RewriteAccept, KubeletProtobufBecomesJson) {
  EXPECT_EQ(rewrite_accept("application/vnd.kubernetes.protobuf,application/json"),
            "application/json");
  EXPECT_EQ(rewrite_accept("application/vnd.kubernetes.protobuf, */*"), "application/json, */*");
}

TEST(RewriteAccept, KeepsAsGroupVersionParameters) {
  EXPECT_EQ(rewrite_accept("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;"
                           "g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;"
                           "g=meta.k8s.io;v=v1,application/json"),
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json");
  EXPECT_EQ(rewrite_accept("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
            "application/json;as=Table;v=v1;g=meta.k8s.io, application/json");
}

TEST(RewriteAccept, CborAndStreamParameter) {
  EXPECT_EQ(rewrite_accept("application/cbor"), "application/json");
  EXPECT_EQ(rewrite_accept("application/cbor-seq"), "application/json");
  EXPECT_EQ(rewrite_accept("application/vnd.kubernetes.protobuf;stream=watch"), "application/json");
  EXPECT_EQ(rewrite_accept("Application/VND.Kubernetes.Protobuf ; as=Table ; v=v1"),
            "application/json;as=Table;v=v1");
}

TEST(RewriteAccept, EmptyAndOthers) {
  EXPECT_EQ(rewrite_accept(""), "application/json");
  EXPECT_EQ(rewrite_accept(" , ,"), "application/json");
  EXPECT_EQ(rewrite_accept("application/yaml"), "application/yaml");
  EXPECT_EQ(rewrite_accept("text/plain,application/cbor,application/json"),
            "text/plain, application/json");
}

TEST(HopByHop, StandardAndConnectionListed) {
  EXPECT_TRUE(is_hop_by_hop("Connection", ""));
  EXPECT_TRUE(is_hop_by_hop("transfer-encoding", ""));
  EXPECT_TRUE(is_hop_by_hop("Keep-Alive", ""));
  EXPECT_TRUE(is_hop_by_hop("Upgrade", ""));
  EXPECT_TRUE(is_hop_by_hop("X-Private", "close, x-private"));
  EXPECT_FALSE(is_hop_by_hop("Content-Type", "close"));
  EXPECT_FALSE(is_hop_by_hop("Authorization", ""));
}

TEST(Upgrade, NeedsConnectionTokenAndUpgradeField) {
  net::Headers h;
  h.add("Connection", "Upgrade");
  EXPECT_FALSE(is_upgrade_request(h));
  h.add("Upgrade", "SPDY/3.1");
  EXPECT_TRUE(is_upgrade_request(h));
  net::Headers k;
  k.add("Connection", "keep-alive, upgrade");
  k.add("Upgrade", "websocket");
  EXPECT_TRUE(is_upgrade_request(k));
  net::Headers n;
  n.add("Upgrade", "websocket");
  EXPECT_FALSE(is_upgrade_request(n));
}

TEST(Component, UserAgentPrefixLowerCased) {
  EXPECT_EQ(component_of("kubelet/v1.32.4 (linux/amd64) kubernetes/abcdef"), "kubelet");
  EXPECT_EQ(component_of("Kube-Proxy/v1.32"), "kube-proxy");
  EXPECT_EQ(component_of("coredns"), "coredns");
  EXPECT_EQ(component_of(""), "");
  EXPECT_EQ(component_of(" curl /8"), "curl");
}

TEST(Credentials, AnyAuthorization) {
  net::Headers h;
  EXPECT_FALSE(has_own_credentials(h));
  h.add("Authorization", "  ");
  EXPECT_FALSE(has_own_credentials(h));
  h.set("Authorization", "Bearer abc");
  EXPECT_TRUE(has_own_credentials(h));
}

TEST(StatusResponse, JsonBodyAndCode) {
  auto r = status_response(kube::too_many_requests("slow down", 1));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["kind"], "Status");
  EXPECT_EQ(body["code"], 429);
  EXPECT_EQ(body["reason"], "TooManyRequests");
  EXPECT_EQ(body["details"]["retryAfterSeconds"], 1);
}

TEST(IsJson, MediaTypeOnly) {
  EXPECT_TRUE(is_json("application/json"));
  EXPECT_TRUE(is_json("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(is_json("application/json;as=Table;v=v1;g=meta.k8s.io"));
  EXPECT_FALSE(is_json("application/vnd.kubernetes.protobuf"));
  EXPECT_FALSE(is_json("application/json-patch+json"));
  EXPECT_FALSE(is_json(""));
}

}  // namespace
}  // namespace yurt::hub
