#include "yurt/certs/authority.hpp"

#include <openssl/rand.h>

#include "yurt/base/strings.hpp"
#include "yurt/certs/certificate.hpp"
#include "yurt/certs/csr.hpp"
#include "yurt/certs/pem.hpp"

#include "src/certs/ossl.hpp"

namespace yurt::certs {
namespace {

using std::chrono::seconds;
using std::chrono::sys_seconds;

// What goes into one certificate, OpenSSL objects borrowed from the caller.
struct Template {
  EVP_PKEY* public_key = nullptr;
  const X509_NAME* subject = nullptr;
  const GENERAL_NAMES* sans = nullptr;  // nullable
  std::vector<Usage> usages;
  bool is_ca = false;
  std::optional<int> path_len;
  sys_seconds not_before{};
  sys_seconds not_after{};
};

// OpenSSL's configuration names for the keyUsage bits and extendedKeyUsage purposes.
std::string_view conf_name(Usage u) {
  switch (u) {
    case Usage::DigitalSignature:
      return "digitalSignature";
    case Usage::ContentCommitment:
      return "nonRepudiation";
    case Usage::KeyEncipherment:
      return "keyEncipherment";
    case Usage::KeyAgreement:
      return "keyAgreement";
    case Usage::DataEncipherment:
      return "dataEncipherment";
    case Usage::CertSign:
      return "keyCertSign";
    case Usage::CrlSign:
      return "cRLSign";
    case Usage::EncipherOnly:
      return "encipherOnly";
    case Usage::DecipherOnly:
      return "decipherOnly";
    case Usage::Any:
      return "anyExtendedKeyUsage";
    case Usage::ServerAuth:
      return "serverAuth";
    case Usage::ClientAuth:
      return "clientAuth";
    case Usage::CodeSigning:
      return "codeSigning";
    case Usage::EmailProtection:
      return "emailProtection";
    case Usage::IpsecEndSystem:
      return "ipsecEndSystem";
    case Usage::IpsecTunnel:
      return "ipsecTunnel";
    case Usage::IpsecUser:
      return "ipsecUser";
    case Usage::Timestamping:
      return "timeStamping";
    case Usage::OcspSigning:
      return "OCSPSigning";
    case Usage::MicrosoftSgc:
      return "msSGC";
    case Usage::NetscapeSgc:
      return "nsSGC";
  }
  return "";
}

Result<void> add_conf_ext(X509* x, X509V3_CTX* ctx, int nid, const std::string& value) {
  ossl::X509ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(x, ext.get(), -1) != 1) {
    return ossl::error(Errc::Internal, std::string("add extension ") + OBJ_nid2sn(nid));
  }
  return {};
}

// A positive serial of 127 random bits (RFC 5280 allows 20 octets; CAs use ≥ 64 random bits so
// that serials cannot be predicted).
Result<ossl::Asn1IntegerPtr> random_serial() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return ossl::error(Errc::Internal, "random serial");
  }
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;  // never zero, and a fixed length
  ossl::BignumPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  ossl::Asn1IntegerPtr serial(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!serial) {
    return ossl::error(Errc::Internal, "encode serial");
  }
  return serial;
}

