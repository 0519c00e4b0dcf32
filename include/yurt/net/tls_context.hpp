#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "yurt/base/result.hpp"

namespace yurt::net {

namespace detail {
struct TlsAccess;
}  // namespace detail

/// PEM-encoded key material, as read from files or Secrets.
struct TlsCredentials {
  std::string cert_chain;   ///< leaf certificate first, then intermediates; empty = none
  std::string private_key;  ///< key of the leaf (PKCS#8 or traditional PEM)
  std::string ca_bundle;    ///< one or more CA certificates that verify the peer
};

/// How a server treats client certificates.
enum class ClientAuth {
  None,           ///< do not ask for one
  VerifyIfGiven,  ///< ask; verify against the CA bundle when the client sends one (apiserver)
  Require,        ///< mTLS: a certificate that verifies against the CA bundle is mandatory
};

struct TlsServerOptions {
  TlsCredentials credentials;  ///< cert_chain and private_key are required
  ClientAuth client_auth = ClientAuth::None;
  bool require_tls13 = false;  ///< default minimum is TLS 1.2 (the tunnel requires 1.3)
};

struct TlsClientOptions {
  TlsCredentials credentials;  ///< certificate optional (mTLS); empty ca_bundle = system roots
  /// Name to send as SNI and to verify instead of the host dialled (kubeconfig tls-server-name).
  std::string server_name;
  bool insecure_skip_verify = false;  ///< kubeconfig insecure-skip-tls-verify; never default
  bool require_tls13 = false;
};

/// What the peer's certificate says, for authorization (the tunnel server binds agents by CN).
struct PeerIdentity {
  std::string common_name;
  std::vector<std::string> organizations;  ///< every O= of the subject (Kubernetes groups)
  std::vector<std::string> dns_names;      ///< DNS subject alternative names
  std::vector<std::string> ip_addresses;   ///< IP SANs, textual ("10.0.0.1", "fd00::1")
  std::string serial;                      ///< serial number, upper-case hex
};

/// The negotiated parameters of an established TLS session.
struct TlsSessionInfo {
  std::string version;               ///< "TLSv1.3"
  std::string alpn;                  ///< selected protocol ("http/1.1"), empty if none
  std::optional<PeerIdentity> peer;  ///< absent when the peer sent no certificate
};

/// A TLS configuration (an OpenSSL SSL_CTX underneath) for servers or clients: PEM key material,
/// TLS ≥ 1.2, ALPN `http/1.1`, optional mutual authentication. Clients verify the server's
/// certificate chain and its host name or IP SAN (SNI is sent for host names).
///
/// Hot swap: update() builds a new SSL_CTX and publishes it atomically. Handshakes started after
/// update() use the new material; established connections keep the snapshot they started with.
///
/// @par Thread Safety
/// All member functions are safe to call concurrently (update() from the reload thread while
/// workers accept connections).
/// @par Lifetime
/// Shared by the listeners, clients and connections that use it (std::shared_ptr).
/// @par Errors
/// Unparsable PEM, a key that does not match its certificate or an empty CA bundle where one is
/// needed yield Errc::TlsConfig with a message naming the part and OpenSSL's reason.
class TlsContext {
 public:
  [[nodiscard]] static Result<std::shared_ptr<TlsContext>> server(TlsServerOptions options);
  [[nodiscard]] static Result<std::shared_ptr<TlsContext>> client(TlsClientOptions options);

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  /// Replaces the key material (same options otherwise). On error the current snapshot stays.
  [[nodiscard]] Result<void> update(TlsCredentials credentials);

  [[nodiscard]] bool is_server() const noexcept;
  /// The client's server-name override ("" = verify the dialled host).
  [[nodiscard]] const std::string& server_name() const noexcept;
  /// Incremented by every successful update(); 0 after construction.
  [[nodiscard]] std::uint64_t generation() const noexcept;

 private:
  struct Impl;
  friend struct detail::TlsAccess;
  explicit TlsContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace yurt::net
