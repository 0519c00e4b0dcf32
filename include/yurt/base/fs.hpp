#pragma once

#include <cstddef>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>

#include "yurt/base/result.hpp"

/// Durable file operations. Errors carry the errno as a std::system_category code (compare with
/// `std::errc::…`) and a message naming the operation and the path, so `error.what()` reads like
/// "rename /a/.tmp-1f2e to /a/b: Permission denied".
///
/// @par Thread Safety
/// Functions are independent; concurrent writers to the same path each leave one complete
/// version (the last rename wins).
namespace yurt::fs {

/// Name prefix of temporary files made by write_temp() / atomic_write(). Owners of a directory
/// (the disk store) delete such leftovers of a crash at start-up.
inline constexpr std::string_view kTempPrefix = ".tmp-";

/// True when a file name (not a path) is one of our temporary files.
[[nodiscard]] inline bool is_temp_name(std::string_view filename) noexcept {
  return filename.starts_with(kTempPrefix);
}

/// Default modes: the cache holds Secrets, so files are private to the daemon's user.
inline constexpr std::filesystem::perms kPrivateFile{0600};
inline constexpr std::filesystem::perms kPrivateDir{0700};

/// Creates a uniquely named temporary file `<dir>/.tmp-<random>`, writes `bytes`, sets `mode`
/// exactly (umask is not applied), fsyncs and closes it. Returns its path. On failure nothing is
/// left behind.
[[nodiscard]] Result<std::filesystem::path> write_temp(const std::filesystem::path& dir,
                                                       std::string_view bytes,
                                                       std::filesystem::perms mode);

/// Replaces `path` with `bytes` so that a crash or power loss at any moment leaves either the
/// complete old file or the complete new one, never a torn one: write a temp file in the same
/// directory → fsync it → rename over `path` → fsync the directory. The parent directory must
/// exist. If only the final directory fsync fails, the new content is in place but its
/// durability is unknown; the error says so.
[[nodiscard]] Result<void> atomic_write(const std::filesystem::path& path,
                                        std::string_view bytes,
                                        std::filesystem::perms mode = kPrivateFile);

/// Reads a whole regular file. Fails with EFBIG when it is larger than `max_bytes` (protects
/// callers that read untrusted directories from a huge stray file).
[[nodiscard]] Result<std::string> read_file(
    const std::filesystem::path& path,
    std::size_t max_bytes = std::numeric_limits<std::size_t>::max());

/// Flushes a directory's entries (creations, renames, deletions) to stable storage.
[[nodiscard]] Result<void> fsync_dir(const std::filesystem::path& dir);

/// Like `mkdir -p`, but each directory it creates is made durable by fsyncing its parent.
/// Succeeds when `dir` already is a directory.
[[nodiscard]] Result<void> create_dirs(const std::filesystem::path& dir,
                                       std::filesystem::perms mode = kPrivateDir);

/// Unlinks a file and fsyncs its directory. ENOENT is an error (the caller decides if it matters).
[[nodiscard]] Result<void> remove_file(const std::filesystem::path& path);

}  // namespace yurt::fs
