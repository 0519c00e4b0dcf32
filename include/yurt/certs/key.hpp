#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "yurt/base/result.hpp"
#include "yurt/certs/errc.hpp"

namespace yurt::certs {

/// Key algorithms we generate and accept as our own keys. The Kubernetes signers issue for ECDSA
/// and RSA keys; ECDSA P-256 is the default, as client-go's certificate manager uses.
enum class KeyAlgorithm {
  EcdsaP256,
  EcdsaP384,
  EcdsaP521,
  Rsa2048,
  Rsa3072,
  Rsa4096,
};

/// "ECDSA P-256", "RSA 2048", …
[[nodiscard]] std::string_view to_string(KeyAlgorithm a) noexcept;

/// The family of a public key found in a certificate or CSR (any algorithm, ours or not).
enum class KeyType { Rsa, Ecdsa, Ed25519, Ed448, Dsa, Other };

[[nodiscard]] std::string_view to_string(KeyType t) noexcept;

/// What a certificate's or CSR's public key is.
struct PublicKeyInfo {
  KeyType type = KeyType::Other;
  int bits = 0;           ///< modulus size for RSA, field size for EC
  std::string curve;      ///< "P-256", "P-384", "P-521" or OpenSSL's group name; "" if not EC
  std::string algorithm;  ///< OpenSSL's name when type is Other ("SM2", …)
  std::string spki_der;   ///< the DER SubjectPublicKeyInfo (what CA pins hash)

  /// "ECDSA P-256", "RSA 2048", "Ed25519".
  [[nodiscard]] std::string describe() const;
  friend bool operator==(const PublicKeyInfo&, const PublicKeyInfo&) = default;
};

/// An unencrypted private key of one of the KeyAlgorithms, held as its PKCS#8 PEM text.
///
/// A plain value: copying copies the key bytes; the destructor overwrites them. The functions of
/// this module take a PrivateKey and decode it when they need it (cheap compared to what they
/// then do: sign, compare).
///
/// @par Thread Safety
/// A value type; distinct objects are independent, const access is safe from any thread.
class PrivateKey {
 public:
  /// Generates a new key from OpenSSL's CSPRNG. Errors: Internal (the random source failed).
  [[nodiscard]] static Result<PrivateKey> generate(
      KeyAlgorithm algorithm = KeyAlgorithm::EcdsaP256);

  /// Loads the first private key of a PEM text: "PRIVATE KEY" (PKCS#8), "EC PRIVATE KEY" (SEC1)
  /// or "RSA PRIVATE KEY" (PKCS#1). "EC PARAMETERS" blocks (openssl ecparam -genkey) are
  /// skipped; any other block, text outside blocks, or a second key is an error.
  /// Errors: Malformed (PEM/DER, with line numbers; no key at all); Unsupported (encrypted keys,
  /// key types other than ECDSA P-256/384/521 and RSA ≥ 2048 bits).
  [[nodiscard]] static Result<PrivateKey> from_pem(std::string_view pem);

  /// Same from one DER PKCS#8 PrivateKeyInfo.
  [[nodiscard]] static Result<PrivateKey> from_pkcs8_der(std::string_view der);

  PrivateKey(const PrivateKey&) = default;
  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(const PrivateKey&) = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;
  ~PrivateKey();

  /// PKCS#8 "PRIVATE KEY" PEM. Secret: never log it.
  [[nodiscard]] const std::string& pem() const noexcept { return pem_; }
  [[nodiscard]] KeyAlgorithm algorithm() const noexcept { return algorithm_; }
  /// The DER SubjectPublicKeyInfo of the public half.
  [[nodiscard]] const std::string& public_key_der() const noexcept { return spki_der_; }
  /// The public half as "PUBLIC KEY" PEM.
  [[nodiscard]] std::string public_key_pem() const;

 private:
  PrivateKey(std::string pem, KeyAlgorithm algorithm, std::string spki_der)
      : pem_(std::move(pem)), algorithm_(algorithm), spki_der_(std::move(spki_der)) {}
  friend struct PrivateKeyAccess;

  std::string pem_;
  KeyAlgorithm algorithm_;
  std::string spki_der_;
};

}  // namespace yurt::certs
