#include "yurt/kube/kubeconfig.hpp"

#include <cstdlib>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "yurt/kube/base64.hpp"

namespace yurt::kube {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kCa = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
constexpr std::string_view kCert = "-----BEGIN CERTIFICATE-----\nME\n-----END CERTIFICATE-----\n";
constexpr std::string_view kKey = "-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----\n";

class Kubeconfig : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "yurt-kubeconfig-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const fs::path& rel, std::string_view content) const {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

  static EnvLookup env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end()) {
        return std::nullopt;
      }
      return it->second;
    };
  }

  fs::path dir_;
};

std::string inline_config() {
  return "apiVersion: v1\n"
         "kind: Config\n"
         "current-context: edge\n"
         "clusters:\n"
         "- name: cloud\n"
         "  cluster:\n"
         "    server: https://10.0.0.1:6443/\n"
         "    certificate-authority-data: " +
         base64_encode(kCa) +
         "\n"
         "    tls-server-name: kubernetes\n"
         "contexts:\n"
         "- name: edge\n"
         "  context: {cluster: cloud, user: node, namespace: kube-system}\n"
         "- name: other\n"
         "  context: {cluster: cloud, user: tok}\n"
         "users:\n"
         "- name: node\n"
         "  user:\n"
         "    client-certificate-data: " +
         base64_encode(kCert) +
         "\n"
         "    client-key-data: " +
         base64_encode(kKey) +
         "\n"
         "- name: tok\n"
         "  user:\n"
         "    token: \"abc.def \"\n";
}

TEST_F(Kubeconfig, InlineDataAndCurrentContext) {
  auto cfg = RestConfig::from_kubeconfig_yaml(inline_config(), dir_);
  ASSERT_TRUE(cfg) << cfg.error().what();
  EXPECT_EQ(cfg->server, "https://10.0.0.1:6443");
  EXPECT_EQ(cfg->ca_pem, kCa);
  EXPECT_TRUE(cfg->ca_file.empty());
  EXPECT_EQ(cfg->client_cert_pem, kCert);
  EXPECT_EQ(cfg->client_key_pem, kKey);
  EXPECT_EQ(cfg->tls_server_name, "kubernetes");
  EXPECT_EQ(cfg->namespace_name, "kube-system");
  EXPECT_TRUE(cfg->bearer_token.empty());
  EXPECT_FALSE(cfg->insecure_skip_tls_verify);
}

TEST_F(Kubeconfig, NamedContextWithToken) {
  auto cfg = RestConfig::from_kubeconfig_yaml(inline_config(), dir_, "other");
  ASSERT_TRUE(cfg) << cfg.error().what();
  EXPECT_EQ(cfg->bearer_token, "abc.def");
  EXPECT_TRUE(cfg->client_cert_pem.empty());
}

TEST_F(Kubeconfig, FilesRelativeToTheKubeconfig) {
  write("pki/ca.crt", kCa);
  write("pki/client.crt", kCert);
  write("abs/client.key", kKey);
  write("token", "tok-123\n");
  const fs::path file =
      write("kubelet.conf",
            "clusters:\n"
            "- name: c\n"
            "  cluster: {server: 'https://[fd00::1]:6443', certificate-authority: "
            "pki/ca.crt}\n"
            "contexts:\n"
            "- name: x\n"
            "  context: {cluster: c, user: u}\n"
            "current-context: x\n"
            "users:\n"
            "- name: u\n"
            "  user:\n"
            "    client-certificate: pki/client.crt\n"
            "    client-key: " +
                (dir_ / "abs/client.key").string() +
                "\n"
                "    tokenFile: token\n");
  auto cfg = RestConfig::from_kubeconfig(file);
  ASSERT_TRUE(cfg) << cfg.error().what();
  EXPECT_EQ(cfg->server, "https://[fd00::1]:6443");
  EXPECT_EQ(cfg->ca_pem, kCa);
  EXPECT_EQ(cfg->ca_file, file.parent_path() / "pki/ca.crt");
  EXPECT_EQ(cfg->client_cert_pem, kCert);
  EXPECT_EQ(cfg->client_key_file, dir_ / "abs/client.key");
  EXPECT_EQ(cfg->bearer_token, "tok-123");
  EXPECT_EQ(cfg->bearer_token_file, file.parent_path() / "token");
}

