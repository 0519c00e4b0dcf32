#pragma once

// OpenSSL RAII and the decoding shared by keys, CSRs and certificates. Private to the certs
// module: public headers carry PEM/DER bytes and value types only.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "yurt/base/result.hpp"
#include "yurt/certs/errc.hpp"
#include "yurt/certs/key.hpp"
#include "yurt/certs/pem.hpp"
#include "yurt/certs/x509.hpp"

namespace yurt::certs {

/// Converts between PrivateKey (PEM bytes) and EVP_PKEY; the only code allowed to build one.
struct PrivateKeyAccess {
  /// Wraps an EVP_PKEY of one of our KeyAlgorithms (Unsupported otherwise).
  [[nodiscard]] static Result<PrivateKey> from_pkey(EVP_PKEY* pkey);
};

namespace ossl {

template <class T, auto Free>
struct Deleter {
  void operator()(T* p) const noexcept { Free(p); }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using X509ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using X509StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using X509PubkeyPtr = std::unique_ptr<X509_PUBKEY, Deleter<X509_PUBKEY, X509_PUBKEY_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME, GENERAL_NAME_free>>;
using BasicConstraintsPtr =
    std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>>;
using ExtKeyUsagePtr =
    std::unique_ptr<EXTENDED_KEY_USAGE, Deleter<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER, ASN1_INTEGER_free>>;
using Asn1OctetStringPtr =
    std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;
using Asn1BitStringPtr =
    std::unique_ptr<ASN1_BIT_STRING, Deleter<ASN1_BIT_STRING, ASN1_BIT_STRING_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME, ASN1_TIME_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT, ASN1_OBJECT_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Pkcs8Ptr =
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, Deleter<PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free>>;
using AuthorityKeyIdPtr =
    std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID, AUTHORITY_KEYID_free>>;

inline void free_bio(BIO* b) noexcept {
  BIO_free_all(b);
}
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, free_bio>>;

inline void free_ext_stack(STACK_OF(X509_EXTENSION) * s) noexcept {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}
using ExtStackPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<STACK_OF(X509_EXTENSION), free_ext_stack>>;

inline void free_x509_stack(STACK_OF(X509) * s) noexcept {
  sk_X509_pop_free(s, X509_free);
}
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Deleter<STACK_OF(X509), free_x509_stack>>;

/// Clears the thread's OpenSSL error queue on entry and exit, so a failure message carries only
/// this operation's reasons and we leave no stale errors to other code on the thread.
class ErrorScope {
 public:
  ErrorScope() noexcept { ERR_clear_error(); }
  ErrorScope(const ErrorScope&) = delete;
  ErrorScope& operator=(const ErrorScope&) = delete;
  ~ErrorScope() { ERR_clear_error(); }
};

/// Drains the error queue into "reason; reason" (library and reason text); "" when empty.
[[nodiscard]] std::string error_text();

/// `what` + ": " + the drained queue (when non-empty), under `code`.
[[nodiscard]] Error error(Errc code, std::string what);

/// Bytes of a memory BIO.
[[nodiscard]] std::string bio_bytes(BIO* bio);

/// i2d into a string. Returns "" on failure (callers treat that as Internal).
template <class T, class F>
[[nodiscard]] std::string to_der(const T* object, F i2d) {
  unsigned char* out = nullptr;
  const int n = i2d(object, &out);
  if (n <= 0 || out == nullptr) {
    return {};
  }
  std::string der(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return der;
}

/// Outcome of a strict DER decode.
enum class DerStatus { Ok, Invalid, Trailing };

/// d2i that must consume exactly `der`: trailing bytes after the structure are an error
/// (OpenSSL's d2i functions silently ignore them).
template <class Ptr, class F>
[[nodiscard]] DerStatus from_der_exact(std::string_view der, F d2i, Ptr& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const auto* const end = p + der.size();
  Ptr object(d2i(nullptr, &p, static_cast<long>(der.size())));
  if (!object) {
    return DerStatus::Invalid;
  }
  if (p != end) {
    return DerStatus::Trailing;
  }
  out = std::move(object);
  return DerStatus::Ok;
}

/// OpenSSL's long name of a NID ("ecdsa-with-SHA256"), "unknown" when it has none.
[[nodiscard]] inline std::string nid_long_name(int nid) {
  const char* name = OBJ_nid2ln(nid);
  return name != nullptr ? name : "unknown";
}

/// Dotted OID text ("2.5.29.17").
[[nodiscard]] std::string oid_dotted(const ASN1_OBJECT* obj);
/// OpenSSL's short name ("subjectAltName", "CN") or the dotted OID when it has none.
[[nodiscard]] std::string oid_name(const ASN1_OBJECT* obj);

/// X.509 time to seconds since the epoch (UTC).
[[nodiscard]] Result<std::chrono::sys_seconds> to_sys_seconds(const ASN1_TIME* t,
                                                              std::string_view what);
/// Seconds since the epoch to an ASN1_TIME (UTCTime until 2049, GeneralizedTime after, as RFC
/// 5280 requires).
[[nodiscard]] Asn1TimePtr to_asn1_time(std::chrono::sys_seconds t);

/// RFC 3339 UTC text of a time, for messages.
[[nodiscard]] std::string format_time(std::chrono::sys_seconds t);

/// Decodes a name strictly (control characters, several CNs are Malformed). `what` prefixes
/// messages ("CSR subject").
[[nodiscard]] Result<DistinguishedName> decode_name(const X509_NAME* name, std::string_view what);

/// Decodes a list of extensions strictly (duplicates, undecodable known extensions, bad SANs
/// are Malformed). `what` prefixes messages.
[[nodiscard]] Result<Extensions> decode_extensions(const STACK_OF(X509_EXTENSION) * exts,
                                                   std::string_view what);

/// Describes a public key (type, size, curve, SPKI DER).
[[nodiscard]] Result<PublicKeyInfo> describe_public_key(EVP_PKEY* pkey);

/// PEM block types holding an unencrypted private key we read.
[[nodiscard]] bool is_private_key_type(std::string_view pem_type) noexcept;

/// Decodes one private-key PEM block ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY").
/// `what` prefixes messages. Errors as PrivateKey::from_pem.
[[nodiscard]] Result<PrivateKey> private_key_from_block(const PemBlock& block,
                                                        std::string_view what);

/// Decodes a PrivateKey's PEM (always ours, hence valid) into an EVP_PKEY.
[[nodiscard]] Result<PkeyPtr> to_pkey(const PrivateKey& key);

/// Builds a subject name (UTF8String values). Errors: InvalidArgument for control characters.
[[nodiscard]] Result<X509NamePtr> make_name(const Subject& subject);

/// Builds GENERAL_NAMES for a subjectAltName from DNS names and textual IPs. Errors:
/// InvalidArgument (empty or non-printable DNS name, unparsable IP).
[[nodiscard]] Result<GeneralNamesPtr> make_sans(const std::vector<std::string>& dns_names,
                                                const std::vector<std::string>& ip_addresses,
                                                const std::vector<std::string>& emails = {},
                                                const std::vector<std::string>& uris = {});

/// The digest to sign with `key`: SHA-256, SHA-384 for P-384, SHA-512 for P-521.
[[nodiscard]] const EVP_MD* digest_for(EVP_PKEY* key);

/// Decodes the certificates of a PEM text (only "CERTIFICATE" blocks allowed; `what` names the
/// text in messages: "certificate chain", "CA bundle"). May be empty.
[[nodiscard]] Result<std::vector<X509Ptr>> load_x509s(std::string_view pem, std::string_view what);

/// Decodes one DER certificate strictly.
[[nodiscard]] Result<X509Ptr> x509_from_der(std::string_view der, std::string_view what);

/// Hex text of bytes.
[[nodiscard]] std::string hex(std::string_view bytes, bool upper = false);

}  // namespace ossl
}  // namespace yurt::certs
