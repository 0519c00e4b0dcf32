#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "yurt/base/result.hpp"
#include "yurt/certs/x509.hpp"
#include "yurt/kube/rest_client.hpp"
#include "yurt/kube/sleep.hpp"
#include "yurt/net/asio.hpp"

namespace yurt::certs {

/// How to ask the cluster for a certificate.
struct IssueOptions {
  std::string signer_name;                         ///< e.g. kSignerKubeletClient
  std::vector<Usage> usages;                       ///< exactly what the certificate may do
  std::optional<std::chrono::seconds> expiration;  ///< spec.expirationSeconds (≥ 10 min)
  std::string name;                                ///< "" → generateName "csr-"
  /// Give up after this long without an issued certificate (an approver may never come).
  std::chrono::milliseconds timeout{std::chrono::minutes(15)};
  /// How often the CSR object is read back while waiting.
  std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
};

/// Posts a CertificateSigningRequest for `csr_pem` (create_csr) and waits until it is issued,
/// as client-go's certificate manager does (its WaitForCertificate): the issued chain (PEM) is
/// returned once the object is Approved and carries status.certificate.
///
/// The key never leaves the caller; only the PKCS#10 request is sent.
/// @par Errors
/// Denied / Failed conditions → certs::Errc::NotSigned with the condition's reason and message;
/// the timeout → kube::Errc::Timeout naming the CSR; API errors as the RestClient returns them.
net::asio::awaitable<Result<std::string>> request_certificate(kube::RestClient& client,
                                                              std::string csr_pem,
                                                              IssueOptions options,
                                                              kube::SleepFunction sleep = {});

/// The group/version/resource of CertificateSigningRequests.
[[nodiscard]] kube::GroupVersionResource certificate_signing_requests();

}  // namespace yurt::certs
