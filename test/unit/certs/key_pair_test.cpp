#include "yurt/certs/key_pair.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "yurt/base/fs.hpp"

#include "test/fakes/fake_clock.hpp"
#include "test/fakes/temp_dir.hpp"
#include "test/unit/certs/test_util.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace yurt::certs {
namespace {

namespace stdfs = std::filesystem;
using std::chrono::hours;
using std::chrono::seconds;
using testing::fails_with;
using testing::must;
using testing::shared_ca;

IssuedCertificate issue(const std::string& cn) {
  IssueOptions o;
  o.subject = {cn, {"system:nodes"}};
  o.usages = {Usage::DigitalSignature, Usage::ClientAuth};
  return must(shared_ca().issue(o));
}

std::string read(const stdfs::path& p) {
  return must(fs::read_file(p));
}

void write(const stdfs::path& p, std::string_view text) {
  ASSERT_TRUE(fs::atomic_write(p, text));
}

std::string link_of(const stdfs::path& p) {
  return stdfs::read_symlink(p).string();
}

class KeyPairStoreTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  FakeClock clock_;
  stdfs::path dir_ = tmp_ / "pki";
  KeyPairStore store_{dir_, "kubelet-client", clock_};
};

TEST_F(KeyPairStoreTest, StoresInTheKubeletLayout) {
  const auto issued = issue("system:node:a");
  const auto stored = must(store_.store(issued.chain_pem, issued.key));
  EXPECT_EQ(stored.leaf.subject.common_name, "system:node:a");
  const stdfs::path current = dir_ / "kubelet-client-current.pem";
  EXPECT_EQ(store_.current_path(), current);
  ASSERT_TRUE(stdfs::is_symlink(current));
  // Relative target: the directory may be mounted elsewhere in a container.
  EXPECT_EQ(link_of(current), "kubelet-client-2024-01-01-00-00-00.pem");
  const stdfs::path file = dir_ / "kubelet-client-2024-01-01-00-00-00.pem";
  EXPECT_EQ(read(file), issued.certificate_pem + issued.key.pem()) << "chain then key";
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);

  const auto loaded = must(store_.load());
  EXPECT_EQ(loaded.leaf.serial, stored.leaf.serial);
  EXPECT_EQ(loaded.key.pem(), issued.key.pem());
  EXPECT_EQ(loaded.cert_chain_pem, issued.certificate_pem);
}

TEST_F(KeyPairStoreTest, RotationSwitchesTheLinkAndKeepsTheOldFile) {
  const auto first = issue("system:node:a");
  ASSERT_TRUE(store_.store(first.chain_pem, first.key));
  clock_.advance(hours(1) + seconds(2));
  const auto second = issue("system:node:a");
  ASSERT_TRUE(store_.store(second.chain_pem, second.key));
  EXPECT_EQ(link_of(store_.current_path()), "kubelet-client-2024-01-01-01-00-02.pem");
  EXPECT_EQ(must(store_.pair_files()),
            (std::vector<std::string>{"kubelet-client-2024-01-01-00-00-00.pem",
                                      "kubelet-client-2024-01-01-01-00-02.pem"}));
  EXPECT_EQ(must(store_.load()).key.pem(), second.key.pem());
  // No temporary link is left behind.
  for (const auto& e : stdfs::directory_iterator(dir_)) {
    EXPECT_FALSE(fs::is_temp_name(e.path().filename().string())) << e.path();
  }
}

TEST_F(KeyPairStoreTest, TwoRotationsInOneSecondStayConsistent) {
  const auto first = issue("a");
  const auto second = issue("b");
  ASSERT_TRUE(store_.store(first.chain_pem, first.key));
  ASSERT_TRUE(store_.store(second.chain_pem, second.key));
  const auto loaded = must(store_.load());
  EXPECT_EQ(loaded.leaf.subject.common_name, "b");
  EXPECT_EQ(loaded.key.pem(), second.key.pem());
}

