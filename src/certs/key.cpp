#include "yurt/certs/key.hpp"

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "yurt/base/strings.hpp"

#include "src/certs/ossl.hpp"

namespace yurt::certs {
namespace {

Result<KeyAlgorithm> classify(EVP_PKEY* pkey) {
  auto info = ossl::describe_public_key(pkey);
  if (!info) {
    return info.error();
  }
  if (info->type == KeyType::Ecdsa) {
    if (info->curve == "P-256") {
      return KeyAlgorithm::EcdsaP256;
    }
    if (info->curve == "P-384") {
      return KeyAlgorithm::EcdsaP384;
    }
    if (info->curve == "P-521") {
      return KeyAlgorithm::EcdsaP521;
    }
  } else if (info->type == KeyType::Rsa) {
    switch (info->bits) {
      case 2048:
        return KeyAlgorithm::Rsa2048;
      case 3072:
        return KeyAlgorithm::Rsa3072;
      case 4096:
        return KeyAlgorithm::Rsa4096;
      default:
        break;
    }
  }
  return fail(Errc::Unsupported,
              "private key type " + info->describe() +
                  " is not supported (ECDSA P-256/P-384/P-521 or RSA 2048/3072/4096)");
}

Result<PrivateKey> checked(ossl::PkeyPtr pkey, std::string_view what) {
  // A torn or hand-edited key can carry a public part that does not belong to its private
  // part; such a key would sign garbage while still "matching" its certificate.
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!ctx) {
    return ossl::error(Errc::Internal, std::string(what) + ": EVP_PKEY_CTX_new_from_pkey");
  }
  if (EVP_PKEY_pairwise_check(ctx.get()) != 1) {
    return ossl::error(Errc::Malformed,
                       std::string(what) + ": the key's public and private parts do not agree");
  }
  return PrivateKeyAccess::from_pkey(pkey.get());
}

}  // namespace

Result<PrivateKey> PrivateKeyAccess::from_pkey(EVP_PKEY* pkey) {
  auto algorithm = classify(pkey);
  if (!algorithm) {
    return algorithm.error();
  }
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return ossl::error(Errc::Internal, "encode private key as PKCS#8");
  }
  std::string spki = ossl::to_der(pkey, i2d_PUBKEY);
  if (spki.empty()) {
    return ossl::error(Errc::Internal, "encode public key");
  }
  std::string pem = ossl::bio_bytes(bio.get());
  // The BIO's buffer held the key too.
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio.get(), &mem);
  if (mem != nullptr && mem->data != nullptr) {
    OPENSSL_cleanse(mem->data, mem->length);
  }
  return PrivateKey(std::move(pem), *algorithm, std::move(spki));
}

PrivateKey::~PrivateKey() {
  if (!pem_.empty()) {
    OPENSSL_cleanse(pem_.data(), pem_.size());
  }
}

Result<PrivateKey> PrivateKey::generate(KeyAlgorithm algorithm) {
  ossl::ErrorScope scope;
  EVP_PKEY* raw = nullptr;
  switch (algorithm) {
    case KeyAlgorithm::EcdsaP256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyAlgorithm::EcdsaP384:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
    case KeyAlgorithm::EcdsaP521:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
      break;
    case KeyAlgorithm::Rsa2048:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
      break;
    case KeyAlgorithm::Rsa3072:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{3072});
      break;
    case KeyAlgorithm::Rsa4096:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{4096});
      break;
  }
  ossl::PkeyPtr pkey(raw);
  if (!pkey) {
    return ossl::error(Errc::Internal, "generate " + std::string(to_string(algorithm)) + " key");
  }
  return PrivateKeyAccess::from_pkey(pkey.get());
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  auto blocks = parse_pem(pem);
  if (!blocks) {
    return blocks.error();
  }
  const PemBlock* key_block = nullptr;
  for (const auto& block : *blocks) {
    if (block.type == "EC PARAMETERS") {
      continue;  // emitted by `openssl ecparam -genkey` before the key; the key repeats them
    }
    if (block.type == "ENCRYPTED PRIVATE KEY" || ossl::is_private_key_type(block.type)) {
      if (key_block != nullptr) {
        return fail(Errc::Malformed,
                    "second private key in PEM block at line " + std::to_string(block.line));
      }
      key_block = &block;
      continue;
    }
    return fail(Errc::Malformed, "unexpected PEM block " + quote(block.type) + " at line " +
                                     std::to_string(block.line) + " in a key");
  }
  if (key_block == nullptr) {
    return fail(Errc::Malformed, "no private key in PEM");
  }
  return ossl::private_key_from_block(*key_block, "private key");
}

Result<PrivateKey> PrivateKey::from_pkcs8_der(std::string_view der) {
  return ossl::private_key_from_block(PemBlock{"PRIVATE KEY", std::string(der), 0, false},
                                      "private key");
}

std::string PrivateKey::public_key_pem() const {
  return pem_encode("PUBLIC KEY", spki_der_);
}

namespace ossl {

bool is_private_key_type(std::string_view pem_type) noexcept {
  return pem_type == "PRIVATE KEY" || pem_type == "EC PRIVATE KEY" || pem_type == "RSA PRIVATE KEY";
}

Result<PrivateKey> private_key_from_block(const PemBlock& block, std::string_view what) {
  ErrorScope scope;
  const std::string where =
      std::string(what) + (block.line > 0 ? " (PEM block " + quote(block.type) + " at line " +
                                                std::to_string(block.line) + ")"
                                          : std::string());
  if (block.type == "ENCRYPTED PRIVATE KEY" || block.has_headers) {
    return fail(Errc::Unsupported, where + " is encrypted; only unencrypted keys are supported");
  }
  PkeyPtr pkey;
  DerStatus status = DerStatus::Invalid;
  if (block.type == "PRIVATE KEY") {
    Pkcs8Ptr p8;
    status = from_der_exact(block.der, d2i_PKCS8_PRIV_KEY_INFO, p8);
    if (status == DerStatus::Ok) {
      pkey.reset(EVP_PKCS82PKEY(p8.get()));
      if (!pkey) {
        return error(Errc::Unsupported, where + ": PKCS#8 key of an algorithm we cannot decode");
      }
    }
  } else if (block.type == "EC PRIVATE KEY" || block.type == "RSA PRIVATE KEY") {
    const int type = block.type == "EC PRIVATE KEY" ? EVP_PKEY_EC : EVP_PKEY_RSA;
    status = from_der_exact(
        block.der,
        [type](EVP_PKEY** a, const unsigned char** pp, long len) {
          return d2i_PrivateKey(type, a, pp, len);
        },
        pkey);
  } else {
    return fail(Errc::Malformed, where + ": not a private key block");
  }
  if (status == DerStatus::Trailing) {
    return fail(Errc::Malformed, where + ": trailing bytes after the key");
  }
  if (status != DerStatus::Ok) {
    return error(Errc::Malformed, where + ": invalid DER");
  }
  return checked(std::move(pkey), where);
}

}  // namespace ossl
}  // namespace yurt::certs
