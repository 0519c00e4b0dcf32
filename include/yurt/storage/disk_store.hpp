#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "yurt/base/fs.hpp"
#include "yurt/base/result.hpp"
#include "yurt/storage/store.hpp"

namespace yurt::storage {

class Index;

/// Checks an object's bytes at open(), e.g. "parses as JSON". An error turns the file into junk.
using Validator = std::function<Result<void>(std::string_view key, std::string_view bytes)>;

struct DiskStoreOptions {
  /// Optional; without it any readable file with a valid key is loaded.
  Validator validator{};
  /// Objects may be Secrets: private by default.
  std::filesystem::perms file_mode = fs::kPrivateFile;
  std::filesystem::perms dir_mode = fs::kPrivateDir;
  /// How long open() waits for another process to release the store before failing with
  /// Errc::Locked: a process killed a moment ago holds its lock until its last thread has
  /// exited, which a thread the scheduler keeps waiting can delay.
  std::chrono::milliseconds lock_wait{0};
};

/// A file under the root that open() did not load, and why.
struct JunkFile {
  std::filesystem::path path;
  std::string reason;
};

/// What open() found on disk.
struct OpenReport {
  std::size_t objects = 0;  ///< loaded into the index
  std::size_t bytes = 0;
  /// Temporary files of interrupted writes, deleted (each one is a crash mid-write, harmless).
  std::vector<std::filesystem::path> removed_temp_files;
  /// Left in place and not served: unexpected names or file types, unreadable files, validator
  /// rejections. A later put() of the same key replaces a junk file.
  std::vector<JunkFile> junk;
};

/// The crash-safe cache of architecture D2: one file per object at `<root>/<key>`, all values
/// also held in memory (reads never touch the disk; see docs/storage.md for the measurements).
///
/// Durability: a write is temp file (`.tmp-…` in the object's directory) → fsync → rename →
/// fsync(directory), so a crash or power loss leaves each object old or new, never torn.
/// replace_prefix() writes all new and changed objects first (each fsynced, then renamed, then
/// each directory fsynced once), and only then deletes stale ones: a crash in between leaves
/// every object either at its old or its new version, with stale objects possibly still present
/// until the next full replace. If a write fails part-way the index mirrors the disk (what was
/// renamed is served, what was not keeps its old value) and the error is returned.
///
/// A `.lock` file at the root holds an flock(2) while the store is open, so two processes cannot
/// share a cache directory (the second open() fails with Errc::Locked).
///
/// @par Thread Safety
/// Safe for concurrent callers. Writers are serialized by one mutex held across their disk I/O;
/// readers only take the index's shared lock for the time it takes to copy pointers, so a slow
/// fsync never delays a read.
class DiskStore final : public Store {
 public:
  /// Creates `root` if needed (mode dir_mode), takes the lock, deletes leftover temp files and
  /// loads every valid object. Junk is reported in open_report(), not an error.
  /// Errors: Errc::Io (root not creatable or readable), Errc::Locked.
  [[nodiscard]] static Result<std::unique_ptr<DiskStore>> open(std::filesystem::path root,
                                                               DiskStoreOptions options = {});

  ~DiskStore() override;
  DiskStore(const DiskStore&) = delete;
  DiskStore& operator=(const DiskStore&) = delete;

  [[nodiscard]] const OpenReport& open_report() const noexcept { return report_; }
  [[nodiscard]] const std::filesystem::path& root() const noexcept { return root_; }

  [[nodiscard]] Result<void> put(std::string_view key, std::string bytes) override;
  [[nodiscard]] Result<bool> put_if(std::string_view key,
                                    std::string bytes,
                                    const Precondition& accept) override;
  [[nodiscard]] Result<Value> get(std::string_view key) const override;
  /// Unlinks the file, then fsyncs its directory (empty directories are left in place).
  [[nodiscard]] Result<void> remove(std::string_view key) override;
  [[nodiscard]] std::vector<Object> list(std::string_view prefix) const override;
  [[nodiscard]] std::vector<std::string> keys(std::string_view prefix) const override;
  [[nodiscard]] Result<ReplaceSummary> replace_prefix(
      std::string_view prefix, std::map<std::string, std::string> objects) override;
  [[nodiscard]] Stats stats() const override;

 private:
  DiskStore(std::filesystem::path root, DiskStoreOptions options, int lock_fd);

  Result<void> load();
  void scan(const std::filesystem::path& dir,
            std::size_t depth,
            const std::string& key_prefix,
            std::map<std::string, Value>& loaded);
  /// Writes one object durably; sets `visible` once the rename happened (even if the final
  /// directory fsync then fails).
  Result<void> write_object(std::string_view key, std::string_view bytes, bool& visible);

  std::filesystem::path root_;
  DiskStoreOptions options_;
  int lock_fd_;
  OpenReport report_;
  std::mutex write_mutex_;
  std::unique_ptr<Index> index_;
};

}  // namespace yurt::storage
