#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "yurt/base/result.hpp"
#include "yurt/kube/errors.hpp"

namespace yurt::kube {

/// Reads an environment variable; injectable so tests never touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process environment (std::getenv).
[[nodiscard]] EnvLookup process_env();

/// The default in-cluster service account directory.
inline constexpr std::string_view kServiceAccountDir =
    "/var/run/secrets/kubernetes.io/serviceaccount";

/// How to reach and authenticate to one apiserver (client-go's rest.Config, the parts we use).
/// Loading a config is separate from using it: the REST client takes a RestConfig.
///
/// Credentials are kept as bytes *and*, when they came from files, as paths, because some of
/// them rotate on disk (the kubelet's client certificate, projected service account tokens);
/// the client re-reads `bearer_token_file` and the certificate files when they change.
///
/// @par Thread Safety
/// A plain value type.
struct RestConfig {
  std::string server;  ///< "https://host:port" (no trailing '/'); http:// for a local hub
  std::string ca_pem;  ///< CA bundle (PEM); empty = the system roots
  std::filesystem::path ca_file;  ///< where ca_pem came from, if a file
  std::string client_cert_pem;    ///< client certificate chain (PEM)
  std::filesystem::path client_cert_file;
  std::string client_key_pem;  ///< client private key (PEM)
  std::filesystem::path client_key_file;
  std::string bearer_token;                 ///< token as loaded (trimmed)
  std::filesystem::path bearer_token_file;  ///< re-read by the client when set
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  ///< SNI / verification name override
  std::string user_agent;       ///< "" = the client's default
  std::string namespace_name;   ///< the context's namespace (in-cluster: the pod's), may be ""
  /// Whole-request timeout for non-long-running requests; zero = none (client-go's default).
  std::chrono::milliseconds request_timeout{0};
  /// TCP+TLS connect timeout; 30 s as client-go's default dialer.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};

  /// Checks the config can be used: a server URL with http/https scheme and a host; a client
  /// certificate and key come together. Errors: Errc::InvalidConfig.
  [[nodiscard]] Result<void> validate() const;

  /// Loads `file` (a kubeconfig), using `context` or, when empty, its current-context. Relative
  /// paths inside are resolved against the file's directory.
  /// Errors: the file cannot be read (a std::errc code); Errc::Malformed (YAML, base64);
  /// Errc::InvalidConfig (no/unknown context, cluster or user, unsupported auth such as exec
  /// plugins, unreadable referenced files — the message says which).
  [[nodiscard]] static Result<RestConfig> from_kubeconfig(const std::filesystem::path& file,
                                                          std::string_view context = {});

  /// Same, from YAML text; `base_dir` resolves relative paths.
  [[nodiscard]] static Result<RestConfig> from_kubeconfig_yaml(
      std::string_view yaml, const std::filesystem::path& base_dir, std::string_view context = {});

  /// From `$KUBECONFIG`: the first non-empty entry of the ':'-separated list (client-go merges
  /// all files; we take the first). Errors: Errc::InvalidConfig when KUBECONFIG is unset or
  /// empty, else as from_kubeconfig.
  [[nodiscard]] static Result<RestConfig> from_env(const EnvLookup& env,
                                                   std::string_view context = {});

  /// In-cluster: `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT` (IPv6 bracketed),
  /// the service account `token` (kept as bearer_token_file too, it rotates), `ca.crt` and
  /// `namespace` under `sa_dir`. Errors: Errc::InvalidConfig when the variables are unset or
  /// the token or CA cannot be read (client-go only logs a missing CA; we refuse, since every
  /// TLS handshake would fail later with a less useful message).
  [[nodiscard]] static Result<RestConfig> in_cluster(
      const EnvLookup& env, const std::filesystem::path& sa_dir = kServiceAccountDir);

  /// client-go's default order: `explicit_path` if non-empty, else $KUBECONFIG, else in-cluster
  /// when KUBERNETES_SERVICE_HOST is set, else $HOME/.kube/config.
  [[nodiscard]] static Result<RestConfig> load_default(
      const std::filesystem::path& explicit_path,
      const EnvLookup& env,
      std::string_view context = {},
      const std::filesystem::path& sa_dir = kServiceAccountDir);

  /// A kubeconfig (YAML) for this config, with one cluster, user and context all called `name`
  /// and current-context set. Credentials that came from files are written as paths (so
  /// rotation keeps working), the rest inline as `*-data` base64; the token file as `tokenFile`,
  /// else the token inline.
  [[nodiscard]] std::string to_kubeconfig(std::string_view name = "default") const;
};

}  // namespace yurt::kube
