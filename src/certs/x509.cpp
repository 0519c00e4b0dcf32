// CSRs (create, strict parse), certificates (parse, verify) and key/certificate matching.

#include <openssl/pem.h>

#include "yurt/base/strings.hpp"
#include "yurt/certs/certificate.hpp"
#include "yurt/certs/csr.hpp"
#include "yurt/certs/pem.hpp"

#include "src/certs/ossl.hpp"

namespace yurt::certs {
namespace {

using ossl::DerStatus;

constexpr std::string_view kCsrPemType = "CERTIFICATE REQUEST";
constexpr std::string_view kCertPemType = "CERTIFICATE";

std::string serial_hex(const ASN1_INTEGER* serial) {
  ossl::BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) {
    return {};
  }
  char* text = BN_bn2hex(bn.get());
  if (text == nullptr) {
    return {};
  }
  std::string out(text);
  OPENSSL_free(text);
  const bool negative = !out.empty() && out.front() == '-';
  std::string digits = negative ? out.substr(1) : out;
  const auto first = digits.find_first_not_of('0');
  digits = first == std::string::npos ? "0" : digits.substr(first);
  return negative ? "-" + digits : digits;
}

// The algorithm of a public key OpenSSL could not decode, for the message.
std::string pubkey_algorithm_oid(X509_PUBKEY* pub) {
  ASN1_OBJECT* alg = nullptr;
  if (pub != nullptr && X509_PUBKEY_get0_param(&alg, nullptr, nullptr, nullptr, pub) == 1 &&
      alg != nullptr) {
    return ossl::oid_name(alg);
  }
  return "?";
}

Result<CertificateInfo> describe_certificate(X509* x, std::string der) {
  CertificateInfo info;
  info.der = std::move(der);
  info.version = static_cast<int>(X509_get_version(x)) + 1;
  info.serial = serial_hex(X509_get0_serialNumber(x));
  auto subject = ossl::decode_name(X509_get_subject_name(x), "certificate subject");
  if (!subject) {
    return subject.error();
  }
  info.subject = std::move(*subject);
  const std::string what = "certificate " + quote(info.subject.str(), 200);
  auto issuer = ossl::decode_name(X509_get_issuer_name(x), what + " issuer");
  if (!issuer) {
    return issuer.error();
  }
  info.issuer = std::move(*issuer);
  auto not_before = ossl::to_sys_seconds(X509_get0_notBefore(x), what + " notBefore");
  if (!not_before) {
    return not_before.error();
  }
  auto not_after = ossl::to_sys_seconds(X509_get0_notAfter(x), what + " notAfter");
  if (!not_after) {
    return not_after.error();
  }
  info.not_before = *not_before;
  info.not_after = *not_after;
  if (EVP_PKEY* pkey = X509_get0_pubkey(x); pkey != nullptr) {
    auto pub = ossl::describe_public_key(pkey);
    if (!pub) {
      return pub.error();
    }
    info.public_key = std::move(*pub);
  } else {
    // A CA bundle may hold certificates with keys we cannot use; describe, don't refuse.
    ERR_clear_error();
    X509_PUBKEY* pub = X509_get_X509_PUBKEY(x);
    info.public_key.type = KeyType::Other;
    info.public_key.algorithm = pubkey_algorithm_oid(pub);
    info.public_key.spki_der = ossl::to_der(pub, i2d_X509_PUBKEY);
  }
  info.signature_algorithm = ossl::nid_long_name(X509_get_signature_nid(x));
  auto exts = ossl::decode_extensions(X509_get0_extensions(x), what);
  if (!exts) {
    return exts.error();
  }
  info.extensions = std::move(*exts);
  return info;
}

bool weak_digest(int md_nid) {
  return md_nid == NID_md5 || md_nid == NID_md4 || md_nid == NID_md2 || md_nid == NID_sha1 ||
         md_nid == NID_md5_sha1;
}

Error verify_error(X509_STORE_CTX* ctx, std::chrono::sys_seconds at) {
  const int err = X509_STORE_CTX_get_error(ctx);
  const int depth = X509_STORE_CTX_get_error_depth(ctx);
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  std::string subject = "?";
  std::string not_before;
  std::string not_after;
  if (cert != nullptr) {
    if (auto name = ossl::decode_name(X509_get_subject_name(cert), "certificate subject")) {
      subject = name->str();
    }
    if (auto t = ossl::to_sys_seconds(X509_get0_notBefore(cert), "notBefore")) {
      not_before = ossl::format_time(*t);
    }
    if (auto t = ossl::to_sys_seconds(X509_get0_notAfter(cert), "notAfter")) {
      not_after = ossl::format_time(*t);
    }
  }
  ERR_clear_error();
  const std::string who = "certificate " + quote(subject, 200) +
                          (depth > 0 ? " (chain depth " + std::to_string(depth) + ")" : "");
  const std::string when = " (verification time " + ossl::format_time(at) + ")";
  const std::string reason = X509_verify_cert_error_string(err);
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return fail(Errc::Expired, who + " expired at " + not_after + when);
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return fail(Errc::NotYetValid, who + " is not valid before " + not_before + when);
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return fail(Errc::UnknownIssuer, who + ": " + reason);
    case X509_V_ERR_INVALID_PURPOSE:
      return fail(Errc::WrongUsage, who + ": " + reason);
    default:
      return fail(Errc::InvalidChain, who + ": " + reason);
  }
}

