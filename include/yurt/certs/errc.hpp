#pragma once

#include <system_error>
#include <type_traits>

namespace yurt::certs {

/// Error codes of the certs module. The Error message always names the part at fault (the PEM
/// block and line, the extension, the certificate subject, the file) and, for failures inside
/// OpenSSL, the reasons from OpenSSL's error queue.
enum class Errc {
  Malformed = 1,    ///< bytes that do not parse: PEM, DER, JSON, base64, a token, a pin
  Unsupported,      ///< parses, but is refused: Ed25519 or small RSA keys, encrypted keys, SHA-1
  InvalidArgument,  ///< options given by the caller that cannot be used (bad IP text, no subject)
  BadSignature,     ///< a CSR's self-signature or a cluster-info JWS does not verify
  KeyMismatch,      ///< a private key that is not the key of the certificate it comes with
  Expired,          ///< a certificate in the chain is past its notAfter at the verification time
  NotYetValid,      ///< a certificate in the chain is before its notBefore at that time
  UnknownIssuer,    ///< the chain does not lead to a certificate of the CA bundle
  WrongUsage,       ///< the chain is not valid for the requested purpose (client/server auth)
  InvalidChain,     ///< any other chain failure: an issuer that is no CA, path length, …
  NotFound,         ///< no key pair stored at the expected paths
  PinMismatch,      ///< no CA certificate matches any of the given public-key pins
  NotSigned,        ///< cluster-info carries no signature for this token id (yet)
  Internal,         ///< OpenSSL failed where it should not (allocation, random source)
};

/// The category of certs::Errc ("yurt.certs").
[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace yurt::certs

template <>
struct std::is_error_code_enum<yurt::certs::Errc> : std::true_type {};
