// Shared pieces of the certs module: the error category, strict PEM, usage names, and the
// OpenSSL decoding that keys, CSRs and certificates have in common (src/certs/ossl.hpp).

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <set>

#include <openssl/pem.h>

#include "yurt/base/strings.hpp"
#include "yurt/certs/pem.hpp"
#include "yurt/kube/base64.hpp"
#include "yurt/kube/time.hpp"

#include "src/certs/ossl.hpp"

#include <arpa/inet.h>

namespace yurt::certs {
namespace {

class Category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "yurt.certs"; }
  [[nodiscard]] std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
      case Errc::Malformed:
        return "malformed input";
      case Errc::Unsupported:
        return "unsupported";
      case Errc::InvalidArgument:
        return "invalid argument";
      case Errc::BadSignature:
        return "signature does not verify";
      case Errc::KeyMismatch:
        return "private key does not match the certificate";
      case Errc::Expired:
        return "certificate has expired";
      case Errc::NotYetValid:
        return "certificate is not yet valid";
      case Errc::UnknownIssuer:
        return "certificate signed by unknown authority";
      case Errc::WrongUsage:
        return "certificate not valid for this usage";
      case Errc::InvalidChain:
        return "invalid certificate chain";
      case Errc::NotFound:
        return "no key pair found";
      case Errc::PinMismatch:
        return "CA public key is not pinned";
      case Errc::NotSigned:
        return "no signature for this token";
      case Errc::Internal:
        return "internal cryptography error";
    }
    return "unknown certs error " + std::to_string(code);
  }
};

struct UsageName {
  Usage usage;
  std::string_view name;
};

// The spellings of k8s.io/api certificates/v1 KeyUsage.
constexpr std::array<UsageName, 21> kUsageNames{{
    {Usage::DigitalSignature, "digital signature"},
    {Usage::ContentCommitment, "content commitment"},
    {Usage::KeyEncipherment, "key encipherment"},
    {Usage::KeyAgreement, "key agreement"},
    {Usage::DataEncipherment, "data encipherment"},
    {Usage::CertSign, "cert sign"},
    {Usage::CrlSign, "crl sign"},
    {Usage::EncipherOnly, "encipher only"},
    {Usage::DecipherOnly, "decipher only"},
    {Usage::Any, "any"},
    {Usage::ServerAuth, "server auth"},
    {Usage::ClientAuth, "client auth"},
    {Usage::CodeSigning, "code signing"},
    {Usage::EmailProtection, "email protection"},
    {Usage::IpsecEndSystem, "ipsec end system"},
    {Usage::IpsecTunnel, "ipsec tunnel"},
    {Usage::IpsecUser, "ipsec user"},
    {Usage::Timestamping, "timestamping"},
    {Usage::OcspSigning, "ocsp signing"},
    {Usage::MicrosoftSgc, "microsoft sgc"},
    {Usage::NetscapeSgc, "netscape sgc"},
}};

Error malformed(std::string message) {
  return fail(Errc::Malformed, std::move(message));
}

std::string_view trim_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return trim(line);
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

// SAN strings are IA5String; we only accept visible ASCII (no spaces, no controls): what a DNS
// name, e-mail address or URI can legitimately hold, and nothing an approver could misread.
bool is_visible_ascii(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7f;
  });
}

std::string asn1_bytes(const ASN1_STRING* s) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<std::size_t>(ASN1_STRING_length(s))};
}

std::optional<Usage> ext_usage_for_nid(int nid) {
  switch (nid) {
    case NID_anyExtendedKeyUsage:
      return Usage::Any;
    case NID_server_auth:
      return Usage::ServerAuth;
    case NID_client_auth:
      return Usage::ClientAuth;
    case NID_code_sign:
      return Usage::CodeSigning;
    case NID_email_protect:
      return Usage::EmailProtection;
    case NID_ipsecEndSystem:
      return Usage::IpsecEndSystem;
    case NID_ipsecTunnel:
      return Usage::IpsecTunnel;
    case NID_ipsecUser:
      return Usage::IpsecUser;
    case NID_time_stamp:
      return Usage::Timestamping;
    case NID_OCSP_sign:
      return Usage::OcspSigning;
    case NID_ms_sgc:
      return Usage::MicrosoftSgc;
    case NID_ns_sgc:
      return Usage::NetscapeSgc;
    default:
      return std::nullopt;
  }
}