// Issues one certificate. `issuer` null = self-signed (signed by `issuer_key`, which must then
// be the key of t.public_key).
Result<std::string> build(X509* issuer, EVP_PKEY* issuer_key, const Template& t) {
  if (t.not_after <= t.not_before) {
    return fail(Errc::InvalidArgument, "validity must be positive");
  }
  if (t.path_len && (!t.is_ca || *t.path_len < 0)) {
    return fail(Errc::InvalidArgument, "path_len needs is_ca and must be ≥ 0");
  }
  ossl::X509Ptr x(X509_new());
  auto serial = random_serial();
  if (!serial) {
    return serial.error();
  }
  auto not_before = ossl::to_asn1_time(t.not_before);
  auto not_after = ossl::to_asn1_time(t.not_after);
  if (!not_before || !not_after) {
    return fail(Errc::InvalidArgument, "validity outside what X.509 can encode");
  }
  if (!x || X509_set_version(x.get(), 2) != 1 ||
      X509_set_serialNumber(x.get(), serial->get()) != 1 ||
      X509_set_subject_name(x.get(), t.subject) != 1 ||
      X509_set_issuer_name(x.get(),
                           issuer != nullptr ? X509_get_subject_name(issuer) : t.subject) != 1 ||
      X509_set1_notBefore(x.get(), not_before.get()) != 1 ||
      X509_set1_notAfter(x.get(), not_after.get()) != 1 ||
      X509_set_pubkey(x.get(), t.public_key) != 1) {
    return ossl::error(Errc::Internal, "build certificate");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  std::string bc = t.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
  if (t.path_len) {
    bc += ",pathlen:" + std::to_string(*t.path_len);
  }
  std::string ku;
  std::string eku;
  for (const Usage u : t.usages) {
    std::string& list = is_key_usage(u) ? ku : eku;
    list += list.empty() ? "" : ",";
    list += conf_name(u);
  }
  if (auto ok = add_conf_ext(x.get(), &ctx, NID_basic_constraints, bc); !ok) {
    return ok.error();
  }
  if (!ku.empty()) {
    if (auto ok = add_conf_ext(x.get(), &ctx, NID_key_usage, "critical," + ku); !ok) {
      return ok.error();
    }
  }
  if (!eku.empty()) {
    if (auto ok = add_conf_ext(x.get(), &ctx, NID_ext_key_usage, eku); !ok) {
      return ok.error();
    }
  }
  if (auto ok = add_conf_ext(x.get(), &ctx, NID_subject_key_identifier, "hash"); !ok) {
    return ok.error();
  }
  if (issuer != nullptr) {
    // "keyid", not "keyid:always": a loaded CA without subjectKeyIdentifier still issues.
    if (auto ok = add_conf_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid"); !ok) {
      return ok.error();
    }
  }
  if (t.sans != nullptr && sk_GENERAL_NAME_num(t.sans) > 0) {
    // RFC 5280 §4.2.1.6: critical when the subject is empty.
    const int critical = X509_NAME_entry_count(t.subject) == 0 ? 1 : 0;
    if (X509_add1_ext_i2d(x.get(), NID_subject_alt_name, const_cast<GENERAL_NAMES*>(t.sans),
                          critical, X509V3_ADD_DEFAULT) != 1) {
      return ossl::error(Errc::Internal, "add subjectAltName");
    }
  }
  if (X509_sign(x.get(), issuer_key, ossl::digest_for(issuer_key)) <= 0) {
    return ossl::error(Errc::Internal, "sign certificate");
  }
  const std::string der = ossl::to_der(x.get(), i2d_X509);
  if (der.empty()) {
    return ossl::error(Errc::Internal, "encode certificate");
  }
  return pem_encode("CERTIFICATE", der);
}

struct Window {
  sys_seconds not_before;
  sys_seconds not_after;
};

Result<Window> window(const Clock& clock,
                      std::optional<sys_seconds> not_before,
                      seconds validity,
                      seconds backdate) {
  if (validity <= seconds::zero()) {
    return fail(Errc::InvalidArgument, "validity must be positive");
  }
  if (not_before) {
    return Window{*not_before, *not_before + validity};
  }
  const auto now = std::chrono::floor<seconds>(clock.now());
  return Window{now - backdate, now + validity};
}

Result<ossl::PkeyPtr> pkey_from_spki(std::string_view spki_der) {
  ossl::PkeyPtr pkey;
  if (ossl::from_der_exact(spki_der, d2i_PUBKEY, pkey) != ossl::DerStatus::Ok) {
    return ossl::error(Errc::Malformed, "public key: invalid SubjectPublicKeyInfo DER");
  }
  return pkey;
}

}  // namespace

Result<CertificateAuthority> CertificateAuthority::create_root(const Subject& subject,
                                                               std::chrono::seconds validity,
                                                               const Clock& clock,
                                                               KeyAlgorithm key_algorithm) {
  ossl::ErrorScope scope;
  auto key = PrivateKey::generate(key_algorithm);
  if (!key) {
    return key.error();
  }
  auto pkey = ossl::to_pkey(*key);
  if (!pkey) {
    return pkey.error();
  }
  auto name = ossl::make_name(subject);
  if (!name) {
    return name.error();
  }
  if (X509_NAME_entry_count(name->get()) == 0) {
    return fail(Errc::InvalidArgument, "a CA needs a subject");
  }
  auto w = window(clock, std::nullopt, validity, std::chrono::minutes(5));
  if (!w) {
    return w.error();
  }
  Template t{pkey->get(),   name->get(),
             nullptr,       {Usage::DigitalSignature, Usage::CertSign, Usage::CrlSign},
             true,          std::nullopt,
             w->not_before, w->not_after};
  auto pem = build(nullptr, pkey->get(), t);
  if (!pem) {
    return pem.error();
  }
  std::string root = *pem;
  return CertificateAuthority(std::move(*pem), std::string(), std::move(root), std::move(*key),
                              clock);
}

Result<CertificateAuthority> CertificateAuthority::load(std::string_view cert_chain_pem,
                                                        const PrivateKey& key,
                                                        const Clock& clock) {
  ossl::ErrorScope scope;
  auto certs = parse_certificates(cert_chain_pem);
  if (!certs) {
    return certs.error();
  }
  if (!certs->front().is_ca()) {
    return fail(Errc::InvalidArgument, "certificate " + quote(certs->front().subject.str(), 200) +
                                           " is not a CA (no basicConstraints CA:TRUE)");
  }
  if (auto ok = key_matches_certificate(key, cert_chain_pem); !ok) {
    return ok.error();
  }
  const CertificateInfo& last = certs->back();
  const bool ends_with_root = last.subject == last.issuer;
  std::string chain;
  const std::size_t chain_len = ends_with_root ? certs->size() - 1 : certs->size();
  for (std::size_t i = 0; i < chain_len; ++i) {
    chain += (*certs)[i].pem();
  }
  return CertificateAuthority(certs->front().pem(), std::move(chain), last.pem(), key, clock);
}

