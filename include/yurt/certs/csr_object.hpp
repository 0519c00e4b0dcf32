#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "yurt/base/result.hpp"
#include "yurt/certs/errc.hpp"
#include "yurt/certs/x509.hpp"

/// The `certificates.k8s.io/v1` CertificateSigningRequest object, without I/O: build one to
/// POST, read back what the signer and approver did. The REST flow ("create, watch by
/// metadata.name until issued") is a thin loop over these.
namespace yurt::certs {

/// Built-in signer names (k8s.io/api certificates/v1).
inline constexpr std::string_view kSignerKubeApiserverClient =
    "kubernetes.io/kube-apiserver-client";
inline constexpr std::string_view kSignerKubeletClient =
    "kubernetes.io/kube-apiserver-client-kubelet";
inline constexpr std::string_view kSignerKubeletServing = "kubernetes.io/kubelet-serving";

/// The apiserver refuses spec.expirationSeconds below 10 minutes.
inline constexpr std::chrono::seconds kMinCsrExpiration{600};

struct CsrObjectOptions {
  std::string name;  ///< metadata.name; empty → generate_name
  std::string generate_name = "csr-";
  std::string signer_name;                         ///< required
  std::string request_pem;                         ///< the PKCS#10 PEM (create_csr)
  std::vector<Usage> usages;                       ///< required, non-empty
  std::optional<std::chrono::seconds> expiration;  ///< spec.expirationSeconds, ≥ 10 min
};

/// The CSR object to POST to /apis/certificates.k8s.io/v1/certificatesigningrequests.
/// `spec.request` is base64 of the PEM text (a []byte field). Errors: InvalidArgument (no
/// signer, no usages, expiration < 10 min, neither name nor generateName); Malformed (the
/// request is not a valid CSR).
[[nodiscard]] Result<nlohmann::json> build_csr_object(const CsrObjectOptions& options);

/// Where a CSR stands.
enum class CsrPhase {
  Pending,   ///< neither approved nor denied
  Approved,  ///< approved, certificate not issued yet
  Issued,    ///< approved and status.certificate set
  Denied,    ///< condition Denied
  Failed,    ///< condition Failed (the signer gave up)
};

[[nodiscard]] std::string_view to_string(CsrPhase p) noexcept;

struct CsrStatus {
  CsrPhase phase = CsrPhase::Pending;
  std::string certificate_pem;  ///< Issued: the chain as issued (validated PEM)
  std::string reason;           ///< reason of the deciding condition (Denied/Failed/Approved)
  std::string message;          ///< its message
};

/// Reads a CSR object's status as client-go's `WaitForCertificate` does: Denied or Failed win;
/// Issued needs an Approved condition and a non-empty status.certificate (base64 of PEM), which
/// must parse as certificates. Errors: Malformed (wrong types, bad base64 or PEM).
[[nodiscard]] Result<CsrStatus> csr_status(const nlohmann::json& csr);

/// The spec of a CSR object, for an approver: the request decoded and parsed strictly, and what
/// the apiserver recorded about the requester. Usages are kept as strings, unknown ones too.
struct CsrSpec {
  std::string name;  ///< metadata.name
  std::string signer_name;
  std::vector<std::string> usages;
  std::string username;
  std::string uid;
  std::vector<std::string> groups;
  std::optional<std::chrono::seconds> expiration;
  std::string request_pem;
};

/// Errors: Malformed (missing spec/request/signerName, wrong types, bad base64).
[[nodiscard]] Result<CsrSpec> csr_spec(const nlohmann::json& csr);

}  // namespace yurt::certs