// keyUsage bit positions (RFC 5280 §4.2.1.3).
constexpr std::array<Usage, 9> kKeyUsageBits{
    Usage::DigitalSignature, Usage::ContentCommitment, Usage::KeyEncipherment,
    Usage::DataEncipherment, Usage::KeyAgreement,      Usage::CertSign,
    Usage::CrlSign,          Usage::EncipherOnly,      Usage::DecipherOnly,
};

// Frees what X509V3_EXT_d2i returned, with the method that made it.
struct ExtValue {
  const X509V3_EXT_METHOD* method = nullptr;
  void* value = nullptr;
  ExtValue(const ExtValue&) = delete;
  ExtValue& operator=(const ExtValue&) = delete;
  explicit ExtValue(X509_EXTENSION* ext) : method(X509V3_EXT_get(ext)) {
    if (method != nullptr) {
      value = X509V3_EXT_d2i(ext);
    }
  }
  ~ExtValue() {
    if (value == nullptr) {
      return;
    }
    if (method->it != nullptr) {
      ASN1_item_free(static_cast<ASN1_VALUE*>(value), ASN1_ITEM_ptr(method->it));
    } else if (method->ext_free != nullptr) {
      method->ext_free(value);
    }
  }
};

Result<void> decode_sans(const GENERAL_NAMES* names, std::string_view what, SubjectAltNames& out) {
  const int n = sk_GENERAL_NAME_num(names);
  if (n <= 0) {
    return malformed(std::string(what) + ": subjectAltName extension is empty");
  }
  for (int i = 0; i < n; ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names, i);
    const std::string where = std::string(what) + ": subjectAltName entry " + std::to_string(i + 1);
    switch (gen->type) {
      case GEN_DNS:
      case GEN_EMAIL:
      case GEN_URI: {
        const std::string value = asn1_bytes(gen->d.ia5);
        const char* kind = gen->type == GEN_DNS     ? "DNS name"
                           : gen->type == GEN_EMAIL ? "email"
                                                    : "URI";
        if (!is_visible_ascii(value)) {
          return malformed(where + " (" + kind +
                           ") is empty or holds bytes other than visible ASCII");
        }
        auto& list = gen->type == GEN_DNS     ? out.dns_names
                     : gen->type == GEN_EMAIL ? out.emails
                                              : out.uris;
        list.push_back(value);
        break;
      }
      case GEN_IPADD: {
        const std::string raw = asn1_bytes(gen->d.iPAddress);
        char text[INET6_ADDRSTRLEN] = {};
        const int family = raw.size() == 4 ? AF_INET : raw.size() == 16 ? AF_INET6 : -1;
        if (family < 0 || ::inet_ntop(family, raw.data(), text, sizeof text) == nullptr) {
          return malformed(where + " (IP address) has " + std::to_string(raw.size()) +
                           " bytes; expected 4 or 16");
        }
        out.ip_addresses.emplace_back(text);
        break;
      }
      case GEN_OTHERNAME:
        out.others.emplace_back("otherName");
        break;
      case GEN_DIRNAME:
        out.others.emplace_back("dirName");
        break;
      case GEN_RID:
        out.others.emplace_back("registeredID");
        break;
      case GEN_X400:
        out.others.emplace_back("x400Address");
        break;
      case GEN_EDIPARTY:
        out.others.emplace_back("ediPartyName");
        break;
      default:
        return malformed(where + " has unknown type " + std::to_string(gen->type));
    }
  }
  return {};
}

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

// ---- PEM ------------------------------------------------------------------------------------

