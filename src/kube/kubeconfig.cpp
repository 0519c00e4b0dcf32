#include "yurt/kube/kubeconfig.hpp"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "yurt/kube/base64.hpp"

#include "src/kube/text.hpp"

namespace yurt::kube {
namespace {

namespace fs = std::filesystem;

// Kubeconfigs, certificates and tokens are small; refuse to slurp anything absurd.
constexpr std::uintmax_t kMaxFileSize = 16u << 20;

Error invalid_config(std::string message) {
  return fail(Errc::InvalidConfig, std::move(message));
}
Error malformed(std::string message) {
  return fail(Errc::Malformed, std::move(message));
}

Result<std::string> read_file(const fs::path& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    const int err = errno != 0 ? errno : ENOENT;
    return Error(std::error_code(err, std::generic_category()),
                 "cannot open " + text::quote(path.string()));
  }
  std::string data;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<std::size_t>(in.gcount()));
    if (data.size() > kMaxFileSize) {
      return invalid_config(text::quote(path.string()) + " is larger than 16 MiB");
    }
  }
  if (in.bad()) {
    return Error(std::make_error_code(std::errc::io_error),
                 "cannot read " + text::quote(path.string()));
  }
  return data;
}

std::string trim(std::string s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.back())) {
    s.pop_back();
  }
  std::size_t start = 0;
  while (start < s.size() && is_space(s[start])) {
    ++start;
  }
  return s.substr(start);
}

fs::path resolve(const fs::path& base_dir, const std::string& p) {
  fs::path path(p);
  if (path.is_relative() && !base_dir.empty()) {
    return base_dir / path;
  }
  return path;
}

// ---- YAML access with precise messages; no yaml-cpp exception leaves this file.

Result<std::string> get_string(const YAML::Node& map, const char* key, const std::string& where) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) {
    return std::string{};
  }
  if (!n.IsScalar()) {
    return malformed(where + "." + key + ": expected a string");
  }
  return n.Scalar();
}

Result<bool> get_bool(const YAML::Node& map, const char* key, const std::string& where) {
  const YAML::Node n = map[key];
  if (!n.IsDefined() || n.IsNull()) {
    return false;
  }
  bool value = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, value)) {
    return malformed(where + "." + key + ": expected true or false");
  }
  return value;
}

struct Named {
  std::string name;
  YAML::Node body;
};

// `clusters: [{name: x, cluster: {...}}]`. Later entries with the same name win, as in client-go.
Result<std::vector<Named>> named_list(const YAML::Node& root, const char* list, const char* item) {
  std::vector<Named> out;
  const YAML::Node seq = root[list];
  if (!seq.IsDefined() || seq.IsNull()) {
    return out;
  }
  if (!seq.IsSequence()) {
    return malformed(std::string(list) + ": expected a list");
  }
  for (std::size_t i = 0; i < seq.size(); ++i) {
    const std::string where = std::string(list) + "[" + std::to_string(i) + "]";
    const YAML::Node entry = seq[i];
    if (!entry.IsMap()) {
      return malformed(where + ": expected a map with name and " + item);
    }
    auto name = get_string(entry, "name", where);
    if (!name) {
      return name.error();
    }
    if (name->empty()) {
      return malformed(where + ": has no name");
    }
    const YAML::Node body = entry[item];
    if (body.IsDefined() && !body.IsNull() && !body.IsMap()) {
      return malformed(where + "." + item + ": expected a map");
    }
    // A missing key yields an invalid node on which anything but IsDefined() throws.
    out.push_back({std::move(*name),
                   body.IsDefined() && body.IsMap() ? body : YAML::Node(YAML::NodeType::Map)});
  }
  return out;
}

const Named* find(const std::vector<Named>& list, const std::string& name) {
  const Named* found = nullptr;
  for (const auto& n : list) {
    if (n.name == name) {
      found = &n;
    }
  }
  return found;
}

