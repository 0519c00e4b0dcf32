#include "yurt/certs/csr_client.hpp"

#include <utility>

#include "yurt/base/log.hpp"
#include "yurt/certs/csr_object.hpp"
#include "yurt/certs/errc.hpp"
#include "yurt/kube/errors.hpp"

namespace yurt::certs {

kube::GroupVersionResource certificate_signing_requests() {
  return {"certificates.k8s.io", "v1", "certificatesigningrequests"};
}

net::asio::awaitable<Result<std::string>> request_certificate(kube::RestClient& client,
                                                              std::string csr_pem,
                                                              IssueOptions options,
                                                              kube::SleepFunction sleep) {
  if (!sleep) {
    sleep = kube::steady_sleep();
  }
  CsrObjectOptions object_options;
  object_options.name = options.name;
  object_options.signer_name = options.signer_name;
  object_options.request_pem = std::move(csr_pem);
  object_options.usages = options.usages;
  object_options.expiration = options.expiration;
  auto object = build_csr_object(object_options);
  if (!object) {
    co_return object.error();
  }
  // Arguments are named before co_await: GCC 12 mis-handles temporaries there (docs/net.md).
  const auto resource = certificate_signing_requests();
  const std::string cluster_scope;
  auto created = co_await client.create(resource, cluster_scope, std::move(*object));
  if (!created) {
    co_return Error(created.error().code(),
                    "create CertificateSigningRequest: " + created.error().what());
  }
  const std::string name = created->value("/metadata/name"_json_pointer, std::string());
  auto& logger = log::get("certs");
  logger.info("CertificateSigningRequest {} created (signer {}), waiting for it to be issued", name,
              options.signer_name);

  // Polling, not a watch: one GET a second is nothing for the apiserver, and survives the
  // connection drops an edge link has without any resume logic.
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  nlohmann::json current = std::move(*created);
  for (;;) {
    auto status = csr_status(current);
    if (!status) {
      co_return Error(status.error().code(),
                      "CertificateSigningRequest " + name + ": " + status.error().what());
    }
    switch (status->phase) {
      case CsrPhase::Issued:
        logger.info("CertificateSigningRequest {} issued", name);
        co_return std::move(status->certificate_pem);
      case CsrPhase::Denied:
      case CsrPhase::Failed:
        co_return fail(Errc::NotSigned, "CertificateSigningRequest " + name + " " +
                                            std::string(to_string(status->phase)) + ": " +
                                            status->reason + ": " + status->message);
      case CsrPhase::Pending:
      case CsrPhase::Approved:
        break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return fail(kube::Errc::Timeout,
                     "CertificateSigningRequest " + name + " not issued within " +
                         std::to_string(options.timeout.count()) + "ms (still " +
                         std::string(to_string(status->phase)) + "; is an approver running?)");
    }
    co_await sleep(options.poll_interval);
    auto again = co_await client.get(resource, cluster_scope, name);
    if (again) {
      current = std::move(*again);
    } else if (again.error() == kube::Errc::NotFound) {
      co_return Error(again.error().code(),
                      "CertificateSigningRequest " + name + " was deleted while waiting");
    } else {
      // A dropped link is not a verdict: keep the last state and ask again.
      logger.warn("reading CertificateSigningRequest {}: {}", name, again.error().what());
    }
  }
}

}  // namespace yurt::certs
