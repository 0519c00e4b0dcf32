#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "yurt/base/result.hpp"
#include "yurt/certs/errc.hpp"
#include "yurt/certs/key.hpp"
#include "yurt/certs/x509.hpp"

namespace yurt::certs {

/// A parsed X.509 certificate.
struct CertificateInfo {
  std::string der;
  int version = 0;     ///< 1 or 3 as written in certificates ("X509v3")
  std::string serial;  ///< upper-case hex without leading zeros ("0" for zero)
  DistinguishedName subject;
  DistinguishedName issuer;
  std::chrono::sys_seconds not_before{};
  std::chrono::sys_seconds not_after{};
  PublicKeyInfo public_key;
  std::string signature_algorithm;  ///< OpenSSL's long name, "sha256WithRSAEncryption"
  Extensions extensions;

  /// basicConstraints CA:TRUE.
  [[nodiscard]] bool is_ca() const noexcept { return extensions.is_ca(); }
  /// The certificate as "CERTIFICATE" PEM.
  [[nodiscard]] std::string pem() const;
};

/// Parses exactly one certificate ("CERTIFICATE" PEM, nothing else).
/// Errors: Malformed (PEM, DER, trailing bytes, undecodable extension, a second block).
[[nodiscard]] Result<CertificateInfo> parse_certificate(std::string_view pem);

/// Parses a chain or bundle: one or more "CERTIFICATE" blocks and nothing else, in order.
[[nodiscard]] Result<std::vector<CertificateInfo>> parse_certificates(std::string_view pem);

/// Parses one DER certificate (no trailing bytes).
[[nodiscard]] Result<CertificateInfo> parse_certificate_der(std::string_view der);

/// What a verified chain must be good for. ClientAuth/ServerAuth follow OpenSSL's SSL
/// client/server purposes: the leaf's extendedKeyUsage (when present) must include the usage,
/// its keyUsage (when present) must allow the signature, and CAs with extendedKeyUsage must
/// allow it too.
enum class Purpose { Any, ServerAuth, ClientAuth };

[[nodiscard]] std::string_view to_string(Purpose p) noexcept;

/// Verifies `cert_chain_pem` (leaf first, then any intermediates) against the trust anchors in
/// `ca_bundle_pem` at time `at`, for `purpose`. Every certificate of the bundle is a trust
/// anchor, intermediates included (Go's crypto/x509 semantics, which the apiserver and kubelet
/// apply to their CA files). A certificate is valid from notBefore up to but not including
/// notAfter (OpenSSL's rule; Go also accepts the notAfter second itself).
/// Errors (the message names the certificate by subject and the times involved): Expired,
/// NotYetValid, UnknownIssuer (no path to the bundle, or a signature that does not verify under
/// the candidate issuer), WrongUsage, InvalidChain (issuer not a CA, path length, …),
/// Malformed (either PEM, or an empty chain or bundle).
[[nodiscard]] Result<void> verify(std::string_view cert_chain_pem,
                                  std::string_view ca_bundle_pem,
                                  Purpose purpose,
                                  std::chrono::system_clock::time_point at);

/// Checks that `key` is the private key of the first certificate of `cert_chain_pem` (same
/// public key). Errors: KeyMismatch (message names both key types and the subject), Malformed.
[[nodiscard]] Result<void> key_matches_certificate(const PrivateKey& key,
                                                   std::string_view cert_chain_pem);

}  // namespace yurt::certs
