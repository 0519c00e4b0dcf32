#pragma once

// Key material from files, checked before use: a certificate chain with the key of its leaf and
// the CA bundle that verifies peers.

#include <filesystem>
#include <string>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"
#include "yurt/net/tls_context.hpp"

#include "src/apps/tunnel/settings.hpp"

namespace yurt::tunnel_app {

/// Credentials plus what the leaf says, for logs.
struct LoadedCredentials {
  net::TlsCredentials tls;
  std::string subject;  ///< "CN=system:node:edge-1, O=system:nodes"
  std::string serial;
};

/// Loads files.cert_file / key_file (key_file "" = the combined cert_file) and files.ca_file.
/// Errors name the file and why (missing, unreadable, a key that is not the leaf's, no CA).
[[nodiscard]] Result<LoadedCredentials> load_credentials(const TlsFiles& files);

/// The agent's identity: `<cert_dir>/<prefix>-current.pem` (the kubelet's layout) when
/// `cert_dir` is set, else the files; the CA from files.ca_file.
[[nodiscard]] Result<LoadedCredentials> load_agent_credentials(const AgentSettings& settings,
                                                               const Clock& clock);

}  // namespace yurt::tunnel_app