int purpose_id(Purpose p) {
  switch (p) {
    case Purpose::ServerAuth:
      return X509_PURPOSE_SSL_SERVER;
    case Purpose::ClientAuth:
      return X509_PURPOSE_SSL_CLIENT;
    case Purpose::Any:
      break;
  }
  return 0;
}

}  // namespace

// ---- OpenSSL-level helpers shared with the CA and the store -----------------------------------

namespace ossl {

Result<X509Ptr> x509_from_der(std::string_view der, std::string_view what) {
  X509Ptr x;
  switch (from_der_exact(der, d2i_X509, x)) {
    case DerStatus::Ok:
      return x;
    case DerStatus::Trailing:
      return fail(Errc::Malformed, std::string(what) + ": trailing bytes after the certificate");
    case DerStatus::Invalid:
      break;
  }
  return error(Errc::Malformed, std::string(what) + ": invalid certificate DER");
}

Result<std::vector<X509Ptr>> load_x509s(std::string_view pem, std::string_view what) {
  auto blocks = parse_pem(pem);
  if (!blocks) {
    return Error(blocks.error().code(), std::string(what) + ": " + blocks.error().message());
  }
  std::vector<X509Ptr> out;
  for (const auto& block : *blocks) {
    const std::string where = std::string(what) + ": PEM block " + quote(block.type) + " at line " +
                              std::to_string(block.line);
    if (block.type != kCertPemType) {
      return fail(Errc::Malformed, where + " is not a certificate");
    }
    auto x = x509_from_der(block.der, where);
    if (!x) {
      return x.error();
    }
    out.push_back(std::move(*x));
  }
  return out;
}

}  // namespace ossl

// ---- CSRs -------------------------------------------------------------------------------------

Result<std::string> create_csr(const PrivateKey& key, const CsrOptions& options) {
  ossl::ErrorScope scope;
  if (options.subject.common_name.empty() && options.dns_names.empty() &&
      options.ip_addresses.empty()) {
    return fail(Errc::InvalidArgument, "CSR needs a common name or a subject alternative name");
  }
  auto pkey = ossl::to_pkey(key);
  if (!pkey) {
    return pkey.error();
  }
  auto name = ossl::make_name(options.subject);
  if (!name) {
    return name.error();
  }
  ossl::X509ReqPtr req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_subject_name(req.get(), name->get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), pkey->get()) != 1) {
    return ossl::error(Errc::Internal, "build CSR");
  }
  if (!options.dns_names.empty() || !options.ip_addresses.empty()) {
    auto sans = ossl::make_sans(options.dns_names, options.ip_addresses);
    if (!sans) {
      return sans.error();
    }
    STACK_OF(X509_EXTENSION)* raw = nullptr;
    // RFC 5280 §4.2.1.6: SANs are critical when the subject is empty.
    const int critical =
        options.subject.common_name.empty() && options.subject.organizations.empty();
    const int added =
        X509V3_add1_i2d(&raw, NID_subject_alt_name, sans->get(), critical, X509V3_ADD_DEFAULT);
    ossl::ExtStackPtr exts(raw);
    if (added != 1 || X509_REQ_add_extensions(req.get(), exts.get()) != 1) {
      return ossl::error(Errc::Internal, "add subjectAltName to CSR");
    }
  }
  if (X509_REQ_sign(req.get(), pkey->get(), ossl::digest_for(pkey->get())) <= 0) {
    return ossl::error(Errc::Internal, "sign CSR");
  }
  const std::string der = ossl::to_der(req.get(), i2d_X509_REQ);
  if (der.empty()) {
    return ossl::error(Errc::Internal, "encode CSR");
  }
  return pem_encode(kCsrPemType, der);
}