Result<std::vector<PemBlock>> parse_pem(std::string_view text) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  constexpr std::string_view kEnd = "-----END ";
  constexpr std::string_view kDashes = "-----";
  std::vector<PemBlock> blocks;
  bool inside = false;
  bool in_headers = false;
  bool body_started = false;
  PemBlock current;
  std::string body;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view raw =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    const std::string_view line = trim_line(raw);
    const std::string where = "PEM line " + std::to_string(line_no);
    if (!inside) {
      if (line.empty()) {
        continue;
      }
      if (!line.starts_with(kBegin)) {
        return malformed(where + ": text outside a PEM block");
      }
      if (line.size() <= kBegin.size() + kDashes.size() || !line.ends_with(kDashes)) {
        return malformed(where + ": malformed BEGIN line");
      }
      current = PemBlock{};
      current.type =
          std::string(line.substr(kBegin.size(), line.size() - kBegin.size() - kDashes.size()));
      current.line = line_no;
      body.clear();
      inside = true;
      in_headers = false;
      body_started = false;
      continue;
    }
    const std::string block_name =
        "PEM block " + quote(current.type) + " at line " + std::to_string(current.line);
    if (line.starts_with(kBegin)) {
      return malformed(block_name + " has no END line before the BEGIN at line " +
                       std::to_string(line_no));
    }
    if (line.starts_with(kEnd)) {
      if (!line.ends_with(kDashes) || line.size() <= kEnd.size() + kDashes.size()) {
        return malformed(where + ": malformed END line");
      }
      const std::string_view end_type =
          line.substr(kEnd.size(), line.size() - kEnd.size() - kDashes.size());
      if (end_type != current.type) {
        return malformed(block_name + " ends with END " + quote(end_type) + " at line " +
                         std::to_string(line_no));
      }
      if (body.empty()) {
        return malformed(block_name + " is empty");
      }
      auto der = kube::base64_decode(body);
      if (!der) {
        return malformed(block_name + ": " + der.error().message());
      }
      current.der = std::move(*der);
      blocks.push_back(std::move(current));
      inside = false;
      continue;
    }
    // RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") come first, end with a blank line, and may be
    // continued on lines starting with whitespace.
    if (!body_started && !in_headers && line.find(':') != std::string_view::npos) {
      current.has_headers = true;
      in_headers = true;
      continue;
    }
    if (in_headers) {
      if (line.empty()) {
        in_headers = false;
        body_started = true;
      }
      continue;
    }
    if (line.empty()) {
      continue;
    }
    body_started = true;
    body.append(line);
  }
  if (inside) {
    return malformed("PEM block " + quote(current.type) + " at line " +
                     std::to_string(current.line) + " has no END line (truncated?)");
  }
  return blocks;
}

std::string pem_encode(std::string_view type, std::string_view der) {
  const std::string b64 = kube::base64_encode(der);
  std::string out;
  out.reserve(b64.size() + b64.size() / 64 + 2 * type.size() + 40);
  out.append("-----BEGIN ").append(type).append("-----\n");
  for (std::size_t i = 0; i < b64.size(); i += 64) {
    out.append(b64, i, 64).push_back('\n');
  }
  out.append("-----END ").append(type).append("-----\n");
  return out;
}

// ---- value types ----------------------------------------------------------------------------

bool is_key_usage(Usage u) noexcept {
  return u <= Usage::DecipherOnly;
}

std::string_view to_string(Usage u) noexcept {
  for (const auto& [usage, name] : kUsageNames) {
    if (usage == u) {
      return name;
    }
  }
  return "unknown";
}

Result<Usage> parse_usage(std::string_view name) {
  for (const auto& [usage, text] : kUsageNames) {
    if (text == name) {
      return usage;
    }
  }
  if (name == "signing") {
    return Usage::DigitalSignature;
  }
  if (name == "s/mime") {
    return Usage::EmailProtection;
  }
  return malformed("unknown key usage " + quote(name));
}

std::string DistinguishedName::str() const {
  std::string out;
  for (const auto& [type, value] : attributes) {
    if (!out.empty()) {
      out += ", ";
    }
    out += type;
    out += '=';
    for (std::size_t i = 0; i < value.size(); ++i) {
      const char c = value[i];
      const bool edge_space = c == ' ' && (i == 0 || i + 1 == value.size());
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        out += '\\';
        out += ossl::hex(std::string_view(&c, 1), true);
      } else if (std::strchr(",+\"\\<>;", c) != nullptr || (c == '#' && i == 0) || edge_space) {
        out += '\\';
        out += c;
      } else {
        out += c;
      }
    }
  }
  return out;
}

bool Extensions::has(std::string_view name_or_oid) const noexcept {
  return std::any_of(all.begin(), all.end(), [&](const ExtensionInfo& e) {
    return e.name == name_or_oid || e.oid == name_or_oid;
  });
}

std::string_view to_string(KeyAlgorithm a) noexcept {
  switch (a) {
    case KeyAlgorithm::EcdsaP256:
      return "ECDSA P-256";
    case KeyAlgorithm::EcdsaP384:
      return "ECDSA P-384";
    case KeyAlgorithm::EcdsaP521:
      return "ECDSA P-521";
    case KeyAlgorithm::Rsa2048:
      return "RSA 2048";
    case KeyAlgorithm::Rsa3072:
      return "RSA 3072";
    case KeyAlgorithm::Rsa4096:
      return "RSA 4096";
  }
  return "unknown";
}

