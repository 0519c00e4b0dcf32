#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "yurt/base/result.hpp"
#include "yurt/certs/errc.hpp"

/// Value types shared by CSRs and certificates: names, subject alternative names, usages and
/// the extensions we decode. Plain data; no OpenSSL type appears here.
namespace yurt::certs {

/// The subject to request or issue: what Kubernetes reads from a client certificate (CN = user
/// name, O = groups).
struct Subject {
  std::string common_name;
  std::vector<std::string> organizations;
  friend bool operator==(const Subject&, const Subject&) = default;
};

/// One attribute of a distinguished name, as encoded.
struct NameAttribute {
  std::string type;   ///< OpenSSL short name ("CN", "O", "OU", "C", …) or the dotted OID
  std::string value;  ///< UTF-8
  friend bool operator==(const NameAttribute&, const NameAttribute&) = default;
};

/// A parsed distinguished name (subject or issuer).
struct DistinguishedName {
  std::string common_name;                 ///< "" when there is no CN
  std::vector<std::string> organizations;  ///< every O, in encoded order
  std::vector<NameAttribute> attributes;   ///< all attributes in encoded order, CN and O included

  /// "CN=system:node:a, O=system:nodes" (encoded order; ',', '+', '"', '\\' and leading '#'
  /// or spaces escaped as in RFC 4514).
  [[nodiscard]] std::string str() const;
  friend bool operator==(const DistinguishedName&, const DistinguishedName&) = default;
};

/// Subject alternative names. IP addresses are in canonical text form ("10.0.0.1", "fd00::1").
struct SubjectAltNames {
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::vector<std::string> emails;
  std::vector<std::string> uris;
  /// Kinds of any other name present ("otherName", "dirName", "registeredID", "x400Address",
  /// "ediPartyName"): kept so that a strict reader (the CSR approver) can refuse them.
  std::vector<std::string> others;

  [[nodiscard]] bool empty() const noexcept {
    return dns_names.empty() && ip_addresses.empty() && emails.empty() && uris.empty() &&
           others.empty();
  }
  friend bool operator==(const SubjectAltNames&, const SubjectAltNames&) = default;
};

/// Key usages and extended key usages, as the Kubernetes certificates API names them
/// (`certificates.k8s.io/v1` KeyUsage). The first group maps to the X.509 keyUsage extension,
/// the second to extendedKeyUsage.
enum class Usage {
  // keyUsage
  DigitalSignature,
  ContentCommitment,
  KeyEncipherment,
  KeyAgreement,
  DataEncipherment,
  CertSign,
  CrlSign,
  EncipherOnly,
  DecipherOnly,
  // extendedKeyUsage
  Any,
  ServerAuth,
  ClientAuth,
  CodeSigning,
  EmailProtection,
  IpsecEndSystem,
  IpsecTunnel,
  IpsecUser,
  Timestamping,
  OcspSigning,
  MicrosoftSgc,
  NetscapeSgc,
};

/// True for the keyUsage group, false for the extendedKeyUsage group.
[[nodiscard]] bool is_key_usage(Usage u) noexcept;

/// The Kubernetes spelling: "digital signature", "client auth", "cert sign", …
[[nodiscard]] std::string_view to_string(Usage u) noexcept;

/// Parses the Kubernetes spelling. Also accepts upstream's aliases "signing" (= digital
/// signature) and "s/mime" (= email protection). Errors: Malformed (unknown usage, quoted).
[[nodiscard]] Result<Usage> parse_usage(std::string_view name);

/// The basicConstraints extension.
struct BasicConstraints {
  bool is_ca = false;
  std::optional<int> path_len;  ///< pathLenConstraint, if present
  bool critical = false;
  friend bool operator==(const BasicConstraints&, const BasicConstraints&) = default;
};

/// One extension as present in the certificate or CSR.
struct ExtensionInfo {
  std::string oid;   ///< dotted OID
  std::string name;  ///< OpenSSL's short name ("subjectAltName"), or the OID when unknown
  bool critical = false;
  friend bool operator==(const ExtensionInfo&, const ExtensionInfo&) = default;
};

/// The decoded extensions of a certificate or of a CSR's extensionRequest attribute.
struct Extensions {
  SubjectAltNames sans;
  std::optional<BasicConstraints> basic_constraints;  ///< absent when there is no extension
  std::optional<std::vector<Usage>> key_usage;        ///< absent when there is no extension
  std::optional<std::vector<Usage>> ext_key_usage;    ///< absent when there is no extension
  /// extendedKeyUsage OIDs that have no Usage (dotted).
  std::vector<std::string> other_ext_key_usages;
  /// Every extension, in encoded order (the decoded ones included).
  std::vector<ExtensionInfo> all;

  /// basicConstraints CA:TRUE.
  [[nodiscard]] bool is_ca() const noexcept {
    return basic_constraints.has_value() && basic_constraints->is_ca;
  }
  /// True when an extension with this short name or dotted OID is present.
  [[nodiscard]] bool has(std::string_view name_or_oid) const noexcept;
  friend bool operator==(const Extensions&, const Extensions&) = default;
};

}  // namespace yurt::certs
