#include "yurt/base/fs.hpp"

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "test/fakes/temp_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace yurt {
namespace {

namespace stdfs = std::filesystem;

std::vector<std::string> names_in(const stdfs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : stdfs::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

unsigned mode_of(const stdfs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0);
  return st.st_mode & 07777U;
}

TEST(AtomicWrite, CreatesWithExactModeAndLeavesNoTempFile) {
  TempDir dir;
  const auto target = dir / "obj";
  const auto old_umask = ::umask(077);
  auto written = fs::atomic_write(target, "hello", stdfs::perms{0640});
  ::umask(old_umask);
  ASSERT_TRUE(written) << written.error().what();
  EXPECT_EQ(fs::read_file(target).value(), "hello");
  EXPECT_EQ(mode_of(target), 0640U);
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"obj"});
}

TEST(AtomicWrite, ReplacesExistingContent) {
  TempDir dir;
  const auto target = dir / "obj";
  ASSERT_TRUE(fs::atomic_write(target, std::string(100000, 'a')));
  ASSERT_TRUE(fs::atomic_write(target, "short"));
  EXPECT_EQ(fs::read_file(target).value(), "short");
  EXPECT_EQ(mode_of(target), 0600U);  // default: private
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"obj"});
}

TEST(AtomicWrite, EmptyContentIsAFile) {
  TempDir dir;
  ASSERT_TRUE(fs::atomic_write(dir / "empty", ""));
  EXPECT_EQ(fs::read_file(dir / "empty").value(), "");
}

TEST(AtomicWrite, MissingDirectoryNamesThePath) {
  TempDir dir;
  const auto target = dir / "missing" / "obj";
  auto r = fs::atomic_write(target, "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), std::errc::no_such_file_or_directory);
  EXPECT_NE(r.error().message().find((dir / "missing").string()), std::string::npos)
      << r.error().what();
  EXPECT_NE(r.error().what().find("No such file or directory"), std::string::npos);
}

TEST(AtomicWrite, ParentIsAFileFailsClearly) {
  TempDir dir;
  ASSERT_TRUE(fs::atomic_write(dir / "file", "x"));
  auto r = fs::atomic_write(dir / "file" / "obj", "y");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), std::errc::not_a_directory);
  EXPECT_NE(r.error().what().find((dir / "file").string()), std::string::npos);
}

TEST(AtomicWrite, FailedRenameKeepsOldAndRemovesTemp) {
  TempDir dir;
  // A non-empty directory cannot be replaced by a file: rename fails after the temp is written.
  ASSERT_TRUE(fs::create_dirs(dir / "target" / "child"));
  auto r = fs::atomic_write(dir / "target", "new");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("rename"), std::string::npos) << r.error().what();
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"target"});
  EXPECT_TRUE(stdfs::is_directory(dir / "target" / "child"));
}

TEST(AtomicWrite, PathWithoutFileName) {
  TempDir dir;
  auto r = fs::atomic_write(dir.path().string() + "/", "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), std::errc::is_a_directory);
}

TEST(WriteTemp, NameIsRecognisedAsTemp) {
  TempDir dir;
  auto p = fs::write_temp(dir.path(), "abc", fs::kPrivateFile);
  ASSERT_TRUE(p) << p.error().what();
  EXPECT_EQ(p->parent_path(), dir.path());
  EXPECT_TRUE(fs::is_temp_name(p->filename().string()));
  EXPECT_EQ(fs::read_file(*p).value(), "abc");
  EXPECT_FALSE(fs::is_temp_name("pods.v1.core"));
  EXPECT_FALSE(fs::is_temp_name("tmp-x"));
}

TEST(ReadFile, Errors) {
  TempDir dir;
  auto missing = fs::read_file(dir / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), std::errc::no_such_file_or_directory);
  EXPECT_NE(missing.error().message().find((dir / "nope").string()), std::string::npos);

  auto is_dir = fs::read_file(dir.path());
  ASSERT_FALSE(is_dir);
  EXPECT_EQ(is_dir.error().code(), std::errc::is_a_directory);

  ASSERT_TRUE(fs::atomic_write(dir / "big", std::string(1000, 'x')));
  auto too_big = fs::read_file(dir / "big", 999);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code(), std::errc::file_too_large);
  EXPECT_EQ(fs::read_file(dir / "big", 1000).value().size(), 1000U);
}

TEST(CreateDirs, CreatesNestedWithModeAndAcceptsExisting) {
  TempDir dir;
  const auto nested = dir / "a" / "b" / "c";
  ASSERT_TRUE(fs::create_dirs(nested));
  EXPECT_TRUE(stdfs::is_directory(nested));
  EXPECT_EQ(mode_of(dir / "a"), 0700U);
  EXPECT_EQ(mode_of(nested), 0700U);
  EXPECT_TRUE(fs::create_dirs(nested));
  EXPECT_TRUE(fs::create_dirs(nested.string() + "/"));
}

TEST(CreateDirs, ThroughAFileFails) {
  TempDir dir;
  ASSERT_TRUE(fs::atomic_write(dir / "f", ""));
  auto r = fs::create_dirs(dir / "f" / "sub");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), std::errc::not_a_directory);
  auto same = fs::create_dirs(dir / "f");
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code(), std::errc::not_a_directory);
}

TEST(RemoveFile, RemovesAndReportsMissing) {
  TempDir dir;
  ASSERT_TRUE(fs::atomic_write(dir / "f", "x"));
  ASSERT_TRUE(fs::remove_file(dir / "f"));
  EXPECT_FALSE(stdfs::exists(dir / "f"));
  auto again = fs::remove_file(dir / "f");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), std::errc::no_such_file_or_directory);
}

TEST(FsyncDir, MissingDirectory) {
  TempDir dir;
  EXPECT_TRUE(fs::fsync_dir(dir.path()));
  auto r = fs::fsync_dir(dir / "missing");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), std::errc::no_such_file_or_directory);
}

}  // namespace
}  // namespace yurt
