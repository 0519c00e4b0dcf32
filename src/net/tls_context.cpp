#include "yurt/net/tls_context.hpp"

#include <atomic>
#include <cstring>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "yurt/net/errc.hpp"

#include "src/net/tls_internal.hpp"

namespace yurt::net {
namespace {

namespace ssl = asio::ssl;

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

// ALPN wire format: length-prefixed protocol names. We speak HTTP/1.1 only.
constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// Drains OpenSSL's error queue into one line (the queue is per thread; clear it either way).
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) {
      out += "; ";
    }
    const char* reason = ERR_reason_error_string(e);
    out += reason != nullptr ? reason : buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

BioPtr memory_bio(std::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

Result<std::vector<X509Ptr>> parse_certificates(std::string_view pem, std::string_view what) {
  ERR_clear_error();
  auto bio = memory_bio(pem);
  std::vector<X509Ptr> certs;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(x);
  }
  // Reading stops with PEM_R_NO_START_LINE at the end of the input; anything else is damage.
  unsigned long last = ERR_peek_last_error();
  if (last != 0 &&
      !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
    return fail(Errc::TlsConfig, std::string(what) + ": " + openssl_errors());
  }
  ERR_clear_error();
  if (certs.empty()) {
    return fail(Errc::TlsConfig, std::string(what) + ": no PEM certificate found");
  }
  return certs;
}

Result<KeyPtr> parse_key(std::string_view pem) {
  ERR_clear_error();
  auto bio = memory_bio(pem);
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return fail(Errc::TlsConfig, "private key: " + openssl_errors());
  }
  return key;
}

int select_alpn(SSL* /*ssl*/,
                const unsigned char** out,
                unsigned char* outlen,
                const unsigned char* in,
                unsigned int inlen,
                void* /*arg*/) {
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kAlpn, sizeof kAlpn, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }
  // A client offering only other protocols (h2) gets no ALPN answer rather than a fatal alert;
  // it may still fall back to HTTP/1.1.
  return SSL_TLSEXT_ERR_NOACK;
}

struct Config {
  bool server = false;
  TlsServerOptions server_options;
  TlsClientOptions client_options;
};

Result<std::shared_ptr<ssl::context>> build(const Config& config, const TlsCredentials& creds) {
  auto context = std::make_shared<ssl::context>(config.server ? ssl::context::tls_server
                                                              : ssl::context::tls_client);
  SSL_CTX* ctx = context->native_handle();
  bool tls13 =
      config.server ? config.server_options.require_tls13 : config.client_options.require_tls13;
  SSL_CTX_set_min_proto_version(ctx, tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Idle keep-alive and watch connections are the common case on small edge nodes: give their
  // record buffers back while they wait.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);

  if (!creds.cert_chain.empty()) {
    auto chain = parse_certificates(creds.cert_chain, "certificate chain");
    if (!chain) {
      return chain.error();
    }
    if (creds.private_key.empty()) {
      return fail(Errc::TlsConfig, "certificate chain given without a private key");
    }
    auto key = parse_key(creds.private_key);
    if (!key) {
      return key.error();
    }
    ERR_clear_error();
    if (SSL_CTX_use_certificate(ctx, chain->front().get()) != 1) {
      return fail(Errc::TlsConfig, "certificate: " + openssl_errors());
    }
    for (std::size_t i = 1; i < chain->size(); ++i) {
      if (SSL_CTX_add1_chain_cert(ctx, (*chain)[i].get()) != 1) {
        return fail(Errc::TlsConfig, "intermediate certificate: " + openssl_errors());
      }
    }
    if (SSL_CTX_use_PrivateKey(ctx, key->get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
      return fail(Errc::TlsConfig,
                  "private key does not match the certificate: " + openssl_errors());
    }
  } else if (config.server) {
    return fail(Errc::TlsConfig, "a TLS server needs a certificate chain and key");
  } else if (!creds.private_key.empty()) {
    return fail(Errc::TlsConfig, "private key given without a certificate chain");
  }

  bool verify_peer = config.server ? config.server_options.client_auth != ClientAuth::None
                                   : !config.client_options.insecure_skip_verify;
  if (verify_peer) {
    if (!creds.ca_bundle.empty()) {
      auto cas = parse_certificates(creds.ca_bundle, "CA bundle");
      if (!cas) {
        return cas.error();
      }
      X509_STORE* store = SSL_CTX_get_cert_store(ctx);
      STACK_OF(X509_NAME)* names = config.server ? sk_X509_NAME_new_null() : nullptr;
      for (auto& ca : *cas) {
        X509_STORE_add_cert(store, ca.get());
        if (names != nullptr) {
          sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca.get())));
        }
      }
      if (names != nullptr) {
        // Tells clients which CAs we accept, so one with several certificates picks the right one.
        SSL_CTX_set_client_CA_list(ctx, names);
      }
    } else if (config.server) {
      return fail(Errc::TlsConfig, "client certificate verification needs a CA bundle");
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return fail(Errc::TlsConfig, "system CA certificates: " + openssl_errors());
    }
  }

  if (config.server) {
    int mode = SSL_VERIFY_NONE;
    if (config.server_options.client_auth == ClientAuth::VerifyIfGiven) {
      mode = SSL_VERIFY_PEER;
    } else if (config.server_options.client_auth == ClientAuth::Require) {
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx, mode, nullptr);
    // Required for session resumption once client certificates are verified.
    static constexpr unsigned char kSessionContext[] = "yurt";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
    if (SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn) != 0) {  // 0 is success here
      return fail(Errc::TlsConfig, "ALPN: " + openssl_errors());
    }
  }
  return context;
}

