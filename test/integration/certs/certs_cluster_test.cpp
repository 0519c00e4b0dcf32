// The certs module against the real cluster: a key and CSR made by us, submitted as a
// CertificateSigningRequest, approved (the test plays the approver) and issued by the real
// kube-controller-manager's csrsigning controller; the certificate then authenticates us.

#include <chrono>
#include <random>
#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "yurt/certs/certificate.hpp"
#include "yurt/certs/csr.hpp"
#include "yurt/certs/csr_client.hpp"
#include "yurt/certs/csr_object.hpp"
#include "yurt/certs/key.hpp"
#include "yurt/kube/kubeconfig.hpp"
#include "yurt/kube/rest_client.hpp"

#include "test/integration/cluster_env.hpp"
#include "test/unit/kube/async_util.hpp"

namespace yurt::certs {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::string unique_name() {
  std::random_device rd;
  return "yurt-certs-e2e-" + std::to_string(rd() % 1000000);
}

// Arguments are named before each co_await: GCC 12 mis-handles temporaries there (docs/net.md).
net::asio::awaitable<Result<json>> approve(kube::RestClient* client, std::string name) {
  const auto resource = certificate_signing_requests();
  const std::string cluster_scope;
  const std::string subresource = "approval";
  auto csr = co_await client->get(resource, cluster_scope, name);
  if (!csr) {
    co_return csr.error();
  }
  (*csr)["status"]["conditions"] = json::array({json{{"type", "Approved"},
                                                     {"status", "True"},
                                                     {"reason", "YurtCertsClusterTest"},
                                                     {"message", "approved by the test"}}});
  co_return co_await client->update(resource, cluster_scope, std::move(*csr), subresource);
}

// A plain function, not a capturing lambda: the coroutine frame must not point into a
// temporary closure.
net::asio::awaitable<void> submit(kube::RestClient* client,
                                  std::string csr_pem,
                                  IssueOptions options,
                                  std::optional<Result<std::string>>* out) {
  *out = co_await request_certificate(*client, std::move(csr_pem), std::move(options));
}

TEST(CertsCluster, CsrIsIssuedByTheRealSignerAndAuthenticates) {
  YURT_REQUIRE_CLUSTER();
  boost::asio::io_context io;
  auto config = kube::RestConfig::from_env(kube::process_env());
  ASSERT_TRUE(config) << config.error().what();
  auto admin = kube::RestClient::create(io.get_executor(), *config);
  ASSERT_TRUE(admin) << admin.error().what();

  auto key = PrivateKey::generate();
  ASSERT_TRUE(key);
  const std::string user = unique_name();
  CsrOptions csr_options;
  csr_options.subject = {user, {"yurt-testers"}};
  auto csr_pem = create_csr(*key, csr_options);
  ASSERT_TRUE(csr_pem) << csr_pem.error().what();

  IssueOptions issue;
  issue.name = user;
  issue.signer_name = std::string(kSignerKubeApiserverClient);
  issue.usages = {Usage::DigitalSignature, Usage::ClientAuth};
  issue.expiration = std::chrono::seconds(3600);
  issue.timeout = 60s;
  issue.poll_interval = 200ms;

  // Submit and wait in one coroutine; approve from another once the object exists.
  kube::test::Task waiter;
  std::optional<Result<std::string>> issued;
  waiter = kube::test::Task::spawn(io, submit(admin->get(), *csr_pem, issue, &issued));
  Result<json> approved = Error(std::make_error_code(std::errc::operation_in_progress));
  for (int i = 0; i < 100 && !approved; ++i) {
    kube::test::poll(io);
    approved = kube::test::run(io, approve(admin->get(), user), 10s);
  }
  ASSERT_TRUE(approved) << approved.error().what();
  const auto until = std::chrono::steady_clock::now() + 90s;
  while (!issued && std::chrono::steady_clock::now() < until) {
    io.restart();
    io.run_for(50ms);
  }
  waiter.rethrow();
  ASSERT_TRUE(issued.has_value()) << "request_certificate did not finish";
  ASSERT_TRUE(*issued) << issued->error().what();

  // The chain is ours: our key, our subject, signed by the cluster CA for client auth.
  auto info = parse_certificate(**issued);
  ASSERT_TRUE(info) << info.error().what();
  EXPECT_EQ(info->subject.common_name, user);
  EXPECT_TRUE(key_matches_certificate(*key, **issued));
  auto verified =
      verify(**issued, config->ca_pem, Purpose::ClientAuth, std::chrono::system_clock::now());
  EXPECT_TRUE(verified) << verified.error().what();

  // And the apiserver takes it: a SelfSubjectReview names us.
  kube::RestConfig as_user = *config;
  as_user.client_cert_pem = **issued;
  as_user.client_key_pem = key->pem();
  as_user.bearer_token.clear();
  auto client = kube::RestClient::create(io.get_executor(), as_user);
  ASSERT_TRUE(client) << client.error().what();
  json review = {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}};
  const kube::GroupVersionResource reviews{"authentication.k8s.io", "v1", "selfsubjectreviews"};
  const std::string cluster_scope;
  auto who = kube::test::run(io, (*client)->create(reviews, cluster_scope, review), 20s);
  ASSERT_TRUE(who) << who.error().what();
  EXPECT_EQ(who->value("/status/userInfo/username"_json_pointer, std::string()), user);

  const auto csrs = certificate_signing_requests();
  (void)kube::test::run(io, (*admin)->remove(csrs, cluster_scope, user), 20s);
}

}  // namespace
}  // namespace yurt::certs
