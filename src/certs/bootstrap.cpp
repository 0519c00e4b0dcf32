// Token discovery without I/O: bootstrap tokens, CA public-key pins, the detached JWS of
// cluster-info (k8s.io/cluster-bootstrap token/jws; kubeadm discovery/token).

#include "yurt/certs/bootstrap.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <yaml-cpp/yaml.h>

#include "yurt/base/strings.hpp"
#include "yurt/kube/base64.hpp"

namespace yurt::certs {
namespace {

constexpr std::size_t kTokenIdLength = 6;
constexpr std::size_t kTokenSecretLength = 16;
constexpr std::string_view kPinFormat = "sha256";

Error malformed(std::string message) {
  return fail(Errc::Malformed, std::move(message));
}

bool token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return {};  // cannot happen with the default provider; an empty pin matches nothing
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

// RFC 7515 §2: base64url without padding.
std::string base64url_encode(std::string_view bytes) {
  std::string s = kube::base64_encode(bytes);
  while (!s.empty() && s.back() == '=') {
    s.pop_back();
  }
  std::replace(s.begin(), s.end(), '+', '-');
  std::replace(s.begin(), s.end(), '/', '_');
  return s;
}

Result<std::string> base64url_decode(std::string_view text, std::string_view what) {
  std::string s(text);
  for (std::size_t i = 0; i < s.size(); ++i) {
    char& c = s[i];
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (!plain) {
      return malformed(std::string(what) + ": invalid base64url character at offset " +
                       std::to_string(i));
    }
  }
  if (s.size() % 4 == 1) {
    return malformed(std::string(what) + ": base64url length " + std::to_string(s.size()) +
                     " is impossible");
  }
  s.append((4 - s.size() % 4) % 4, '=');
  auto out = kube::base64_decode(s);
  if (!out) {
    return malformed(std::string(what) + ": " + out.error().message());
  }
  return out;
}

std::string hmac_sha256(std::string_view key_text, std::string_view data) {
  // cluster-bootstrap zero-pads secrets shorter than 32 bytes (a go-jose requirement). HMAC pads
  // short keys with zeros to the block size anyway, so this changes nothing but is explicit.
  std::string key(key_text);
  if (key.size() < 32) {
    key.resize(32, '\0');
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &len) == nullptr) {
    len = 0;
  }
  OPENSSL_cleanse(key.data(), key.size());
  return {reinterpret_cast<const char*>(mac), len};
}

std::string jws_header(const BootstrapToken& token) {
  // nlohmann::json orders keys, which gives go-jose's exact bytes: {"alg":"HS256","kid":"…"}.
  // `replace`: a hand-built token with invalid UTF-8 must not make dump() throw.
  return nlohmann::json{{"alg", "HS256"}, {"kid", token.id}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct KubeconfigCluster {
  std::string server;
  std::string ca_pem;
};

std::string scalar(const YAML::Node& node) {
  return node && node.IsScalar() ? node.as<std::string>() : std::string();
}

// The cluster of the cluster-info kubeconfig: the only one, or the current context's. May throw
// YAML::Exception (callers catch).
Result<KubeconfigCluster> find_cluster(const YAML::Node& root) {
  if (!root || !root.IsMap()) {
    return malformed("cluster-info kubeconfig is not a YAML mapping");
  }
  const YAML::Node clusters = root["clusters"];
  if (!clusters || !clusters.IsSequence() || clusters.size() == 0) {
    return malformed("cluster-info kubeconfig has no clusters");
  }
  YAML::Node chosen;
  bool found = false;
  if (clusters.size() == 1) {
    chosen.reset(clusters[0]);
    found = true;
  } else {
    // kubeadm takes an arbitrary one (a Go map); we only accept an unambiguous choice.
    std::string wanted;
    const std::string current = scalar(root["current-context"]);
    if (const YAML::Node contexts = root["contexts"]; contexts && contexts.IsSequence()) {
      for (const auto& c : contexts) {
        if (c.IsMap() && scalar(c["name"]) == current && c["context"] && c["context"].IsMap()) {
          wanted = scalar(c["context"]["cluster"]);
        }
      }
    }
    for (const auto& c : clusters) {
      if (!wanted.empty() && c.IsMap() && scalar(c["name"]) == wanted) {
        chosen.reset(c);
        found = true;
      }
    }
    if (!found) {
      return malformed("cluster-info kubeconfig has " + std::to_string(clusters.size()) +
                       " clusters and no current context naming one of them");
    }
  }
  if (!chosen.IsMap() || !chosen["cluster"] || !chosen["cluster"].IsMap()) {
    return malformed("cluster-info kubeconfig: cluster entry has no 'cluster' mapping");
  }
  const YAML::Node cluster = chosen["cluster"];
  KubeconfigCluster out;
  out.server = scalar(cluster["server"]);
  constexpr std::string_view kHttps = "https://";
  if (!out.server.starts_with(kHttps) || out.server.size() == kHttps.size() ||
      out.server[kHttps.size()] == '/') {
    return malformed("cluster-info kubeconfig: server " + quote(out.server) +
                     " is not an https:// URL with a host");
  }
  const std::string ca_data = scalar(cluster["certificate-authority-data"]);
  if (ca_data.empty()) {
    if (cluster["certificate-authority"]) {
      return malformed(
          "cluster-info kubeconfig names a CA file, which a joining node cannot read; expected "
          "certificate-authority-data");
    }
    return malformed("cluster-info kubeconfig has no certificate-authority-data");
  }
  auto ca = kube::base64_decode(ca_data);
  if (!ca) {
    return malformed("cluster-info kubeconfig certificate-authority-data: " + ca.error().message());
  }
  auto certs = parse_certificates(*ca);
  if (!certs) {
    return malformed("cluster-info kubeconfig certificate-authority-data: " +
                     certs.error().message());
  }
  out.ca_pem = std::move(*ca);
  return out;
}

Result<KubeconfigCluster> kubeconfig_cluster(const std::string& text) {
  try {
    const YAML::Node root = YAML::Load(text);
    return find_cluster(root);
  } catch (const YAML::Exception& e) {
    return malformed("cluster-info kubeconfig: " + std::string(e.what()));
  }
}

}  // namespace

Result<BootstrapToken> parse_bootstrap_token(std::string_view text) {
  constexpr std::string_view kFormat =
      " (a bootstrap token is <token-id>.<token-secret>, [a-z0-9]{6}.[a-z0-9]{16})";
  const auto dot = text.find('.');
  if (dot == std::string_view::npos) {
    return malformed("bootstrap token has no '.'" + std::string(kFormat));
  }
  if (text.find('.', dot + 1) != std::string_view::npos) {
    return malformed("bootstrap token has more than one '.'" + std::string(kFormat));
  }
  const auto id = text.substr(0, dot);
  const auto secret = text.substr(dot + 1);
  if (id.size() != kTokenIdLength) {
    return malformed("bootstrap token id has " + std::to_string(id.size()) +
                     " characters; expected 6" + std::string(kFormat));
  }
  if (secret.size() != kTokenSecretLength) {
    return malformed("bootstrap token secret has " + std::to_string(secret.size()) +
                     " characters; expected 16" + std::string(kFormat));
  }
  // Positions only: the token is a credential and must not end up in logs.
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (!token_char(id[i])) {
      return malformed("bootstrap token id has a character other than a-z, 0-9 at position " +
                       std::to_string(i + 1));
    }
  }
  for (std::size_t i = 0; i < secret.size(); ++i) {
    if (!token_char(secret[i])) {
      return malformed("bootstrap token secret has a character other than a-z, 0-9 at position " +
                       std::to_string(i + 1));
    }
  }
  return BootstrapToken{std::string(id), std::string(secret)};
}

std::string ca_pin(const CertificateInfo& cert) {
  return std::string(kPinFormat) + ":" + sha256_hex(cert.public_key.spki_der);
}

Result<std::string> ca_pin(std::string_view cert_pem) {
  auto cert = parse_certificate(cert_pem);
  if (!cert) {
    return cert.error();
  }
  return ca_pin(*cert);
}

Result<std::string> parse_ca_pin(std::string_view pin) {
  const auto colon = pin.find(':');
  if (colon == std::string_view::npos || pin.find(':', colon + 1) != std::string_view::npos) {
    return malformed("CA pin " + quote(pin) + ": expected \"format:hex-value\" (format sha256)");
  }
  if (!iequals(pin.substr(0, colon), kPinFormat)) {
    return malformed("CA pin " + quote(pin) + ": unknown hash format " +
                     quote(pin.substr(0, colon)) + "; known: sha256");
  }
  const auto value = pin.substr(colon + 1);
  if (value.size() != 64) {
    return malformed("CA pin " + quote(pin) +
                     ": expected a 32-byte SHA-256 hash (64 hex digits), found " +
                     std::to_string(value.size()) + " digits");
  }
  std::string out(kPinFormat);
  out += ':';
  for (const char c : value) {
    const bool digit = c >= '0' && c <= '9';
    const bool lower = c >= 'a' && c <= 'f';
    const bool upper = c >= 'A' && c <= 'F';
    if (!digit && !lower && !upper) {
      return malformed("CA pin " + quote(pin) + ": not hexadecimal");
    }
    out += upper ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

Result<void> verify_ca_pins(std::string_view ca_bundle_pem, const std::vector<std::string>& pins) {
  if (pins.empty()) {
    return fail(Errc::InvalidArgument, "no CA pins to verify against");
  }
  std::set<std::string> allowed;
  for (const auto& pin : pins) {
    auto normal = parse_ca_pin(pin);
    if (!normal) {
      return normal.error();
    }
    allowed.insert(std::move(*normal));
  }
  auto certs = parse_certificates(ca_bundle_pem);
  if (!certs) {
    return Error(certs.error().code(), "CA bundle: " + certs.error().message());
  }
  std::string actual;
  for (const auto& cert : *certs) {
    std::string pin = ca_pin(cert);
    if (allowed.count(pin) != 0) {
      return {};
    }
    actual += (actual.empty() ? "" : ", ") + pin;
  }
  return fail(Errc::PinMismatch, "none of the CA public keys [" + actual + "] is pinned");
}

std::string compute_detached_jws(std::string_view payload, const BootstrapToken& token) {
  const std::string header = base64url_encode(jws_header(token));
  const std::string mac = hmac_sha256(token.secret, header + "." + base64url_encode(payload));
  return header + ".." + base64url_encode(mac);
}

Result<void> verify_detached_jws(std::string_view jws,
                                 std::string_view payload,
                                 const BootstrapToken& token) {
  const auto parts = split(jws, '.');
  if (parts.size() != 3) {
    return malformed("JWS has " + std::to_string(parts.size()) +
                     " parts; a compact JWS has 3 separated by '.'");
  }
  if (!parts[1].empty()) {
    return malformed("JWS carries a payload; expected a detached signature (header..signature)");
  }
  auto header_json = base64url_decode(parts[0], "JWS header");
  if (!header_json) {
    return header_json.error();
  }
  const auto header = nlohmann::json::parse(*header_json, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return malformed("JWS header is not a JSON object");
  }
  // The header's values for messages: strings quoted, other JSON as written, or "missing".
  auto shown = [&](const char* key) {
    const auto it = header.find(key);
    if (it == header.end()) {
      return std::string("missing");
    }
    return quote(it->is_string() ? it->get<std::string>() : it->dump());
  };
  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get<std::string>() != "HS256") {
    return fail(Errc::BadSignature,
                "JWS algorithm is " + shown("alg") + "; bootstrap tokens sign with HS256");
  }
  const auto kid = header.find("kid");
  if (kid == header.end() || !kid->is_string() || kid->get<std::string>() != token.id) {
    return fail(Errc::BadSignature,
                "JWS key id is " + shown("kid") + ", not token id " + quote(token.id));
  }
  if (header.contains("crit")) {
    return malformed("JWS header has critical extensions (\"crit\"), which we do not implement");
  }
  auto signature = base64url_decode(parts[2], "JWS signature");
  if (!signature) {
    return signature.error();
  }
  const std::string expected =
      hmac_sha256(token.secret, std::string(parts[0]) + "." + base64url_encode(payload));
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return fail(Errc::BadSignature,
                "JWS signature does not match: the content was changed or signed with another "
                "token");
  }
  return {};
}

Result<ClusterInfo> verify_cluster_info(const nlohmann::json& configmap,
                                        const BootstrapToken& token,
                                        const std::vector<std::string>& ca_pins) {
  if (!configmap.is_object()) {
    return malformed("cluster-info is not a JSON object");
  }
  if (const auto kind = configmap.find("kind");
      kind != configmap.end() && (!kind->is_string() || kind->get<std::string>() != "ConfigMap")) {
    return malformed("cluster-info is a " + kind->dump() + ", not a ConfigMap");
  }
  const auto data = configmap.find("data");
  if (data == configmap.end() || !data->is_object()) {
    return malformed("cluster-info ConfigMap has no data");
  }
  const auto kubeconfig = data->find(kClusterInfoKubeconfigKey);
  if (kubeconfig == data->end() || !kubeconfig->is_string() ||
      kubeconfig->get_ref<const std::string&>().empty()) {
    return malformed(
        "cluster-info ConfigMap has no kubeconfig: this API server is not set up for token "
        "bootstrapping");
  }
  const std::string jws_key = std::string(kClusterInfoJwsKeyPrefix) + token.id;
  const auto jws = data->find(jws_key);
  if (jws == data->end() || !jws->is_string() || jws->get_ref<const std::string&>().empty()) {
    return fail(Errc::NotSigned,
                "cluster-info has no signature for token id " + quote(token.id) +
                    ": the token is unknown or expired, or the bootstrap signer has not signed "
                    "it yet");
  }
  const std::string& payload = kubeconfig->get_ref<const std::string&>();
  if (auto ok = verify_detached_jws(jws->get_ref<const std::string&>(), payload, token); !ok) {
    return Error(ok.error().code(), "cluster-info " + jws_key + ": " + ok.error().message());
  }
  auto cluster = kubeconfig_cluster(payload);
  if (!cluster) {
    return cluster.error();
  }
  ClusterInfo out{std::move(cluster->server), std::move(cluster->ca_pem), payload, false};
  if (!ca_pins.empty()) {
    if (auto ok = verify_ca_pins(out.ca_bundle_pem, ca_pins); !ok) {
      return Error(ok.error().code(), "cluster-info CA: " + ok.error().message());
    }
    out.ca_pinned = true;
  }
  return out;
}

Result<ClusterInfo> verify_cluster_info_json(std::string_view configmap_json,
                                             const BootstrapToken& token,
                                             const std::vector<std::string>& ca_pins) {
  const auto configmap = nlohmann::json::parse(configmap_json, nullptr, false);
  if (configmap.is_discarded()) {
    return malformed("cluster-info is not valid JSON");
  }
  return verify_cluster_info(configmap, token, ca_pins);
}

}  // namespace yurt::certs