// `<key>-data` (base64) wins over `<key>` (a path), as in client-go.
struct Material {
  std::string pem;
  fs::path file;
};
Result<Material> load_material(const YAML::Node& map,
                               const std::string& key,
                               const std::string& where,
                               const fs::path& base_dir) {
  const std::string data_key = key + "-data";
  auto data = get_string(map, data_key.c_str(), where);
  if (!data) {
    return data.error();
  }
  if (!data->empty()) {
    auto decoded = base64_decode(*data);
    if (!decoded) {
      return malformed(where + "." + data_key + ": " + decoded.error().message());
    }
    return Material{std::move(*decoded), {}};
  }
  auto path = get_string(map, key.c_str(), where);
  if (!path) {
    return path.error();
  }
  if (path->empty()) {
    return Material{};
  }
  const fs::path file = resolve(base_dir, *path);
  auto bytes = read_file(file);
  if (!bytes) {
    return invalid_config(where + "." + key + ": " + bytes.error().what());
  }
  return Material{std::move(*bytes), file};
}

Result<RestConfig> parse(const YAML::Node& root,
                         const fs::path& base_dir,
                         std::string_view context_arg) {
  if (!root.IsDefined() || root.IsNull()) {
    return invalid_config("kubeconfig is empty");
  }
  if (!root.IsMap()) {
    return malformed("kubeconfig: expected a map at the top level");
  }
  auto clusters = named_list(root, "clusters", "cluster");
  if (!clusters) {
    return clusters.error();
  }
  auto users = named_list(root, "users", "user");
  if (!users) {
    return users.error();
  }
  auto contexts = named_list(root, "contexts", "context");
  if (!contexts) {
    return contexts.error();
  }
  auto current = get_string(root, "current-context", "kubeconfig");
  if (!current) {
    return current.error();
  }
  const std::string context_name = context_arg.empty() ? *current : std::string(context_arg);
  if (context_name.empty()) {
    return invalid_config("kubeconfig has no current-context and no context was given");
  }
  const Named* context = find(*contexts, context_name);
  if (context == nullptr) {
    return invalid_config("context " + text::quote(context_name) + " not found in kubeconfig");
  }
  const std::string cwhere = "context " + text::quote(context_name);
  auto cluster_name = get_string(context->body, "cluster", cwhere);
  if (!cluster_name) {
    return cluster_name.error();
  }
  auto user_name = get_string(context->body, "user", cwhere);
  if (!user_name) {
    return user_name.error();
  }
  auto ns = get_string(context->body, "namespace", cwhere);
  if (!ns) {
    return ns.error();
  }
  if (cluster_name->empty()) {
    return invalid_config(cwhere + " names no cluster");
  }
  const Named* cluster = find(*clusters, *cluster_name);
  if (cluster == nullptr) {
    return invalid_config("cluster " + text::quote(*cluster_name) + " (of " + cwhere +
                          ") not found in kubeconfig");
  }

  RestConfig cfg;
  cfg.namespace_name = std::move(*ns);
  const std::string where = "cluster " + text::quote(*cluster_name);
  auto server = get_string(cluster->body, "server", where);
  if (!server) {
    return server.error();
  }
  if (server->empty()) {
    return invalid_config(where + " has no server");
  }
  cfg.server = std::move(*server);
  while (cfg.server.ends_with('/') && !cfg.server.ends_with("://")) {
    cfg.server.pop_back();
  }
  auto insecure = get_bool(cluster->body, "insecure-skip-tls-verify", where);
  if (!insecure) {
    return insecure.error();
  }
  cfg.insecure_skip_tls_verify = *insecure;
  auto sni = get_string(cluster->body, "tls-server-name", where);
  if (!sni) {
    return sni.error();
  }
  cfg.tls_server_name = std::move(*sni);
  auto ca = load_material(cluster->body, "certificate-authority", where, base_dir);
  if (!ca) {
    return ca.error();
  }
  if (cfg.insecure_skip_tls_verify && !ca->pem.empty()) {
    // client-go refuses this combination too: which one did the user mean?
    return invalid_config(where +
                          ": a certificate authority together with "
                          "insecure-skip-tls-verify is not allowed");
  }
  cfg.ca_pem = std::move(ca->pem);
  cfg.ca_file = std::move(ca->file);

  if (!user_name->empty()) {
    const Named* user = find(*users, *user_name);
    if (user == nullptr) {
      return invalid_config("user " + text::quote(*user_name) + " (of " + cwhere +
                            ") not found in kubeconfig");
    }
    const std::string uwhere = "user " + text::quote(*user_name);
    for (const char* unsupported :
         {"exec", "auth-provider", "username", "password", "as", "as-uid", "as-groups"}) {
      const YAML::Node n = user->body[unsupported];
      if (n.IsDefined() && !n.IsNull()) {
        return invalid_config(uwhere + ": " + unsupported +
                              " is not supported (use a client certificate or a token)");
      }
    }
    auto cert = load_material(user->body, "client-certificate", uwhere, base_dir);
    if (!cert) {
      return cert.error();
    }
    auto key = load_material(user->body, "client-key", uwhere, base_dir);
    if (!key) {
      return key.error();
    }
    cfg.client_cert_pem = std::move(cert->pem);
    cfg.client_cert_file = std::move(cert->file);
    cfg.client_key_pem = std::move(key->pem);
    cfg.client_key_file = std::move(key->file);
    auto token = get_string(user->body, "token", uwhere);
    if (!token) {
      return token.error();
    }
    auto token_file = get_string(user->body, "tokenFile", uwhere);
    if (!token_file) {
      return token_file.error();
    }
    cfg.bearer_token = trim(std::move(*token));
    if (!token_file->empty()) {
      cfg.bearer_token_file = resolve(base_dir, *token_file);
      if (cfg.bearer_token.empty()) {
        auto bytes = read_file(cfg.bearer_token_file);
        if (!bytes) {
          return invalid_config(uwhere + ".tokenFile: " + bytes.error().what());
        }
        cfg.bearer_token = trim(std::move(*bytes));
      }
    }
  }
  if (auto ok = cfg.validate(); !ok) {
    return ok.error();
  }
  return cfg;
}

