#include "yurt/storage/disk_store.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "yurt/base/fs.hpp"

#include "test/fakes/temp_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace yurt::storage {
namespace {

namespace stdfs = std::filesystem;

constexpr const char* kPod = "kubelet/pods.v1.core/default/nginx";
constexpr const char* kNode = "kubelet/nodes.v1.core/_/edge-1";

std::unique_ptr<DiskStore> open_ok(const stdfs::path& root, DiskStoreOptions options = {}) {
  auto store = DiskStore::open(root, std::move(options));
  EXPECT_TRUE(store) << store.error().what();
  return store ? std::move(*store) : nullptr;
}

void write_raw(const stdfs::path& path, const std::string& bytes) {
  stdfs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

unsigned mode_of(const stdfs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777U;
}

std::vector<std::string> files_under(const stdfs::path& root) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(root)) {
    if (!e.is_directory()) {
      out.push_back(e.path().lexically_relative(root).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> must_be_json(std::string_view /*key*/, std::string_view bytes) {
  if (!nlohmann::json::accept(bytes)) {
    return fail(Errc::Corrupt, "not JSON");
  }
  return {};
}

TEST(DiskStore, OneFilePerObjectAtRootSlashKey) {
  TempDir dir;
  auto store = open_ok(dir / "cache");
  ASSERT_TRUE(store->put(kPod, R"({"kind":"Pod"})"));
  ASSERT_TRUE(store->put(kNode, R"({"kind":"Node"})"));
  EXPECT_EQ(files_under(dir / "cache"), (std::vector<std::string>{".lock", kNode, kPod}));
  EXPECT_EQ(fs::read_file(dir / "cache" / kPod).value(), R"({"kind":"Pod"})");
  EXPECT_EQ(mode_of(dir / "cache" / kPod), 0600U);
  EXPECT_EQ(mode_of(dir / "cache" / "kubelet" / "pods.v1.core"), 0700U);
  EXPECT_EQ(mode_of(dir / "cache"), 0700U);
}

TEST(DiskStore, ReopenServesWhatWasWritten) {
  TempDir dir;
  {
    auto store = open_ok(dir.path());
    ASSERT_TRUE(store->put(kPod, "pod"));
    ASSERT_TRUE(store->put(kNode, "node"));
    ASSERT_TRUE(store->put(kNode, "node-2"));
    ASSERT_TRUE(store->put("kubelet/pods.v1.core/default/gone", "x"));
    ASSERT_TRUE(store->remove("kubelet/pods.v1.core/default/gone"));
  }
  auto store = open_ok(dir.path());
  EXPECT_EQ(store->keys(""), (std::vector<std::string>{kNode, kPod}));
  EXPECT_EQ(*store->get(kNode).value(), "node-2");
  EXPECT_EQ(store->open_report().objects, 2U);
  EXPECT_EQ(store->open_report().bytes, 9U);
  EXPECT_TRUE(store->open_report().junk.empty());
  EXPECT_TRUE(store->open_report().removed_temp_files.empty());
}

TEST(DiskStore, OpenDeletesTempLeftoversAndKeepsTheObject) {
  TempDir dir;
  {
    auto store = open_ok(dir.path());
    ASSERT_TRUE(store->put(kPod, "complete"));
  }
  // What a crash between "create temp" and "rename" leaves: a partial temp file next to the
  // intact object.
  const auto leaf = dir / "kubelet" / "pods.v1.core" / "default";
  write_raw(leaf / ".tmp-0123456789abcdef", "{\"kind\":\"Po");
  write_raw(leaf / ".tmp-fedcba9876543210", "");
  auto store = open_ok(dir.path());
  EXPECT_EQ(*store->get(kPod).value(), "complete");
  EXPECT_EQ(files_under(dir.path()), (std::vector<std::string>{".lock", kPod}));
}

TEST(DiskStore, OpenReportListsRemovedTemps) {
  TempDir dir;
  const auto leaf = dir / "kubelet" / "pods.v1.core" / "default";
  write_raw(leaf / "nginx", "{}");
  write_raw(leaf / ".tmp-aaaa", "{\"partial");
  auto store = open_ok(dir.path());
  EXPECT_EQ(store->open_report().removed_temp_files, std::vector<stdfs::path>{leaf / ".tmp-aaaa"});
  EXPECT_FALSE(stdfs::exists(leaf / ".tmp-aaaa"));
  EXPECT_EQ(store->keys(""), std::vector<std::string>{kPod});
}

TEST(DiskStore, JunkIsReportedNotServed) {
  TempDir dir;
  const auto root = dir.path();
  const auto leaf = root / "kubelet" / "pods.v1.core" / "default";
  write_raw(leaf / "good", R"({"ok":true})");
  write_raw(leaf / "torn", R"({"kind":"Po)");       // validator rejects
  write_raw(root / "kubelet" / "stray-file", "x");  // file where a dir belongs
  write_raw(root / "kubelet" / "pods.v1.core" / "default" / "dir" / "x", "{}");  // dir at leaf
  write_raw(leaf / ".hidden", "{}");  // not a key segment
  write_raw(root / "kubelet" / "pods.v1.core" / "default" / "ctl\x01name", "{}");
  write_raw(root / "README", "hello");                  // file at the top level
  stdfs::create_symlink("/etc/passwd", leaf / "link");  // never followed
  // Larger than any object may be (sparse: costs no disk).
  write_raw(leaf / "huge", "");
  stdfs::resize_file(leaf / "huge", kMaxObjectBytes + 1);

  auto store = open_ok(root, DiskStoreOptions{.validator = must_be_json});
  EXPECT_EQ(store->keys(""), std::vector<std::string>{"kubelet/pods.v1.core/default/good"});

  std::map<std::string, std::string> junk;
  for (const auto& j : store->open_report().junk) {
    junk[j.path.lexically_relative(root).string()] = j.reason;
  }
  auto reason = [&](const std::string& rel) {
    auto it = junk.find(rel);
    return it == junk.end() ? std::string("<not reported>") : it->second;
  };
  EXPECT_EQ(junk.size(), 8U);
  EXPECT_NE(reason("kubelet/pods.v1.core/default/torn").find("rejected by validator: not JSON"),
            std::string::npos);
  EXPECT_NE(reason("kubelet/stray-file").find("expected a directory"), std::string::npos);
  EXPECT_NE(reason("kubelet/pods.v1.core/default/dir").find("directory where an object file"),
            std::string::npos);
  EXPECT_NE(reason("kubelet/pods.v1.core/default/.hidden").find("starts with '.'"),
            std::string::npos);
  EXPECT_NE(reason("kubelet/pods.v1.core/default/ctl\x01name").find("control character"),
            std::string::npos);
  EXPECT_NE(reason("README").find("expected a directory"), std::string::npos);
  EXPECT_NE(reason("kubelet/pods.v1.core/default/link").find("symbolic link"), std::string::npos);
  EXPECT_NE(reason("kubelet/pods.v1.core/default/huge").find("larger than the limit"),
            std::string::npos);
  // Junk stays on disk for the operator to inspect.
  EXPECT_TRUE(stdfs::exists(leaf / "torn"));
}

TEST(DiskStore, PutReplacesAJunkFile) {
  TempDir dir;
  const auto leaf = dir / "kubelet" / "pods.v1.core" / "default";
  write_raw(leaf / "nginx", "{torn");
  auto store = open_ok(dir.path(), DiskStoreOptions{.validator = must_be_json});
  EXPECT_EQ(store->open_report().junk.size(), 1U);
  EXPECT_EQ(store->get(kPod).error().code(), Errc::NotFound);
  ASSERT_TRUE(store->put(kPod, "{}"));
  store.reset();
  store = open_ok(dir.path(), DiskStoreOptions{.validator = must_be_json});
  EXPECT_TRUE(store->open_report().junk.empty());
  EXPECT_EQ(*store->get(kPod).value(), "{}");
}

TEST(DiskStore, SecondOpenIsLocked) {
  TempDir dir;
  auto first = open_ok(dir.path());
  auto second = DiskStore::open(dir.path());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::Locked);
  EXPECT_NE(second.error().message().find(dir.path().string()), std::string::npos);
  first.reset();
  EXPECT_TRUE(DiskStore::open(dir.path()));
}

TEST(DiskStore, OpenWaitsForTheHolderToLetGo) {
  TempDir dir;
  auto first = open_ok(dir.path());
  // The holder exits (here: closes) while the second open waits.
  std::thread holder([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    first.reset();
  });
  auto second = DiskStore::open(dir.path(), DiskStoreOptions{.lock_wait = std::chrono::seconds(5)});
  holder.join();
  EXPECT_TRUE(second) << second.error().what();
}

TEST(DiskStore, OpenGivesUpWaitingAndSaysHowLong) {
  TempDir dir;
  auto first = open_ok(dir.path());
  auto second =
      DiskStore::open(dir.path(), DiskStoreOptions{.lock_wait = std::chrono::milliseconds(100)});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Errc::Locked);
  EXPECT_NE(second.error().message().find("waited 100 ms"), std::string::npos)
      << second.error().message();
}

TEST(DiskStore, RootThatIsAFileFails) {
  TempDir dir;
  write_raw(dir / "file", "x");
  auto r = DiskStore::open(dir / "file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Io);
  EXPECT_NE(r.error().what().find((dir / "file").string()), std::string::npos);
  EXPECT_NE(r.error().what().find("Not a directory"), std::string::npos);
}

TEST(DiskStore, FailedPutKeepsOldValueAndLeavesNoTemp) {
  TempDir dir;
  auto store = open_ok(dir.path());
  ASSERT_TRUE(store->put(kPod, "old"));
  // Make the object's path un-renameable-onto: replace the file with a non-empty directory.
  const auto path = dir / kPod;
  stdfs::remove(path);
  write_raw(path / "blocker", "x");
  auto r = store->put(kPod, "new");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Io);
  EXPECT_NE(r.error().message().find(kPod), std::string::npos) << r.error().what();
  EXPECT_EQ(*store->get(kPod).value(), "old");  // memory unchanged: the rename did not happen
  for (const auto& e : stdfs::directory_iterator(path.parent_path())) {
    EXPECT_FALSE(fs::is_temp_name(e.path().filename().string())) << e.path();
  }
}

TEST(DiskStore, UnchangedPutDoesNotRewrite) {
  TempDir dir;
  auto store = open_ok(dir.path());
  ASSERT_TRUE(store->put(kPod, "same"));
  struct stat before {};
  ASSERT_EQ(::stat((dir / kPod).c_str(), &before), 0);
  ASSERT_TRUE(store->put(kPod, "same"));
  struct stat after {};
  ASSERT_EQ(::stat((dir / kPod).c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);  // a rewrite would rename a new inode into place
}

TEST(DiskStore, FailedReplaceLeavesIndexMatchingDisk) {
  TempDir dir;
  auto store = open_ok(dir.path());
  const std::string prefix = "kubelet/pods.v1.core/default/";
  ASSERT_TRUE(store->replace_prefix(
      prefix, {{prefix + "a", "a1"}, {prefix + "c", "c1"}, {prefix + "stale", "s"}}));
  // Block "c" with a non-empty directory: its rename fails after "a" and "b" were renamed.
  stdfs::remove(dir / (prefix + "c"));
  write_raw(dir / (prefix + "c") / "blocker", "x");
  auto r = store->replace_prefix(
      prefix,
      {{prefix + "a", "a2"}, {prefix + "b", "b2"}, {prefix + "c", "c2"}, {prefix + "d", "d2"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Io);
  // Renamed before the failure: served. Not reached: old value (or absent). Stale: kept.
  EXPECT_EQ(*store->get(prefix + "a").value(), "a2");
  EXPECT_EQ(*store->get(prefix + "b").value(), "b2");
  EXPECT_EQ(*store->get(prefix + "c").value(), "c1");
  EXPECT_EQ(store->get(prefix + "d").error().code(), Errc::NotFound);
  EXPECT_EQ(*store->get(prefix + "stale").value(), "s");
  for (const auto& e : stdfs::directory_iterator(dir / prefix)) {
    EXPECT_FALSE(fs::is_temp_name(e.path().filename().string())) << e.path();
  }
  // A restart sees the same thing (apart from the blocked "c", which is now junk on disk).
  const auto before = store->keys("");
  store.reset();
  store = open_ok(dir.path());
  auto after = store->keys("");
  after.push_back(prefix + "c");
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, before);
  EXPECT_EQ(*store->get(prefix + "a").value(), "a2");
}

TEST(DiskStore, ReplaceThenReopen) {
  TempDir dir;
  const std::string prefix = "kube-proxy/services.v1.core/";
  {
    auto store = open_ok(dir.path());
    ASSERT_TRUE(store->replace_prefix(
        prefix, {{prefix + "default/kubernetes", "k"}, {prefix + "kube-system/kube-dns", "d"}}));
    ASSERT_TRUE(store->replace_prefix(prefix, {{prefix + "default/kubernetes", "k2"}}));
  }
  auto store = open_ok(dir.path());
  EXPECT_EQ(store->keys(""), std::vector<std::string>{prefix + "default/kubernetes"});
  EXPECT_EQ(*store->get(prefix + "default/kubernetes").value(), "k2");
}

}  // namespace
}  // namespace yurt::storage