std::string asn1_utf8(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0) {
    return {};
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

PeerIdentity identity_of(X509* cert) {
  PeerIdentity id;
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) >= 0;) {
    id.common_name = asn1_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    break;  // the first CN, as Go's x509 and Kubernetes use it
  }
  for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) >= 0;) {
    id.organizations.push_back(
        asn1_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i))));
  }
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type == GEN_DNS) {
        id.dns_names.push_back(asn1_utf8(name->d.dNSName));
      } else if (name->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* ip = name->d.iPAddress;
        const unsigned char* p = ASN1_STRING_get0_data(ip);
        if (ASN1_STRING_length(ip) == 4) {
          asio::ip::address_v4::bytes_type b;
          std::memcpy(b.data(), p, 4);
          id.ip_addresses.push_back(asio::ip::address_v4(b).to_string());
        } else if (ASN1_STRING_length(ip) == 16) {
          asio::ip::address_v6::bytes_type b;
          std::memcpy(b.data(), p, 16);
          id.ip_addresses.push_back(asio::ip::address_v6(b).to_string());
        }
      }
    }
    GENERAL_NAMES_free(sans);
  }
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      id.serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  return id;
}

}  // namespace

struct TlsContext::Impl {
  Config config;
  std::atomic<std::shared_ptr<ssl::context>> current;
  std::atomic<std::uint64_t> generation{0};
  std::mutex update_mutex;  // serializes update(); readers never take it
};

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::server(TlsServerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config.server = true;
  impl->config.server_options = std::move(options);
  auto built = build(impl->config, impl->config.server_options.credentials);
  if (!built) {
    return built.error();
  }
  impl->current.store(std::move(*built));
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

Result<std::shared_ptr<TlsContext>> TlsContext::client(TlsClientOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config.client_options = std::move(options);
  auto built = build(impl->config, impl->config.client_options.credentials);
  if (!built) {
    return built.error();
  }
  impl->current.store(std::move(*built));
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

Result<void> TlsContext::update(TlsCredentials credentials) {
  std::lock_guard lock(impl_->update_mutex);
  auto built = build(impl_->config, credentials);
  if (!built) {
    return built.error();
  }
  impl_->current.store(std::move(*built));
  impl_->generation.fetch_add(1);
  // Keep the options' copy current so a later update() with partial material is not needed.
  (impl_->config.server ? impl_->config.server_options.credentials
                        : impl_->config.client_options.credentials) = std::move(credentials);
  return {};
}

bool TlsContext::is_server() const noexcept {
  return impl_->config.server;
}

const std::string& TlsContext::server_name() const noexcept {
  return impl_->config.client_options.server_name;
}

std::uint64_t TlsContext::generation() const noexcept {
  return impl_->generation.load();
}

std::shared_ptr<ssl::context> detail::TlsAccess::snapshot(const TlsContext& context) {
  return context.impl_->current.load();
}

Result<void> prepare_client_stream(SSL* ssl, const TlsContext& context, const std::string& host) {
  const std::string& name = context.server_name().empty() ? host : context.server_name();
  boost::system::error_code ec;
  auto address = asio::ip::make_address(name, ec);
  bool is_ip = !ec;
  // SNI carries host names only (RFC 6066 §3).
  if (!is_ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) {
    return fail(Errc::TlsConfig, "server name \"" + name + "\": " + openssl_errors());
  }
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, address.to_string().c_str())
                 : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  if (ok != 1) {
    return fail(Errc::TlsConfig, "server name \"" + name + "\": " + openssl_errors());
  }
  return {};
}

std::string handshake_failure(SSL* ssl, const boost::system::error_code& /*ec*/) {
  long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) {
    return {};
  }
  return std::string(" (verify: ") + X509_verify_cert_error_string(result) + ")";
}