TEST_F(KeyPairStoreTest, AMismatchedPairIsNeverWritten) {
  const auto good = issue("good");
  ASSERT_TRUE(store_.store(good.chain_pem, good.key));
  clock_.advance(hours(1));
  const auto other = issue("other");
  EXPECT_TRUE(fails_with(store_.store(good.chain_pem, other.key), Errc::KeyMismatch));
  EXPECT_TRUE(fails_with(store_.store("garbage", other.key), Errc::Malformed));
  EXPECT_EQ(must(store_.pair_files()).size(), 1U);
  EXPECT_EQ(must(store_.load()).key.pem(), good.key.pem());
}

TEST_F(KeyPairStoreTest, ReplacesAHandMadeRegularFile) {
  // OpenYurt's servant writes kubelet-client-current.pem as a plain file.
  const auto old_pair = issue("old");
  ASSERT_TRUE(fs::create_dirs(dir_));
  write(store_.current_path(), old_pair.certificate_pem + old_pair.key.pem());
  EXPECT_EQ(must(store_.load()).leaf.subject.common_name, "old");
  const auto fresh = issue("fresh");
  ASSERT_TRUE(store_.store(fresh.chain_pem, fresh.key));
  EXPECT_TRUE(stdfs::is_symlink(store_.current_path()));
  EXPECT_EQ(must(store_.load()).leaf.subject.common_name, "fresh");
}

TEST_F(KeyPairStoreTest, NothingStoredIsNotFound) {
  EXPECT_TRUE(fails_with(store_.load(), Errc::NotFound, "no key pair at"));
  ASSERT_TRUE(fs::create_dirs(dir_));
  stdfs::create_symlink("kubelet-client-gone.pem", store_.current_path());
  EXPECT_TRUE(fails_with(store_.load(), Errc::NotFound, "dangling link"));
}

TEST_F(KeyPairStoreTest, ReadsClientGosUpdatedLinkAfterACrash) {
  const auto pair = issue("recovered");
  ASSERT_TRUE(fs::create_dirs(dir_));
  write(dir_ / "kubelet-client-2023-12-31-00-00-00.pem", pair.certificate_pem + pair.key.pem());
  stdfs::create_symlink("kubelet-client-2023-12-31-00-00-00.pem",
                        dir_ / "kubelet-client-updated.pem");
  EXPECT_EQ(must(store_.load()).leaf.subject.common_name, "recovered");
}

TEST_F(KeyPairStoreTest, ATornFileIsAPreciseError) {
  const auto pair = issue("torn");
  ASSERT_TRUE(store_.store(pair.chain_pem, pair.key));
  const stdfs::path file = dir_ / link_of(store_.current_path());
  const std::string full = read(file);
  // Cut in the middle of the key block, as a crash of a non-atomic writer would.
  write(file, full.substr(0, full.size() - 60));
  auto torn = store_.load();
  EXPECT_TRUE(fails_with(torn, Errc::Malformed, "truncated"));
  EXPECT_TRUE(fails_with(torn, Errc::Malformed, file.filename().string())) << "names the file";
  // Only the certificate survived.
  write(file, pair.certificate_pem);
  EXPECT_TRUE(fails_with(store_.load(), Errc::Malformed, "no private key"));
  write(file, pair.key.pem());
  EXPECT_TRUE(fails_with(store_.load(), Errc::Malformed, "no certificate"));
  write(file, "");
  EXPECT_TRUE(fails_with(store_.load(), Errc::Malformed));
}

TEST_F(KeyPairStoreTest, AMismatchedFileIsRefused) {
  const auto a = issue("a");
  const auto b = issue("b");
  ASSERT_TRUE(store_.store(a.chain_pem, a.key));
  write(dir_ / link_of(store_.current_path()), a.certificate_pem + b.key.pem());
  EXPECT_TRUE(fails_with(store_.load(), Errc::KeyMismatch, "\"O=system:nodes, CN=a\""));
}