TEST_F(Kubeconfig, Errors) {
  const std::string good_cluster = "clusters:\n- name: c\n  cluster: {server: 'https://h:6443'}\n";
  const std::string good_context =
      "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";
  struct {
    std::string yaml;
    Errc code;
    const char* message_part;
  } cases[] = {
      {"", Errc::InvalidConfig, "kubeconfig is empty"},
      {"clusters: [\n", Errc::Malformed, "line"},
      {"- a\n- b\n", Errc::Malformed, "expected a map at the top level"},
      {"clusters: {}\n", Errc::Malformed, "clusters: expected a list"},
      {"clusters: [a]\n", Errc::Malformed, "clusters[0]: expected a map"},
      {"clusters: [{cluster: {}}]\n", Errc::Malformed, "clusters[0]: has no name"},
      {"clusters: [{name: c, cluster: x}]\n", Errc::Malformed,
       "clusters[0].cluster: expected a map"},
      {good_cluster, Errc::InvalidConfig, "no current-context"},
      {good_cluster + "current-context: nope\n", Errc::InvalidConfig, "context \"nope\" not found"},
      {good_cluster + "contexts:\n- name: x\n  context: {user: u}\ncurrent-context: x\n",
       Errc::InvalidConfig, "context \"x\" names no cluster"},
      {"contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n", Errc::InvalidConfig,
       "cluster \"c\" (of context \"x\") not found"},
      {good_cluster + good_context, Errc::InvalidConfig, "user \"u\" (of context \"x\") not found"},
      {"clusters:\n- name: c\n  cluster: {}\n" + good_context + "users: [{name: u}]\n",
       Errc::InvalidConfig, "cluster \"c\" has no server"},
      {"clusters:\n- name: c\n  cluster: {server: [x]}\n" + good_context, Errc::Malformed,
       "cluster \"c\".server: expected a string"},
      {"clusters:\n- name: c\n  cluster: {server: 'h:6443'}\n" + good_context +
           "users: [{name: u}]\n",
       Errc::InvalidConfig, "must be an http:// or https:// URL"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://'}\n" + good_context +
           "users: [{name: u}]\n",
       Errc::InvalidConfig, "has no host"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority-data: "
       "'!!notbase64'}\n" +
           good_context,
       Errc::Malformed, "certificate-authority-data: base64: illegal character at offset 0"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://h', insecure-skip-tls-verify: maybe}\n" +
           good_context,
       Errc::Malformed, "insecure-skip-tls-verify: expected true or false"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://h', insecure-skip-tls-verify: true, "
       "certificate-authority-data: QQ==}\n" +
           good_context + "users: [{name: u}]\n",
       Errc::InvalidConfig, "together with insecure-skip-tls-verify"},
      {"clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority: nope.crt}\n" +
           good_context,
       Errc::InvalidConfig, "certificate-authority: cannot open"},
      {good_cluster + good_context + "users: [{name: u, user: {client-key-data: 'QQ=='}}]\n",
       Errc::InvalidConfig, "needs a client key and vice versa"},
      {good_cluster + good_context + "users: [{name: u, user: {client-key-data: 'QQ='}}]\n",
       Errc::Malformed, "user \"u\".client-key-data: base64"},
      {good_cluster + good_context + "users: [{name: u, user: {exec: {command: x}}}]\n",
       Errc::InvalidConfig, "exec is not supported"},
      {good_cluster + good_context + "users: [{name: u, user: {username: a, password: b}}]\n",
       Errc::InvalidConfig, "username is not supported"},
      {good_cluster + good_context + "users: [{name: u, user: {tokenFile: missing}}]\n",
       Errc::InvalidConfig, "tokenFile: cannot open"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto cfg = RestConfig::from_kubeconfig_yaml(c.yaml, dir_);
    ASSERT_FALSE(cfg);
    EXPECT_EQ(cfg.error(), make_error_code(c.code)) << cfg.error().what();
    EXPECT_NE(cfg.error().message().find(c.message_part), std::string::npos)
        << cfg.error().message();
  }
}

TEST_F(Kubeconfig, MissingFileIsASystemError) {
  auto cfg = RestConfig::from_kubeconfig(dir_ / "nope");
  ASSERT_FALSE(cfg);
  EXPECT_EQ(cfg.error(), std::make_error_code(std::errc::no_such_file_or_directory));
}

TEST_F(Kubeconfig, ErrorsNameTheFile) {
  const fs::path file = write("bad.conf", "current-context: x\n");
  auto cfg = RestConfig::from_kubeconfig(file);
  ASSERT_FALSE(cfg);
  EXPECT_NE(cfg.error().message().find(file.string()), std::string::npos);
}

TEST_F(Kubeconfig, FromEnvTakesTheFirstFile) {
  const fs::path file = write("a.conf", inline_config());
  auto cfg = RestConfig::from_env(env({{"KUBECONFIG", ":" + file.string() + ":/nonexistent"}}));
  ASSERT_TRUE(cfg) << cfg.error().what();
  EXPECT_EQ(cfg->server, "https://10.0.0.1:6443");
  auto none = RestConfig::from_env(env({}));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), make_error_code(Errc::InvalidConfig));
  EXPECT_FALSE(RestConfig::from_env(env({{"KUBECONFIG", ":"}})));
}