std::optional<TlsSessionInfo> session_info(SSL* ssl) {
  if (SSL_is_init_finished(ssl) != 1) {
    return std::nullopt;
  }
  TlsSessionInfo info;
  info.version = SSL_get_version(ssl);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn != nullptr) {
    info.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  }
  if (X509* peer = SSL_get0_peer_certificate(ssl)) {
    info.peer = identity_of(peer);
  }
  return info;
}

// ---- TlsStream ----

TlsStream::TlsStream(asio::ip::tcp::socket socket, std::shared_ptr<ssl::context> context)
    : context_(std::move(context)), stream_(std::move(socket), *context_) {}

void TlsStream::async_read_some(detail::MutableBuffers buffers, AnyStream::IoHandler handler) {
  stream_.async_read_some(buffers, std::move(handler));
}

void TlsStream::async_write_some(detail::ConstBuffers buffers, AnyStream::IoHandler handler) {
  stream_.async_write_some(buffers, std::move(handler));
}

void TlsStream::async_shutdown_send(AnyStream::ShutdownHandler handler) {
  // A TLS half-close is a close_notify alert. Asio's async_shutdown also waits for the peer's
  // close_notify, reading from the stream — which would collide with the read the other splice
  // direction keeps pending. Marking the peer's close_notify as already received makes
  // SSL_shutdown send ours and finish, so the operation only writes; the flag is restored before
  // any read can look at it (the first engine step runs inside the initiating call).
  SSL* ssl = stream_.native_handle();
  int before = SSL_get_shutdown(ssl);
  SSL_set_shutdown(ssl, before | SSL_RECEIVED_SHUTDOWN);
  stream_.async_shutdown(std::move(handler));
  SSL_set_shutdown(
      ssl, (SSL_get_shutdown(ssl) & ~SSL_RECEIVED_SHUTDOWN) | (before & SSL_RECEIVED_SHUTDOWN));
}

void TlsStream::close() noexcept {
  boost::system::error_code ec;
  stream_.next_layer().close(ec);
}

bool TlsStream::is_open() const noexcept {
  return stream_.next_layer().is_open();
}

std::optional<TlsSessionInfo> TlsStream::tls() const {
  // native_handle() is not const in Asio; reading session facts changes nothing.
  return session_info(const_cast<ssl::stream<asio::ip::tcp::socket>&>(stream_).native_handle());
}

std::string TlsStream::remote_endpoint() const {
  boost::system::error_code ec;
  auto ep = stream_.next_layer().remote_endpoint(ec);
  return ec ? std::string() : to_string(ep);
}

bool TlsStream::readable_while_idle() const {
  return socket_readable_now(stream_.next_layer());
}

}  // namespace yurt::net
