#pragma once

// Helpers shared by the certs tests: error assertions, a fixed clock, throwaway CAs, and
// OpenSSL-level forgery of inputs our own API would never produce (garbage for the parsers).

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "yurt/certs/authority.hpp"
#include "yurt/certs/errc.hpp"
#include "yurt/certs/key.hpp"
#include "yurt/certs/pem.hpp"

#include "test/fakes/fake_clock.hpp"

namespace yurt::certs::testing {

/// The result failed with `code` and, when given, a message containing `needle`.
template <class R>
::testing::AssertionResult fails_with(const R& r, Errc code, std::string_view needle = {}) {
  if (r) {
    return ::testing::AssertionFailure()
           << "succeeded; expected " << make_error_code(code).message();
  }
  if (r.error().code() != make_error_code(code)) {
    return ::testing::AssertionFailure() << "failed with " << r.error().what() << "; expected "
                                         << make_error_code(code).message();
  }
  if (!needle.empty() && r.error().message().find(needle) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message lacks \"" << needle << "\": " << r.error().message();
  }
  return ::testing::AssertionSuccess();
}

/// Unwraps a Result in a test (fails the test with the error text when it is an error).
template <class R>
auto must(R&& r) -> std::remove_cvref_t<decltype(*r)> {
  if (!r) {
    ADD_FAILURE() << "unexpected error: " << r.error().what();
    throw std::runtime_error(r.error().what());
  }
  return std::move(*r);
}

inline std::chrono::sys_seconds at(std::chrono::seconds since_start) {
  return std::chrono::sys_seconds{FakeClock::kStartWall} + since_start;
}

/// A root CA at FakeClock's start (2024-01-01), valid 10 years; made once per process because
/// key generation is the slow part of these tests.
inline const CertificateAuthority& shared_ca() {
  static const FakeClock clock;
  static const CertificateAuthority ca = [] {
    auto made = CertificateAuthority::create_root({"yurt-test-ca", {"yurt"}},
                                                  std::chrono::hours(24 * 3650), clock);
    if (!made) {
      throw std::runtime_error(made.error().what());
    }
    return std::move(*made);
  }();
  return ca;
}

// ---- OpenSSL-level forgery ----------------------------------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline Pkey pkey_of(const PrivateKey& key) {
  BIO* bio = BIO_new_mem_buf(key.pem().data(), static_cast<int>(key.pem().size()));
  Pkey pkey(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return pkey;
}

inline std::string der_of_req(X509_REQ* req) {
  unsigned char* out = nullptr;
  const int n = i2d_X509_REQ(req, &out);
  std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return der;
}

/// What a hand-made CSR holds.
struct Forge {
  std::vector<std::pair<std::string, std::string>> subject;  ///< ("CN", "x"), in order
  /// Extensions as OpenSSL config: (NID, "critical,CA:TRUE"); duplicates are kept.
  std::vector<std::pair<int, std::string>> extensions;
  const EVP_MD* digest = EVP_sha256();
  bool challenge_password = false;
};

/// A CSR built directly with OpenSSL, signed by `key`; DER.
inline std::string forge_csr_der(const PrivateKey& key, const Forge& f) {
  Pkey pkey = pkey_of(key);
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_version(req, 0);
  X509_NAME* name = X509_REQ_get_subject_name(req);
  for (const auto& [type, value] : f.subject) {
    X509_NAME_add_entry_by_txt(name, type.c_str(), MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(value.data()),
                               static_cast<int>(value.size()), -1, 0);
  }
  X509_REQ_set_pubkey(req, pkey.get());
  if (!f.extensions.empty()) {
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    for (const auto& [nid, conf] : f.extensions) {
      X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, nullptr, nid, conf.c_str());
      if (ext == nullptr) {
        ADD_FAILURE() << "cannot build extension " << conf;
        continue;
      }
      sk_X509_EXTENSION_push(exts, ext);
    }
    X509_REQ_add_extensions(req, exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  if (f.challenge_password) {
    X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_ASC,
                              reinterpret_cast<const unsigned char*>("secret"), 6);
  }
  X509_REQ_sign(req, pkey.get(), f.digest);
  std::string der = der_of_req(req);
  X509_REQ_free(req);
  return der;
}

inline std::string forge_csr(const PrivateKey& key, const Forge& f) {
  return pem_encode("CERTIFICATE REQUEST", forge_csr_der(key, f));
}

/// One shared key per algorithm (generation is slow, especially RSA under sanitizers).
inline const PrivateKey& test_key(KeyAlgorithm a = KeyAlgorithm::EcdsaP256) {
  static const PrivateKey p256 = *PrivateKey::generate(KeyAlgorithm::EcdsaP256);
  static const PrivateKey p384 = *PrivateKey::generate(KeyAlgorithm::EcdsaP384);
  switch (a) {
    case KeyAlgorithm::EcdsaP384:
      return p384;
    case KeyAlgorithm::Rsa2048: {
      static const PrivateKey rsa = *PrivateKey::generate(KeyAlgorithm::Rsa2048);
      return rsa;
    }
    default:
      return p256;
  }
}

}  // namespace yurt::certs::testing