TEST_F(Kubeconfig, InCluster) {
  write("sa/token", "eyJtoken\n");
  write("sa/ca.crt", kCa);
  write("sa/namespace", "kube-system");
  auto cfg = RestConfig::in_cluster(
      env({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}),
      dir_ / "sa");
  ASSERT_TRUE(cfg) << cfg.error().what();
  EXPECT_EQ(cfg->server, "https://10.96.0.1:443");
  EXPECT_EQ(cfg->bearer_token, "eyJtoken");
  EXPECT_EQ(cfg->bearer_token_file, dir_ / "sa/token");
  EXPECT_EQ(cfg->ca_pem, kCa);
  EXPECT_EQ(cfg->namespace_name, "kube-system");

  auto v6 = RestConfig::in_cluster(env({{"KUBERNETES_SERVICE_HOST", "fd00::1"},
                                        {"KUBERNETES_SERVICE_PORT", "443"},
                                        {"POD_NAMESPACE", "yurt"}}),
                                   dir_ / "sa");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
  EXPECT_EQ(v6->namespace_name, "yurt");
}

TEST_F(Kubeconfig, InClusterErrors) {
  auto no_env = RestConfig::in_cluster(env({{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}}), dir_);
  ASSERT_FALSE(no_env);
  EXPECT_NE(no_env.error().message().find("KUBERNETES_SERVICE_PORT must be defined"),
            std::string::npos);
  const auto vars = env({{"KUBERNETES_SERVICE_HOST", "h"}, {"KUBERNETES_SERVICE_PORT", "443"}});
  auto no_token = RestConfig::in_cluster(vars, dir_ / "sa");
  ASSERT_FALSE(no_token);
  EXPECT_NE(no_token.error().message().find("token"), std::string::npos);
  write("sa/token", "t");
  auto no_ca = RestConfig::in_cluster(vars, dir_ / "sa");
  ASSERT_FALSE(no_ca);
  EXPECT_EQ(no_ca.error(), make_error_code(Errc::InvalidConfig));
  EXPECT_NE(no_ca.error().message().find("in-cluster CA"), std::string::npos);
}