Result<CertificateRequest> parse_csr(std::string_view pem) {
  auto blocks = parse_pem(pem);
  if (!blocks) {
    return Error(blocks.error().code(), "CSR: " + blocks.error().message());
  }
  if (blocks->size() != 1) {
    return fail(Errc::Malformed,
                "CSR: expected exactly one PEM block, found " + std::to_string(blocks->size()));
  }
  const PemBlock& block = blocks->front();
  if (block.type != kCsrPemType) {
    return fail(Errc::Malformed,
                "CSR: PEM block is " + quote(block.type) + ", expected \"CERTIFICATE REQUEST\"");
  }
  if (block.has_headers) {
    return fail(Errc::Malformed, "CSR: PEM block has headers");
  }
  return parse_csr_der(block.der);
}

Result<CertificateRequest> parse_csr_der(std::string_view der) {
  ossl::ErrorScope scope;
  ossl::X509ReqPtr req;
  switch (ossl::from_der_exact(der, d2i_X509_REQ, req)) {
    case DerStatus::Trailing:
      return fail(Errc::Malformed, "CSR: trailing bytes after the request");
    case DerStatus::Invalid:
      return ossl::error(Errc::Malformed, "CSR: invalid DER");
    case DerStatus::Ok:
      break;
  }
  if (const long version = X509_REQ_get_version(req.get()); version != 0) {
    return fail(Errc::Malformed, "CSR: version field is " + std::to_string(version) +
                                     "; only 0 (version 1) is defined");
  }
  EVP_PKEY* pkey = X509_REQ_get0_pubkey(req.get());
  if (pkey == nullptr) {
    return ossl::error(Errc::Unsupported,
                       "CSR: public key of algorithm " +
                           pubkey_algorithm_oid(X509_REQ_get_X509_PUBKEY(req.get())) +
                           " cannot be decoded");
  }
  CertificateRequest out;
  out.der = std::string(der);
  auto pub = ossl::describe_public_key(pkey);
  if (!pub) {
    return pub.error();
  }
  out.public_key = std::move(*pub);
  const int sig_nid = X509_REQ_get_signature_nid(req.get());
  out.signature_algorithm = ossl::nid_long_name(sig_nid);
  int md_nid = NID_undef;
  int pk_nid = NID_undef;
  if (OBJ_find_sigid_algs(sig_nid, &md_nid, &pk_nid) != 1) {
    return fail(Errc::Unsupported, "CSR: unknown signature algorithm " + out.signature_algorithm);
  }
  if (weak_digest(md_nid)) {
    return fail(Errc::Unsupported,
                "CSR: signature algorithm " + out.signature_algorithm + " uses a broken hash");
  }
  if (X509_REQ_verify(req.get(), pkey) != 1) {
    return ossl::error(Errc::BadSignature, "CSR: signature does not verify with its public key");
  }
  auto subject = ossl::decode_name(X509_REQ_get_subject_name(req.get()), "CSR subject");
  if (!subject) {
    return subject.error();
  }
  out.subject = std::move(*subject);
  int ext_attributes = 0;
  for (int i = 0; i < X509_REQ_get_attr_count(req.get()); ++i) {
    X509_ATTRIBUTE* attr = X509_REQ_get_attr(req.get(), i);
    const ASN1_OBJECT* obj = X509_ATTRIBUTE_get0_object(attr);
    const int nid = OBJ_obj2nid(obj);
    if (nid == NID_ext_req || nid == NID_ms_ext_req) {
      ++ext_attributes;
      if (X509_ATTRIBUTE_count(attr) != 1) {
        return fail(Errc::Malformed, "CSR: extensionRequest attribute has " +
                                         std::to_string(X509_ATTRIBUTE_count(attr)) +
                                         " values; expected 1");
      }
    } else {
      out.other_attributes.push_back(ossl::oid_name(obj));
    }
  }
  if (ext_attributes > 1) {
    return fail(Errc::Malformed, "CSR: more than one extensionRequest attribute");
  }
  if (ext_attributes == 1) {
    ossl::ExtStackPtr exts(X509_REQ_get_extensions(req.get()));
    if (!exts) {
      return ossl::error(Errc::Malformed, "CSR: extensionRequest attribute does not decode");
    }
    auto decoded = ossl::decode_extensions(exts.get(), "CSR");
    if (!decoded) {
      return decoded.error();
    }
    out.extensions = std::move(*decoded);
  }
  return out;
}

// ---- certificates -----------------------------------------------------------------------------

std::string CertificateInfo::pem() const {
  return pem_encode(kCertPemType, der);
}

std::string_view to_string(Purpose p) noexcept {
  switch (p) {
    case Purpose::Any:
      return "any";
    case Purpose::ServerAuth:
      return "server auth";
    case Purpose::ClientAuth:
      return "client auth";
  }
  return "unknown";
}

Result<CertificateInfo> parse_certificate_der(std::string_view der) {
  ossl::ErrorScope scope;
  auto x = ossl::x509_from_der(der, "certificate");
  if (!x) {
    return x.error();
  }
  return describe_certificate(x->get(), std::string(der));
}