void emit_material(YAML::Emitter& out,
                   const char* key,
                   const std::string& pem,
                   const fs::path& file) {
  if (!file.empty()) {
    out << YAML::Key << key << YAML::Value << file.string();
  } else if (!pem.empty()) {
    out << YAML::Key << (std::string(key) + "-data") << YAML::Value << base64_encode(pem);
  }
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    // Read at start-up only (config loading), never concurrently with setenv.
    const char* v = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (v == nullptr) {
      return std::nullopt;
    }
    return std::string(v);
  };
}

Result<void> RestConfig::validate() const {
  std::string_view rest;
  if (server.starts_with("https://")) {
    rest = std::string_view(server).substr(8);
  } else if (server.starts_with("http://")) {
    rest = std::string_view(server).substr(7);
  } else {
    return invalid_config("server " + text::quote(server) + " must be an http:// or https:// URL");
  }
  if (rest.empty() || rest.front() == '/' || rest.front() == ':') {
    return invalid_config("server " + text::quote(server) + " has no host");
  }
  if (client_cert_pem.empty() != client_key_pem.empty()) {
    return invalid_config("a client certificate needs a client key and vice versa");
  }
  return {};
}

Result<RestConfig> RestConfig::from_kubeconfig_yaml(std::string_view yaml,
                                                    const fs::path& base_dir,
                                                    std::string_view context) {
  try {
    const YAML::Node root = YAML::Load(std::string(yaml));
    return parse(root, base_dir, context);
  } catch (const YAML::Exception& e) {
    // The mark says where: "yaml-cpp: error at line 3, column 7: …".
    return malformed(std::string("kubeconfig: ") + e.what());
  }
}

Result<RestConfig> RestConfig::from_kubeconfig(const fs::path& file, std::string_view context) {
  auto yaml = read_file(file);
  if (!yaml) {
    return Error(yaml.error().code(), "kubeconfig: " + yaml.error().message());
  }
  auto cfg = from_kubeconfig_yaml(*yaml, file.parent_path(), context);
  if (!cfg) {
    return Error(cfg.error().code(), file.string() + ": " + cfg.error().message());
  }
  return cfg;
}

