#include "yurt/certs/key.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "yurt/certs/pem.hpp"

#include "test/unit/certs/test_util.hpp"

namespace yurt::certs {
namespace {

using testing::fails_with;
using testing::pkey_of;
using testing::test_key;

// The key in OpenSSL's "type-specific" DER: SEC1 for EC, PKCS#1 for RSA.
std::string traditional_der(const PrivateKey& key) {
  auto pkey = pkey_of(key);
  unsigned char* out = nullptr;
  const int n = i2d_PrivateKey(pkey.get(), &out);
  std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return der;
}

std::string pkcs8_der(EVP_PKEY* pkey) {
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(pkey);
  unsigned char* out = nullptr;
  const int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &out);
  std::string der(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  PKCS8_PRIV_KEY_INFO_free(p8);
  return der;
}

TEST(PrivateKey, GeneratesEveryEcCurveAsPkcs8) {
  for (const auto a : {KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384, KeyAlgorithm::EcdsaP521}) {
    auto key = PrivateKey::generate(a);
    ASSERT_TRUE(key) << key.error().what();
    EXPECT_EQ(key->algorithm(), a);
    EXPECT_TRUE(key->pem().starts_with("-----BEGIN PRIVATE KEY-----\n")) << key->pem();
    EXPECT_FALSE(key->public_key_der().empty());
    auto again = PrivateKey::from_pem(key->pem());
    ASSERT_TRUE(again) << again.error().what();
    EXPECT_EQ(again->pem(), key->pem());
    EXPECT_EQ(again->public_key_der(), key->public_key_der());
  }
}

TEST(PrivateKey, GeneratesRsa2048) {
  const PrivateKey& key = test_key(KeyAlgorithm::Rsa2048);
  EXPECT_EQ(key.algorithm(), KeyAlgorithm::Rsa2048);
  auto again = PrivateKey::from_pem(key.pem());
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_EQ(again->algorithm(), KeyAlgorithm::Rsa2048);
}

TEST(PrivateKey, DefaultIsP256AndKeysDiffer) {
  auto a = PrivateKey::generate();
  auto b = PrivateKey::generate();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->algorithm(), KeyAlgorithm::EcdsaP256);
  EXPECT_NE(a->public_key_der(), b->public_key_der());
}

TEST(PrivateKey, PublicKeyPemIsASubjectPublicKeyInfo) {
  const PrivateKey& key = test_key();
  auto blocks = parse_pem(key.public_key_pem());
  ASSERT_TRUE(blocks);
  ASSERT_EQ(blocks->size(), 1U);
  EXPECT_EQ(blocks->front().type, "PUBLIC KEY");
  EXPECT_EQ(blocks->front().der, key.public_key_der());
}

TEST(PrivateKey, LoadsSec1AndPkcs1) {
  const PrivateKey& ec = test_key();
  auto sec1 = PrivateKey::from_pem(pem_encode("EC PRIVATE KEY", traditional_der(ec)));
  ASSERT_TRUE(sec1) << sec1.error().what();
  EXPECT_EQ(sec1->public_key_der(), ec.public_key_der());
  EXPECT_EQ(sec1->pem(), ec.pem()) << "normalised to PKCS#8";

  const PrivateKey& rsa = test_key(KeyAlgorithm::Rsa2048);
  auto pkcs1 = PrivateKey::from_pem(pem_encode("RSA PRIVATE KEY", traditional_der(rsa)));
  ASSERT_TRUE(pkcs1) << pkcs1.error().what();
  EXPECT_EQ(pkcs1->public_key_der(), rsa.public_key_der());
}

TEST(PrivateKey, SkipsEcParametersBlock) {
  const PrivateKey& ec = test_key();
  // What `openssl ecparam -name prime256v1 -genkey` prints: the curve OID, then the key.
  const std::string params =
      pem_encode("EC PARAMETERS", std::string("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10));
  auto key = PrivateKey::from_pem(params + pem_encode("EC PRIVATE KEY", traditional_der(ec)));
  ASSERT_TRUE(key) << key.error().what();
  EXPECT_EQ(key->public_key_der(), ec.public_key_der());
}

TEST(PrivateKey, LoadsPkcs8Der) {
  auto blocks = parse_pem(test_key().pem());
  ASSERT_TRUE(blocks);
  auto key = PrivateKey::from_pkcs8_der(blocks->front().der);
  ASSERT_TRUE(key) << key.error().what();
  EXPECT_EQ(key->public_key_der(), test_key().public_key_der());
}

TEST(PrivateKey, RefusesEd25519AndSmallRsa) {
  EVP_PKEY* ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(ed, nullptr);
  EXPECT_TRUE(fails_with(PrivateKey::from_pem(pem_encode("PRIVATE KEY", pkcs8_der(ed))),
                         Errc::Unsupported, "Ed25519"));
  EVP_PKEY_free(ed);
  EVP_PKEY* small = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024});
  ASSERT_NE(small, nullptr);
  EXPECT_TRUE(fails_with(PrivateKey::from_pem(pem_encode("PRIVATE KEY", pkcs8_der(small))),
                         Errc::Unsupported, "RSA 1024"));
  EVP_PKEY_free(small);
}

TEST(PrivateKey, RefusesEncryptedKeys) {
  EXPECT_TRUE(fails_with(PrivateKey::from_pem(pem_encode("ENCRYPTED PRIVATE KEY", "x")),
                         Errc::Unsupported, "encrypted"));
  EXPECT_TRUE(fails_with(
      PrivateKey::from_pem("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                           "DEK-Info: AES-128-CBC,00\n\nYWJj\n-----END EC PRIVATE KEY-----\n"),
      Errc::Unsupported, "encrypted"));
}

TEST(PrivateKey, RejectsGarbage) {
  EXPECT_TRUE(fails_with(PrivateKey::from_pem(""), Errc::Malformed, "no private key"));
  EXPECT_TRUE(fails_with(PrivateKey::from_pem("not a key"), Errc::Malformed, "text outside"));
  EXPECT_TRUE(fails_with(PrivateKey::from_pem(pem_encode("PRIVATE KEY", "garbage")),
                         Errc::Malformed, "invalid DER"));
  EXPECT_TRUE(fails_with(PrivateKey::from_pem(pem_encode("CERTIFICATE", "x")), Errc::Malformed,
                         "unexpected PEM block \"CERTIFICATE\""));
  EXPECT_TRUE(fails_with(PrivateKey::from_pem(test_key().pem() + test_key().pem()), Errc::Malformed,
                         "second private key"));
  const std::string pem = test_key().pem();
  EXPECT_TRUE(fails_with(PrivateKey::from_pem(pem.substr(0, pem.size() / 2)), Errc::Malformed,
                         "truncated"));
}

TEST(PrivateKey, RejectsTrailingBytesAfterTheKey) {
  auto blocks = parse_pem(test_key().pem());
  ASSERT_TRUE(blocks);
  EXPECT_TRUE(fails_with(PrivateKey::from_pem(pem_encode("PRIVATE KEY", blocks->front().der + "x")),
                         Errc::Malformed, "trailing bytes"));
  const std::string sec1 = traditional_der(test_key());
  EXPECT_TRUE(
      fails_with(PrivateKey::from_pem(pem_encode("EC PRIVATE KEY", sec1 + "x")), Errc::Malformed));
}

TEST(PrivateKey, RejectsAKeyWhosePublicPartIsAnotherKeys) {
  // SEC1 ends with the public point (65 bytes for P-256): graft another key's point on.
  const std::string a = traditional_der(test_key());
  auto other = PrivateKey::generate();
  ASSERT_TRUE(other);
  const std::string b = traditional_der(*other);
  ASSERT_EQ(a.size(), b.size());
  const std::string franken = a.substr(0, a.size() - 65) + b.substr(b.size() - 65);
  EXPECT_TRUE(fails_with(PrivateKey::from_pem(pem_encode("EC PRIVATE KEY", franken)),
                         Errc::Malformed, "do not agree"));
}

TEST(PrivateKey, DescribesAlgorithms) {
  EXPECT_EQ(to_string(KeyAlgorithm::EcdsaP256), "ECDSA P-256");
  EXPECT_EQ(to_string(KeyAlgorithm::Rsa4096), "RSA 4096");
  PublicKeyInfo info;
  info.type = KeyType::Ecdsa;
  info.curve = "P-384";
  EXPECT_EQ(info.describe(), "ECDSA P-384");
  info = {};
  info.type = KeyType::Rsa;
  info.bits = 2048;
  EXPECT_EQ(info.describe(), "RSA 2048");
}

}  // namespace
}  // namespace yurt::certs