std::string_view to_string(KeyType t) noexcept {
  switch (t) {
    case KeyType::Rsa:
      return "RSA";
    case KeyType::Ecdsa:
      return "ECDSA";
    case KeyType::Ed25519:
      return "Ed25519";
    case KeyType::Ed448:
      return "Ed448";
    case KeyType::Dsa:
      return "DSA";
    case KeyType::Other:
      return "other";
  }
  return "unknown";
}

std::string PublicKeyInfo::describe() const {
  switch (type) {
    case KeyType::Rsa:
    case KeyType::Dsa:
      return std::string(to_string(type)) + " " + std::to_string(bits);
    case KeyType::Ecdsa:
      return "ECDSA " + (curve.empty() ? std::string("(explicit curve parameters)") : curve);
    case KeyType::Ed25519:
    case KeyType::Ed448:
      return std::string(to_string(type));
    case KeyType::Other:
      return algorithm.empty() ? std::string("unknown key type") : algorithm;
  }
  return "unknown key type";
}

// ---- OpenSSL helpers --------------------------------------------------------------------------

namespace ossl {

std::string error_text() {
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  while (const unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
    if (!out.empty()) {
      out += "; ";
    }
    const char* lib = ERR_lib_error_string(e);
    const char* reason = ERR_reason_error_string(e);
    if (reason != nullptr) {
      if (lib != nullptr) {
        out.append(lib).append(": ");
      }
      out += reason;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      out += buf;
    }
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
      out.append(" (").append(data).append(")");
    }
  }
  return out;
}

Error error(Errc code, std::string what) {
  const std::string reasons = error_text();
  if (!reasons.empty()) {
    what += ": " + reasons;
  }
  return fail(code, std::move(what));
}

std::string bio_bytes(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  if (n <= 0 || data == nullptr) {
    return {};
  }
  return {data, static_cast<std::size_t>(n)};
}

std::string oid_dotted(const ASN1_OBJECT* obj) {
  char buf[128];
  const int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (n <= 0) {
    return "?";
  }
  return {buf, std::min(static_cast<std::size_t>(n), sizeof buf - 1)};
}

std::string oid_name(const ASN1_OBJECT* obj) {
  const int nid = OBJ_obj2nid(obj);
  if (nid != NID_undef) {
    if (const char* sn = OBJ_nid2sn(nid); sn != nullptr) {
      return sn;
    }
  }
  return oid_dotted(obj);
}

Result<std::chrono::sys_seconds> to_sys_seconds(const ASN1_TIME* t, std::string_view what) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return error(Errc::Malformed, std::string(what) + ": invalid time");
  }
  using namespace std::chrono;
  const year_month_day ymd{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                           day{static_cast<unsigned>(tm.tm_mday)}};
  if (!ymd.ok()) {
    return fail(Errc::Malformed, std::string(what) + ": invalid date");
  }
  return sys_seconds{sys_days{ymd}} + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
}

Asn1TimePtr to_asn1_time(std::chrono::sys_seconds t) {
  return Asn1TimePtr(ASN1_TIME_set(nullptr, static_cast<time_t>(t.time_since_epoch().count())));
}

std::string format_time(std::chrono::sys_seconds t) {
  return kube::format_rfc3339(kube::Timestamp{t});
}

Result<DistinguishedName> decode_name(const X509_NAME* name, std::string_view what) {
  DistinguishedName dn;
  if (name == nullptr) {
    return dn;
  }
  bool has_cn = false;
  const int n = X509_NAME_entry_count(name);
  for (int i = 0; i < n; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    const ASN1_OBJECT* obj = X509_NAME_ENTRY_get_object(entry);
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
    std::string type = oid_name(obj);
    unsigned char* utf8 = nullptr;
    const int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) {
      return error(Errc::Malformed,
                   std::string(what) + " attribute " + type + " is not a valid string");
    }
    std::string value(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
    OPENSSL_free(utf8);
    if (has_control_chars(value)) {
      return malformed(std::string(what) + " attribute " + type + " contains a control character");
    }
    const int nid = OBJ_obj2nid(obj);
    if (nid == NID_commonName) {
      if (has_cn) {
        return malformed(std::string(what) + " has more than one CN");
      }
      has_cn = true;
      dn.common_name = value;
    } else if (nid == NID_organizationName) {
      dn.organizations.push_back(value);
    }
    dn.attributes.push_back({std::move(type), std::move(value)});
  }
  return dn;
}