TEST_F(Kubeconfig, LoadDefaultOrder) {
  const fs::path explicit_file = write("explicit.conf", inline_config());
  write("home/.kube/config", inline_config());
  auto a = RestConfig::load_default(explicit_file, env({{"KUBECONFIG", "/nonexistent"}}));
  ASSERT_TRUE(a) << a.error().what();
  auto b = RestConfig::load_default({}, env({{"KUBECONFIG", "/nonexistent"}}));
  EXPECT_FALSE(b);  // KUBECONFIG wins over HOME and names a missing file
  auto c = RestConfig::load_default({}, env({{"HOME", (dir_ / "home").string()}}));
  ASSERT_TRUE(c) << c.error().what();
  auto d = RestConfig::load_default({},
                                    env({{"KUBERNETES_SERVICE_HOST", "h"},
                                         {"KUBERNETES_SERVICE_PORT", "1"},
                                         {"HOME", (dir_ / "home").string()}}),
                                    {}, dir_ / "no-sa");
  EXPECT_FALSE(d);  // in-cluster chosen before HOME; its token is missing
  EXPECT_FALSE(RestConfig::load_default({}, env({})));
}

TEST_F(Kubeconfig, WriteAndReadBack) {
  RestConfig cfg;
  cfg.server = "https://cloud.example:6443";
  cfg.ca_pem = std::string(kCa);
  cfg.client_cert_pem = std::string(kCert);
  cfg.client_key_pem = std::string(kKey);
  cfg.tls_server_name = "kubernetes";
  cfg.namespace_name = "kube-system";
  const std::string yaml = cfg.to_kubeconfig("hub");
  EXPECT_NE(yaml.find("current-context: hub"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("client-key-data: " + base64_encode(kKey)), std::string::npos) << yaml;
  auto back = RestConfig::from_kubeconfig_yaml(yaml, dir_);
  ASSERT_TRUE(back) << back.error().what() << "\n" << yaml;
  EXPECT_EQ(back->server, cfg.server);
  EXPECT_EQ(back->ca_pem, cfg.ca_pem);
  EXPECT_EQ(back->client_cert_pem, cfg.client_cert_pem);
  EXPECT_EQ(back->client_key_pem, cfg.client_key_pem);
  EXPECT_EQ(back->tls_server_name, cfg.tls_server_name);
  EXPECT_EQ(back->namespace_name, cfg.namespace_name);
}

TEST_F(Kubeconfig, WriteFilesAndTokens) {
  write("pki/client.pem", std::string(kCert) + std::string(kKey));
  write("token", "tok");
  RestConfig files;
  files.server = "http://127.0.0.1:10261";
  files.client_cert_file = dir_ / "pki/client.pem";
  files.client_cert_pem = "x";
  files.client_key_file = dir_ / "pki/client.pem";
  files.client_key_pem = "x";
  const std::string yaml = files.to_kubeconfig();
  EXPECT_NE(yaml.find("client-certificate: " + (dir_ / "pki/client.pem").string()),
            std::string::npos)
      << yaml;
  auto back = RestConfig::from_kubeconfig_yaml(yaml, {});
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(back->client_cert_file, dir_ / "pki/client.pem");
  EXPECT_EQ(back->client_key_pem, std::string(kCert) + std::string(kKey));

  RestConfig token;
  token.server = "https://h:6443";
  token.bearer_token = "secret";
  token.insecure_skip_tls_verify = true;
  auto t = RestConfig::from_kubeconfig_yaml(token.to_kubeconfig("t"), {});
  ASSERT_TRUE(t) << t.error().what();
  EXPECT_EQ(t->bearer_token, "secret");
  EXPECT_TRUE(t->insecure_skip_tls_verify);

  token.bearer_token_file = dir_ / "token";
  auto tf = RestConfig::from_kubeconfig_yaml(token.to_kubeconfig("t"), {});
  ASSERT_TRUE(tf) << tf.error().what();
  EXPECT_EQ(tf->bearer_token_file, dir_ / "token");
  EXPECT_EQ(tf->bearer_token, "tok");
}

TEST(RestConfig, Validate) {
  RestConfig cfg;
  EXPECT_FALSE(cfg.validate());
  cfg.server = "ftp://h";
  EXPECT_FALSE(cfg.validate());
  cfg.server = "https://h:6443";
  EXPECT_TRUE(cfg.validate());
  cfg.client_cert_pem = "c";
  EXPECT_FALSE(cfg.validate());
  cfg.client_key_pem = "k";
  EXPECT_TRUE(cfg.validate());
}

}  // namespace
}  // namespace yurt::kube
