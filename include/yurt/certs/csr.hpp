#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "yurt/base/result.hpp"
#include "yurt/certs/errc.hpp"
#include "yurt/certs/key.hpp"
#include "yurt/certs/x509.hpp"

namespace yurt::certs {

/// What to put in a certificate signing request. Kubernetes signers read the subject (CN = user,
/// O = groups) and the SANs; usages and lifetime go in the CertificateSigningRequest object
/// (csr_object.hpp), not in the PKCS#10 request.
struct CsrOptions {
  Subject subject;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  ///< textual IPv4 or IPv6
};

/// Creates a PKCS#10 request signed with `key` (SHA-256; SHA-384/512 for P-384/P-521), as
/// "CERTIFICATE REQUEST" PEM. SANs go in an extensionRequest attribute; nothing else is
/// requested. Errors: InvalidArgument (no CN and no SAN, an empty or non-printable name, an IP
/// that does not parse); Internal.
[[nodiscard]] Result<std::string> create_csr(const PrivateKey& key, const CsrOptions& options);

/// A parsed and signature-checked PKCS#10 request: everything an approver decides on.
struct CertificateRequest {
  std::string der;  ///< the request as received (DER)
  DistinguishedName subject;
  PublicKeyInfo public_key;
  std::string signature_algorithm;  ///< OpenSSL's long name, "ecdsa-with-SHA256"
  Extensions extensions;            ///< from the extensionRequest attribute
  /// Attributes other than extensionRequest (short name or OID, e.g. "challengePassword").
  std::vector<std::string> other_attributes;
};

/// Parses a request strictly, for an approver that must see exactly what will be signed:
/// exactly one "CERTIFICATE REQUEST" PEM block and nothing else; DER with no trailing bytes;
/// version 1; a self-signature that verifies with a hash other than MD5/SHA-1; at most one
/// extensionRequest attribute, no extension twice, every known extension decodable; at most one
/// CN; names and SANs without control characters (SANs printable ASCII).
/// Errors: Malformed (each rule, naming the part), BadSignature, Unsupported (weak hash, a
/// public key OpenSSL cannot decode).
[[nodiscard]] Result<CertificateRequest> parse_csr(std::string_view pem);

/// Same checks, from DER.
[[nodiscard]] Result<CertificateRequest> parse_csr_der(std::string_view der);

}  // namespace yurt::certs
