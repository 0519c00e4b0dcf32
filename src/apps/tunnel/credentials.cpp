#include "src/apps/tunnel/credentials.hpp"

#include "yurt/base/fs.hpp"
#include "yurt/certs/certificate.hpp"
#include "yurt/certs/key_pair.hpp"

#include "src/apps/tunnel/errc.hpp"

namespace yurt::tunnel_app {

namespace {

Result<LoadedCredentials> finish(const certs::KeyPair& pair, const std::filesystem::path& ca) {
  if (ca.empty()) {
    return fail(Errc::InvalidConfig, "no CA file to verify the peer with");
  }
  // Bounded: a CA bundle is kilobytes; a huge file here is a mistake.
  auto bundle = fs::read_file(ca, 4 << 20);
  if (!bundle) {
    return Error(bundle.error().code(), "CA file " + ca.string() + ": " + bundle.error().message());
  }
  if (auto parsed = certs::parse_certificates(*bundle); !parsed || parsed->empty()) {
    return fail(Errc::InvalidConfig,
                "CA file " + ca.string() + ": " +
                    (parsed ? std::string("no certificate") : parsed.error().message()));
  }
  LoadedCredentials out;
  out.tls.cert_chain = pair.cert_chain_pem;
  out.tls.private_key = pair.key.pem();
  out.tls.ca_bundle = std::move(*bundle);
  out.subject = pair.leaf.subject.str();
  out.serial = pair.leaf.serial;
  return out;
}

}  // namespace

Result<LoadedCredentials> load_credentials(const TlsFiles& files) {
  const auto& key = files.key_file.empty() ? files.cert_file : files.key_file;
  auto pair = certs::load_key_pair_files(files.cert_file, key);
  if (!pair) {
    return pair.error();
  }
  return finish(*pair, files.ca_file);
}

Result<LoadedCredentials> load_agent_credentials(const AgentSettings& settings,
                                                 const Clock& clock) {
  if (settings.cert_dir.empty()) {
    return load_credentials(settings.tls);
  }
  certs::KeyPairStore store(settings.cert_dir, settings.cert_prefix, clock);
  auto pair = store.load();
  if (!pair) {
    return Error(pair.error().code(),
                 store.current_path().string() + ": " + pair.error().message());
  }
  return finish(*pair, settings.tls.ca_file);
}

}  // namespace yurt::tunnel_app