Result<CertificateAuthority> CertificateAuthority::create_intermediate(
    const Subject& subject,
    std::chrono::seconds validity,
    KeyAlgorithm key_algorithm,
    std::optional<int> path_len) const {
  IssueOptions options;
  options.subject = subject;
  options.usages = {Usage::DigitalSignature, Usage::CertSign, Usage::CrlSign};
  options.is_ca = true;
  options.path_len = path_len;
  options.validity = validity;
  options.key_algorithm = key_algorithm;
  if (subject.common_name.empty() && subject.organizations.empty()) {
    return fail(Errc::InvalidArgument, "a CA needs a subject");
  }
  auto issued = issue(options);
  if (!issued) {
    return issued.error();
  }
  return CertificateAuthority(issued->certificate_pem, issued->certificate_pem + chain_pem_,
                              root_pem_, std::move(issued->key), *clock_);
}

Result<IssuedCertificate> CertificateAuthority::issue(const IssueOptions& options) const {
  auto key = PrivateKey::generate(options.key_algorithm);
  if (!key) {
    return key.error();
  }
  auto pem = issue_for_key(key->public_key_der(), options);
  if (!pem) {
    return pem.error();
  }
  std::string chain = *pem + chain_pem_;
  return IssuedCertificate{std::move(*key), std::move(*pem), std::move(chain)};
}

Result<std::string> CertificateAuthority::issue_for_key(std::string_view spki_der,
                                                        const IssueOptions& options) const {
  ossl::ErrorScope scope;
  if (options.subject.common_name.empty() && options.subject.organizations.empty() &&
      options.dns_names.empty() && options.ip_addresses.empty()) {
    return fail(Errc::InvalidArgument, "certificate needs a subject or a subject alternative name");
  }
  auto w = window(*clock_, options.not_before, options.validity, options.backdate);
  if (!w) {
    return w.error();
  }
  auto subject_key = pkey_from_spki(spki_der);
  if (!subject_key) {
    return subject_key.error();
  }
  auto name = ossl::make_name(options.subject);
  if (!name) {
    return name.error();
  }
  auto sans = ossl::make_sans(options.dns_names, options.ip_addresses);
  if (!sans) {
    return sans.error();
  }
  auto ca_cert = ossl::load_x509s(cert_pem_, "CA certificate");
  if (!ca_cert) {
    return ca_cert.error();
  }
  auto ca_key = ossl::to_pkey(key_);
  if (!ca_key) {
    return ca_key.error();
  }
  Template t{subject_key->get(), name->get(),      sans->get(),   options.usages,
             options.is_ca,      options.path_len, w->not_before, w->not_after};
  return build(ca_cert->front().get(), ca_key->get(), t);
}

Result<std::string> CertificateAuthority::sign_csr(std::string_view csr_pem,
                                                   const SignOptions& options) const {
  auto request = parse_csr(csr_pem);
  if (!request) {
    return request.error();
  }
  ossl::ErrorScope scope;
  ossl::X509ReqPtr req;
  if (ossl::from_der_exact(request->der, d2i_X509_REQ, req) != ossl::DerStatus::Ok) {
    return ossl::error(Errc::Internal, "re-decode CSR");
  }
  const auto& sans_in = request->extensions.sans;
  const X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  if (X509_NAME_entry_count(subject) == 0 && sans_in.dns_names.empty() &&
      sans_in.ip_addresses.empty() && sans_in.emails.empty() && sans_in.uris.empty()) {
    return fail(Errc::InvalidArgument, "CSR has neither a subject nor a subject alternative name");
  }
  auto w = window(*clock_, options.not_before, options.validity, options.backdate);
  if (!w) {
    return w.error();
  }
  // Like kube-controller-manager's signer: DNS, IP, e-mail and URI SANs are copied; other name
  // forms and every other requested extension are not.
  auto sans =
      ossl::make_sans(sans_in.dns_names, sans_in.ip_addresses, sans_in.emails, sans_in.uris);
  if (!sans) {
    return sans.error();
  }
  auto ca_cert = ossl::load_x509s(cert_pem_, "CA certificate");
  if (!ca_cert) {
    return ca_cert.error();
  }
  auto ca_key = ossl::to_pkey(key_);
  if (!ca_key) {
    return ca_key.error();
  }
  Template t{X509_REQ_get0_pubkey(req.get()),
             subject,
             sans->get(),
             options.usages,
             false,
             std::nullopt,
             w->not_before,
             w->not_after};
  return build(ca_cert->front().get(), ca_key->get(), t);
}

}  // namespace yurt::certs