Result<RestConfig> RestConfig::from_env(const EnvLookup& env, std::string_view context) {
  const auto value = env("KUBECONFIG");
  std::string_view list = value ? std::string_view(*value) : std::string_view{};
  while (!list.empty()) {
    const auto colon = list.find(':');
    const auto entry = list.substr(0, colon);
    list = colon == std::string_view::npos ? std::string_view{} : list.substr(colon + 1);
    if (!entry.empty()) {
      return from_kubeconfig(fs::path(entry), context);
    }
  }
  return invalid_config("KUBECONFIG is not set or names no file");
}

Result<RestConfig> RestConfig::in_cluster(const EnvLookup& env, const fs::path& sa_dir) {
  const auto host = env("KUBERNETES_SERVICE_HOST");
  const auto port = env("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return invalid_config(
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT must be defined");
  }
  RestConfig cfg;
  const bool ipv6 = host->find(':') != std::string::npos;
  cfg.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
  cfg.bearer_token_file = sa_dir / "token";
  auto token = read_file(cfg.bearer_token_file);
  if (!token) {
    return invalid_config("in-cluster service account token: " + token.error().what());
  }
  cfg.bearer_token = trim(std::move(*token));
  cfg.ca_file = sa_dir / "ca.crt";
  auto ca = read_file(cfg.ca_file);
  if (!ca) {
    return invalid_config("in-cluster CA: " + ca.error().what());
  }
  cfg.ca_pem = std::move(*ca);
  // As clientcmd's in-cluster config: POD_NAMESPACE, else the service account's namespace.
  if (auto pod_ns = env("POD_NAMESPACE"); pod_ns && !pod_ns->empty()) {
    cfg.namespace_name = *pod_ns;
  } else if (auto ns = read_file(sa_dir / "namespace")) {
    cfg.namespace_name = trim(std::move(*ns));
  }
  if (auto ok = cfg.validate(); !ok) {
    return ok.error();
  }
  return cfg;
}

Result<RestConfig> RestConfig::load_default(const fs::path& explicit_path,
                                            const EnvLookup& env,
                                            std::string_view context,
                                            const fs::path& sa_dir) {
  if (!explicit_path.empty()) {
    return from_kubeconfig(explicit_path, context);
  }
  if (auto kc = env("KUBECONFIG"); kc && kc->find_first_not_of(':') != std::string::npos) {
    return from_env(env, context);
  }
  if (auto host = env("KUBERNETES_SERVICE_HOST"); host && !host->empty()) {
    return in_cluster(env, sa_dir);
  }
  if (auto home = env("HOME"); home && !home->empty()) {
    return from_kubeconfig(fs::path(*home) / ".kube" / "config", context);
  }
  return invalid_config("no kubeconfig: give --kubeconfig, set KUBECONFIG, or run in a cluster");
}

std::string RestConfig::to_kubeconfig(std::string_view name_view) const {
  const std::string name(name_view);
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Config";

  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  out << YAML::Key << "cluster" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "server" << YAML::Value << server;
  emit_material(out, "certificate-authority", ca_pem, ca_file);
  if (insecure_skip_tls_verify) {
    out << YAML::Key << "insecure-skip-tls-verify" << YAML::Value << true;
  }
  if (!tls_server_name.empty()) {
    out << YAML::Key << "tls-server-name" << YAML::Value << tls_server_name;
  }
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;

  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  out << YAML::Key << "context" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cluster" << YAML::Value << name;
  out << YAML::Key << "user" << YAML::Value << name;
  if (!namespace_name.empty()) {
    out << YAML::Key << "namespace" << YAML::Value << namespace_name;
  }
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::Key << "current-context" << YAML::Value << name;

  out << YAML::Key << "users" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  out << YAML::Key << "user" << YAML::Value << YAML::BeginMap;
  emit_material(out, "client-certificate", client_cert_pem, client_cert_file);
  emit_material(out, "client-key", client_key_pem, client_key_file);
  if (!bearer_token_file.empty()) {
    out << YAML::Key << "tokenFile" << YAML::Value << bearer_token_file.string();
  } else if (!bearer_token.empty()) {
    out << YAML::Key << "token" << YAML::Value << bearer_token;
  }
  out << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace yurt::kube
