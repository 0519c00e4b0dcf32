#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "yurt/base/result.hpp"
#include "yurt/certs/certificate.hpp"
#include "yurt/certs/errc.hpp"

/// Pure pieces of node bootstrap with a token (kubeadm's "token discovery"): parse the token,
/// verify the `kube-public/cluster-info` ConfigMap by its JWS signature, check the CA against
/// public-key pins. Fetching the ConfigMap is the REST client's job.
namespace yurt::certs {

/// A bootstrap token `<token-id>.<token-secret>` (`[a-z0-9]{6}\.[a-z0-9]{16}`,
/// k8s.io/cluster-bootstrap token/api). The secret is a credential: never log str() or secret.
struct BootstrapToken {
  std::string id;
  std::string secret;

  /// "<id>.<secret>": the bearer token.
  [[nodiscard]] std::string str() const { return id + "." + secret; }
  /// The user the apiserver authenticates it as: "system:bootstrap:<id>".
  [[nodiscard]] std::string user_name() const { return "system:bootstrap:" + id; }
  friend bool operator==(const BootstrapToken&, const BootstrapToken&) = default;
};

/// Parses a bootstrap token. Errors (Malformed) say which rule broke — no '.', id or secret of
/// the wrong length, a character outside [a-z0-9] and where — without echoing the token.
[[nodiscard]] Result<BootstrapToken> parse_bootstrap_token(std::string_view text);

/// The CA pin of a certificate as kubeadm's `--discovery-token-ca-cert-hash` writes it:
/// "sha256:" + lower-case hex of SHA-256 over the DER SubjectPublicKeyInfo.
[[nodiscard]] std::string ca_pin(const CertificateInfo& cert);

/// Same, from a PEM with exactly one certificate. Errors: Malformed.
[[nodiscard]] Result<std::string> ca_pin(std::string_view cert_pem);

/// Validates and normalises a pin ("sha256:<64 hex>", format and hex case-insensitive) to
/// lower case. Errors (Malformed): no "format:", an unknown format, wrong length, bad hex.
[[nodiscard]] Result<std::string> parse_ca_pin(std::string_view pin);

/// Succeeds when any certificate of `ca_bundle_pem` matches any of `pins`. Errors: Malformed
/// (a pin or the bundle); InvalidArgument (no pins); PinMismatch (names the bundle's own pins).
[[nodiscard]] Result<void> verify_ca_pins(std::string_view ca_bundle_pem,
                                          const std::vector<std::string>& pins);

/// The detached JWS (RFC 7515 appendix F) the bootstrap signer stores for `payload`:
/// `base64url({"alg":"HS256","kid":"<id>"})..base64url(HMAC-SHA256(secret, header "." payload))`
/// — the compact form with the payload part left empty. Same bytes as cluster-bootstrap's
/// `jws.ComputeDetachedSignature`.
[[nodiscard]] std::string compute_detached_jws(std::string_view payload,
                                               const BootstrapToken& token);

/// Verifies a detached JWS over `payload` with the token. The protected header must be a JSON
/// object with "alg":"HS256" and "kid" equal to the token id, and no "crit"; the payload part
/// must be empty; the MAC is compared in constant time.
/// Errors: Malformed (structure, base64url, header JSON), BadSignature (wrong kid, alg, or MAC:
/// the text does not come from this token's holder).
[[nodiscard]] Result<void> verify_detached_jws(std::string_view jws,
                                               std::string_view payload,
                                               const BootstrapToken& token);

/// Names in the cluster-info ConfigMap (k8s.io/cluster-bootstrap token/api).
inline constexpr std::string_view kClusterInfoNamespace = "kube-public";
inline constexpr std::string_view kClusterInfoName = "cluster-info";
inline constexpr std::string_view kClusterInfoKubeconfigKey = "kubeconfig";
inline constexpr std::string_view kClusterInfoJwsKeyPrefix = "jws-kubeconfig-";

/// What a verified cluster-info tells a joining node.
struct ClusterInfo {
  std::string server;         ///< "https://host:port" of the cluster in the kubeconfig
  std::string ca_bundle_pem;  ///< its certificate-authority-data (PEM, ≥ 1 certificate)
  std::string kubeconfig;     ///< the signed kubeconfig text, byte for byte
  bool ca_pinned = false;     ///< true when the CA was checked against pins
};

/// Verifies a cluster-info ConfigMap (as JSON) for `token`, like kubeadm's token discovery:
/// `data.kubeconfig` must be signed by `data["jws-kubeconfig-<id>"]`; then the kubeconfig's
/// cluster gives the server and CA; with `ca_pins` non-empty, some CA certificate must match a
/// pin. Empty `ca_pins` means the caller chose to skip CA verification (kubeadm's
/// --discovery-token-unsafe-skip-ca-verification); ca_pinned tells which happened.
///
/// The kubeconfig must hold one cluster (or name the cluster of its current context), with
/// inline certificate-authority-data and an https server. kubeadm then fetches cluster-info a
/// second time over TLS verified with this CA and requires the same kubeconfig bytes; that
/// network step belongs to the caller (compare against ClusterInfo::kubeconfig).
///
/// Errors: Malformed (not a ConfigMap object, missing or non-string kubeconfig, bad YAML or
/// base64 or CA PEM, no usable cluster or server); NotSigned (no signature for this token id:
/// the token is unknown, expired, or the bootstrap signer has not run yet — retry);
/// BadSignature; PinMismatch.
[[nodiscard]] Result<ClusterInfo> verify_cluster_info(const nlohmann::json& configmap,
                                                      const BootstrapToken& token,
                                                      const std::vector<std::string>& ca_pins);

/// Same from the ConfigMap's JSON text (the GET response body). A separate name because a
/// std::string converts to both nlohmann::json and std::string_view.
[[nodiscard]] Result<ClusterInfo> verify_cluster_info_json(std::string_view configmap_json,
                                                           const BootstrapToken& token,
                                                           const std::vector<std::string>& ca_pins);

}  // namespace yurt::certs