Result<std::vector<CertificateInfo>> parse_certificates(std::string_view pem) {
  auto blocks = parse_pem(pem);
  if (!blocks) {
    return blocks.error();
  }
  if (blocks->empty()) {
    return fail(Errc::Malformed, "no certificate in PEM");
  }
  std::vector<CertificateInfo> out;
  for (const auto& block : *blocks) {
    if (block.type != kCertPemType) {
      return fail(Errc::Malformed, "PEM block " + quote(block.type) + " at line " +
                                       std::to_string(block.line) + " is not a certificate");
    }
    auto info = parse_certificate_der(block.der);
    if (!info) {
      return Error(info.error().code(), "PEM block at line " + std::to_string(block.line) + ": " +
                                            info.error().message());
    }
    out.push_back(std::move(*info));
  }
  return out;
}

Result<CertificateInfo> parse_certificate(std::string_view pem) {
  auto certs = parse_certificates(pem);
  if (!certs) {
    return certs.error();
  }
  if (certs->size() != 1) {
    return fail(Errc::Malformed, "expected one certificate, found " +
                                     std::to_string(certs->size()) +
                                     " (parse_certificates reads chains)");
  }
  return std::move(certs->front());
}

Result<void> verify(std::string_view cert_chain_pem,
                    std::string_view ca_bundle_pem,
                    Purpose purpose,
                    std::chrono::system_clock::time_point at) {
  ossl::ErrorScope scope;
  auto chain = ossl::load_x509s(cert_chain_pem, "certificate chain");
  if (!chain) {
    return chain.error();
  }
  if (chain->empty()) {
    return fail(Errc::Malformed, "certificate chain is empty");
  }
  auto anchors = ossl::load_x509s(ca_bundle_pem, "CA bundle");
  if (!anchors) {
    return anchors.error();
  }
  if (anchors->empty()) {
    return fail(Errc::Malformed, "CA bundle is empty");
  }
  ossl::X509StorePtr store(X509_STORE_new());
  ossl::X509StackPtr untrusted(sk_X509_new_null());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) {
    return ossl::error(Errc::Internal, "allocate verification context");
  }
  for (const auto& ca : *anchors) {
    if (X509_STORE_add_cert(store.get(), ca.get()) != 1) {
      return ossl::error(Errc::Internal, "add CA certificate");
    }
  }
  for (std::size_t i = 1; i < chain->size(); ++i) {
    if (sk_X509_push(untrusted.get(), (*chain)[i].get()) <= 0) {
      return ossl::error(Errc::Internal, "build chain");
    }
    X509_up_ref((*chain)[i].get());
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), chain->front().get(), untrusted.get()) != 1) {
    return ossl::error(Errc::Internal, "X509_STORE_CTX_init");
  }
  const auto at_seconds = std::chrono::floor<std::chrono::seconds>(at);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at_seconds.time_since_epoch().count()));
  // Any certificate of the bundle is an anchor, intermediates too (as in Go's crypto/x509).
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  if (const int id = purpose_id(purpose); id != 0) {
    if (X509_STORE_CTX_set_purpose(ctx.get(), id) != 1) {
      return ossl::error(Errc::Internal, "set verification purpose");
    }
  }
  if (X509_verify_cert(ctx.get()) == 1) {
    return {};
  }
  return verify_error(ctx.get(), at_seconds);
}

Result<void> key_matches_certificate(const PrivateKey& key, std::string_view cert_chain_pem) {
  ossl::ErrorScope scope;
  auto chain = ossl::load_x509s(cert_chain_pem, "certificate");
  if (!chain) {
    return chain.error();
  }
  if (chain->empty()) {
    return fail(Errc::Malformed, "no certificate in PEM");
  }
  auto pkey = ossl::to_pkey(key);
  if (!pkey) {
    return pkey.error();
  }
  X509* leaf = chain->front().get();
  EVP_PKEY* cert_key = X509_get0_pubkey(leaf);
  if (cert_key != nullptr && EVP_PKEY_eq(cert_key, pkey->get()) == 1) {
    return {};
  }
  ERR_clear_error();
  std::string subject = "?";
  if (auto name = ossl::decode_name(X509_get_subject_name(leaf), "certificate subject")) {
    subject = name->str();
  }
  std::string cert_key_text = "an undecodable key";
  if (cert_key != nullptr) {
    if (auto info = ossl::describe_public_key(cert_key)) {
      cert_key_text = info->describe();
    }
  }
  return fail(Errc::KeyMismatch, "private key (" + std::string(to_string(key.algorithm())) +
                                     ") is not the key of certificate " + quote(subject, 200) +
                                     " (" + cert_key_text + ")");
}

}  // namespace yurt::certs