Result<Extensions> decode_extensions(const STACK_OF(X509_EXTENSION) * exts, std::string_view what) {
  Extensions out;
  std::set<std::string> seen;
  const int n = exts == nullptr ? 0 : sk_X509_EXTENSION_num(exts);
  for (int i = 0; i < n; ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
    ExtensionInfo info{oid_dotted(obj), oid_name(obj), X509_EXTENSION_get_critical(ext) != 0};
    const std::string where = std::string(what) + ": extension " + info.name;
    if (!seen.insert(info.oid).second) {
      return malformed(where + " appears more than once");
    }
    const int nid = OBJ_obj2nid(obj);
    ExtValue value(ext);
    if (value.method != nullptr && value.value == nullptr) {
      return error(Errc::Malformed, where + " does not decode");
    }
    switch (nid) {
      case NID_subject_alt_name:
        if (auto ok = decode_sans(static_cast<const GENERAL_NAMES*>(value.value), what, out.sans);
            !ok) {
          return ok.error();
        }
        break;
      case NID_basic_constraints: {
        const auto* bc = static_cast<const BASIC_CONSTRAINTS*>(value.value);
        BasicConstraints constraints{bc->ca != 0, std::nullopt, info.critical};
        if (bc->pathlen != nullptr) {
          std::int64_t len = 0;
          if (ASN1_INTEGER_get_int64(&len, bc->pathlen) != 1 || len < 0 || len > 1000) {
            return error(Errc::Malformed, where + ": pathLenConstraint out of range");
          }
          constraints.path_len = static_cast<int>(len);
        }
        out.basic_constraints = constraints;
        break;
      }
      case NID_key_usage: {
        const auto* bits = static_cast<const ASN1_BIT_STRING*>(value.value);
        std::vector<Usage> usages;
        for (std::size_t bit = 0; bit < kKeyUsageBits.size(); ++bit) {
          if (ASN1_BIT_STRING_get_bit(bits, static_cast<int>(bit)) != 0) {
            usages.push_back(kKeyUsageBits[bit]);
          }
        }
        for (int bit = static_cast<int>(kKeyUsageBits.size()); bit < ASN1_STRING_length(bits) * 8;
             ++bit) {
          if (ASN1_BIT_STRING_get_bit(bits, bit) != 0) {
            return malformed(where + ": unknown bit " + std::to_string(bit) + " is set");
          }
        }
        out.key_usage = std::move(usages);
        break;
      }
      case NID_ext_key_usage: {
        const auto* oids = static_cast<const EXTENDED_KEY_USAGE*>(value.value);
        std::vector<Usage> usages;
        for (int k = 0; k < sk_ASN1_OBJECT_num(oids); ++k) {
          const ASN1_OBJECT* usage_oid = sk_ASN1_OBJECT_value(oids, k);
          if (auto usage = ext_usage_for_nid(OBJ_obj2nid(usage_oid))) {
            usages.push_back(*usage);
          } else {
            out.other_ext_key_usages.push_back(oid_dotted(usage_oid));
          }
        }
        out.ext_key_usage = std::move(usages);
        break;
      }
      default:
        break;
    }
    out.all.push_back(std::move(info));
  }
  return out;
}

Result<PublicKeyInfo> describe_public_key(EVP_PKEY* pkey) {
  PublicKeyInfo info;
  if (pkey == nullptr) {
    return fail(Errc::Unsupported, "no public key");
  }
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
      info.type = KeyType::Rsa;
      break;
    case EVP_PKEY_EC: {
      info.type = KeyType::Ecdsa;
      char group[80] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) == 1) {
        const std::string_view g(group, len);
        info.curve = g == "prime256v1"  ? "P-256"
                     : g == "secp384r1" ? "P-384"
                     : g == "secp521r1" ? "P-521"
                                        : std::string(g);
      }
      ERR_clear_error();  // explicit parameters have no group name: not an error here
      break;
    }
    case EVP_PKEY_ED25519:
      info.type = KeyType::Ed25519;
      break;
    case EVP_PKEY_ED448:
      info.type = KeyType::Ed448;
      break;
    case EVP_PKEY_DSA:
      info.type = KeyType::Dsa;
      break;
    default:
      info.type = KeyType::Other;
      if (const char* name = EVP_PKEY_get0_type_name(pkey); name != nullptr) {
        info.algorithm = name;
      }
      break;
  }
  info.bits = EVP_PKEY_get_bits(pkey);
  info.spki_der = to_der(pkey, i2d_PUBKEY);
  if (info.spki_der.empty()) {
    return error(Errc::Internal, "encode public key");
  }
  return info;
}

