#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"
#include "yurt/certs/certificate.hpp"
#include "yurt/certs/errc.hpp"
#include "yurt/certs/key.hpp"

namespace yurt::certs {

/// A certificate chain with the private key of its leaf, checked to belong together.
struct KeyPair {
  std::string cert_chain_pem;  ///< leaf first, normalised PEM
  PrivateKey key;
  CertificateInfo leaf;
};

/// Builds a KeyPair from a certificate chain and a key in PEM. Errors: Malformed (either PEM,
/// no certificate); Unsupported (key type); KeyMismatch (never hand out a key that is not the
/// leaf's).
[[nodiscard]] Result<KeyPair> make_key_pair(std::string_view cert_chain_pem,
                                            std::string_view key_pem);

/// Parses one combined PEM (the kubelet's `*-current.pem`): CERTIFICATE blocks (the first is the
/// leaf) and exactly one private key block, in any order. Same errors as make_key_pair.
[[nodiscard]] Result<KeyPair> parse_combined_pem(std::string_view pem);

/// The combined PEM we write: the chain, then the key (PKCS#8), as the kubelet does.
[[nodiscard]] std::string combined_pem(const KeyPair& pair);

/// Loads separate certificate and key files (kubeconfig client-certificate/client-key, the
/// kubelet's --tls-cert-file/--tls-private-key-file). Both may be the same combined file.
/// Errors: as fs::read_file (std::errc codes) and make_key_pair, messages naming the files.
[[nodiscard]] Result<KeyPair> load_key_pair_files(const std::filesystem::path& cert_file,
                                                  const std::filesystem::path& key_file);

/// A rotating key pair on disk in the kubelet's layout (client-go `certificate.NewFileStore`):
///
///     <dir>/<prefix>-2026-01-02-03-04-05.pem   chain + key, mode 0600, one file per rotation
///     <dir>/<prefix>-current.pem -> <prefix>-2026-01-02-03-04-05.pem   (symlink)
///
/// so yurthub can use `kubelet-client-current.pem` and tools that read the kubelet's directory
/// can read ours. Unlike client-go we never leave a moment without `-current.pem`: the new
/// symlink is created under a temporary name and renamed over the old one (rename(2) is
/// atomic), then the directory is fsynced. The pair file itself is written with
/// fs::atomic_write, so a crash leaves the old pair or the new one, never a torn file. The link
/// target is relative (the file name), so the directory can be mounted elsewhere (a container's
/// hostPath) and still resolve. Timestamps are UTC, from the injected Clock.
///
/// @par Thread Safety
/// Not synchronised: one writer per directory and prefix (the certificate manager). Readers in
/// other processes always see a complete pair.
/// @par Lifetime
/// The Clock must outlive the store.
class KeyPairStore {
 public:
  KeyPairStore(std::filesystem::path dir, std::string prefix, const Clock& clock);

  /// `<dir>/<prefix>-current.pem`.
  [[nodiscard]] std::filesystem::path current_path() const;

  /// Loads the current pair. When `-current.pem` is missing but a kubelet left
  /// `<prefix>-updated.pem` (client-go crashed between its two steps), that one is loaded.
  /// Errors: NotFound when neither exists; Malformed (a torn or foreign file, with the path and
  /// the PEM line); KeyMismatch; std::errc codes for I/O.
  [[nodiscard]] Result<KeyPair> load() const;

  /// Stores a new pair and makes it current. The pair is validated first (KeyMismatch and
  /// Malformed write nothing), written to a new timestamped file, read back and re-validated,
  /// and only then linked as current. Creates `dir` (0700) when missing. Returns the stored pair.
  /// A `-current.pem` that is a regular file (made by hand or by OpenYurt's servant) is
  /// replaced by the link atomically.
  [[nodiscard]] Result<KeyPair> store(std::string_view cert_chain_pem, const PrivateKey& key);

  /// Deletes timestamped pair files beyond the newest `keep` (never the current one) and our
  /// leftover temporary links. Returns how many files were removed.
  [[nodiscard]] Result<std::size_t> prune(std::size_t keep);

  /// The timestamped pair files present, oldest first (file names).
  [[nodiscard]] Result<std::vector<std::string>> pair_files() const;

 private:
  std::filesystem::path dir_;
  std::string prefix_;
  const Clock* clock_;
};

}  // namespace yurt::certs