TEST_F(KeyPairStoreTest, PruneKeepsTheNewestAndTheCurrent) {
  std::vector<IssuedCertificate> pairs;
  for (int i = 0; i < 4; ++i) {
    pairs.push_back(issue("n" + std::to_string(i)));
    ASSERT_TRUE(store_.store(pairs.back().chain_pem, pairs.back().key));
    clock_.advance(hours(1));
  }
  // The clock was set back before the last rotation: current is not the newest name.
  clock_.set(std::chrono::sys_seconds{FakeClock::kStartWall} - hours(24));
  const auto back = issue("back");
  ASSERT_TRUE(store_.store(back.chain_pem, back.key));
  // A leftover temporary link of an interrupted store.
  stdfs::create_symlink("whatever", dir_ / ".tmp-0123456789abcdef");
  EXPECT_EQ(must(store_.prune(2)), 4U);  // 3 pair files + the temp link
  const auto left = must(store_.pair_files());
  EXPECT_EQ(left, (std::vector<std::string>{"kubelet-client-2023-12-31-00-00-00.pem",
                                            "kubelet-client-2024-01-01-03-00-00.pem"}));
  EXPECT_EQ(must(store_.load()).leaf.subject.common_name, "back");
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(dir_ / ".tmp-0123456789abcdef")));
}

TEST(KeyPairStore, RejectsABadPrefix) {
  FakeClock clock;
  EXPECT_THROW(KeyPairStore("/tmp", "", clock), std::invalid_argument);
  EXPECT_THROW(KeyPairStore("/tmp", "a/b", clock), std::invalid_argument);
}

TEST(KeyPair, CombinedPemInAnyOrder) {
  const auto pair = issue("x");
  const auto a = must(parse_combined_pem(pair.key.pem() + pair.certificate_pem));
  EXPECT_EQ(a.leaf.subject.common_name, "x");
  EXPECT_EQ(combined_pem(a), pair.certificate_pem + pair.key.pem());
  EXPECT_TRUE(fails_with(parse_combined_pem(pair.certificate_pem + pair.key.pem() + pair.key.pem()),
                         Errc::Malformed, "second private key"));
  EXPECT_TRUE(fails_with(parse_combined_pem(pair.certificate_pem + pem_encode("X509 CRL", "x")),
                         Errc::Malformed, "unexpected PEM block \"X509 CRL\""));
}

TEST(KeyPair, MakeKeyPairChecksTheMatch) {
  const auto pair = issue("x");
  EXPECT_TRUE(make_key_pair(pair.chain_pem, pair.key.pem()));
  EXPECT_TRUE(
      fails_with(make_key_pair(pair.chain_pem, testing::test_key().pem()), Errc::KeyMismatch));
  EXPECT_TRUE(fails_with(make_key_pair("", pair.key.pem()), Errc::Malformed, "no certificate"));
}

TEST(KeyPair, LoadsSeparateFiles) {
  TempDir tmp;
  const auto pair = issue("files");
  const auto other = issue("other");
  write(tmp / "tls.crt", pair.certificate_pem);
  write(tmp / "tls.key", pair.key.pem());
  write(tmp / "combined.pem", pair.certificate_pem + pair.key.pem());
  write(tmp / "other.key", other.key.pem());
  EXPECT_EQ(must(load_key_pair_files(tmp / "tls.crt", tmp / "tls.key")).leaf.subject.common_name,
            "files");
  // The kubelet's kubeconfig points client-certificate and client-key at the same file.
  EXPECT_TRUE(load_key_pair_files(tmp / "combined.pem", tmp / "combined.pem"));
  // A combined file as the cert file: its key block is ignored.
  EXPECT_TRUE(load_key_pair_files(tmp / "combined.pem", tmp / "tls.key"));
  EXPECT_TRUE(
      fails_with(load_key_pair_files(tmp / "tls.crt", tmp / "other.key"), Errc::KeyMismatch));
  auto missing = load_key_pair_files(tmp / "nope.crt", tmp / "tls.key");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), std::errc::no_such_file_or_directory);
  EXPECT_TRUE(fails_with(load_key_pair_files(tmp / "tls.key", tmp / "tls.key"), Errc::Malformed,
                         "no certificate"));
}

}  // namespace
}  // namespace yurt::certs