Result<PkeyPtr> to_pkey(const PrivateKey& key) {
  BioPtr bio(BIO_new_mem_buf(key.pem().data(), static_cast<int>(key.pem().size())));
  if (!bio) {
    return error(Errc::Internal, "BIO_new_mem_buf");
  }
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    return error(Errc::Internal, "decode private key");
  }
  return pkey;
}

Result<X509NamePtr> make_name(const Subject& subject) {
  X509NamePtr name(X509_NAME_new());
  if (!name) {
    return error(Errc::Internal, "X509_NAME_new");
  }
  auto add = [&](int nid, const std::string& value, const char* label) -> Result<void> {
    if (value.empty() || has_control_chars(value)) {
      return fail(Errc::InvalidArgument,
                  std::string(label) + " " + quote(value) + " is empty or has control characters");
    }
    if (X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return error(Errc::InvalidArgument, std::string(label) + " " + quote(value));
    }
    return {};
  };
  // Go's pkix.Name order (what client-go sends): O before CN.
  for (const auto& org : subject.organizations) {
    if (auto ok = add(NID_organizationName, org, "organization"); !ok) {
      return ok.error();
    }
  }
  if (!subject.common_name.empty()) {
    if (auto ok = add(NID_commonName, subject.common_name, "common name"); !ok) {
      return ok.error();
    }
  }
  return name;
}

Result<GeneralNamesPtr> make_sans(const std::vector<std::string>& dns_names,
                                  const std::vector<std::string>& ip_addresses,
                                  const std::vector<std::string>& emails,
                                  const std::vector<std::string>& uris) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) {
    return error(Errc::Internal, "sk_GENERAL_NAME_new_null");
  }
  auto push_string = [&](int type, const std::string& value, const char* label) -> Result<void> {
    if (!is_visible_ascii(value)) {
      return fail(Errc::InvalidArgument,
                  std::string(label) + " " + quote(value) + " is empty or not visible ASCII");
    }
    GeneralNamePtr gen(GENERAL_NAME_new());
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    if (!gen || s == nullptr ||
        ASN1_STRING_set(s, value.data(), static_cast<int>(value.size())) != 1) {
      ASN1_IA5STRING_free(s);
      return error(Errc::Internal, "build subjectAltName");
    }
    GENERAL_NAME_set0_value(gen.get(), type, s);
    if (sk_GENERAL_NAME_push(names.get(), gen.get()) <= 0) {
      return error(Errc::Internal, "build subjectAltName");
    }
    (void)gen.release();
    return {};
  };
  for (const auto& dns : dns_names) {
    if (auto ok = push_string(GEN_DNS, dns, "DNS name"); !ok) {
      return ok.error();
    }
  }
  for (const auto& ip : ip_addresses) {
    unsigned char raw[16] = {};
    int len = 0;
    if (::inet_pton(AF_INET, ip.c_str(), raw) == 1) {
      len = 4;
    } else if (::inet_pton(AF_INET6, ip.c_str(), raw) == 1) {
      len = 16;
    } else {
      return fail(Errc::InvalidArgument, "IP address " + quote(ip) + " does not parse");
    }
    GeneralNamePtr gen(GENERAL_NAME_new());
    Asn1OctetStringPtr os(ASN1_OCTET_STRING_new());
    if (!gen || !os || ASN1_OCTET_STRING_set(os.get(), raw, len) != 1) {
      return error(Errc::Internal, "build subjectAltName");
    }
    GENERAL_NAME_set0_value(gen.get(), GEN_IPADD, os.release());
    if (sk_GENERAL_NAME_push(names.get(), gen.get()) <= 0) {
      return error(Errc::Internal, "build subjectAltName");
    }
    (void)gen.release();
  }
  for (const auto& email : emails) {
    if (auto ok = push_string(GEN_EMAIL, email, "email"); !ok) {
      return ok.error();
    }
  }
  for (const auto& uri : uris) {
    if (auto ok = push_string(GEN_URI, uri, "URI"); !ok) {
      return ok.error();
    }
  }
  return names;
}

const EVP_MD* digest_for(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    char group[80] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1) {
      const std::string_view g(group, len);
      if (g == "secp384r1") {
        return EVP_sha384();
      }
      if (g == "secp521r1") {
        return EVP_sha512();
      }
    }
  }
  return EVP_sha256();
}

std::string hex(std::string_view bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

}  // namespace ossl
}  // namespace yurt::certs
