#include "yurt/base/fs.hpp"

#include <cerrno>
#include <cstdint>
#include <random>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace yurt::fs {
namespace {

namespace stdfs = std::filesystem;

Error sys_error(int err, std::string what) {
  return Error(std::error_code(err, std::system_category()), std::move(what));
}

/// Closes on scope exit unless released; close errors there are ignored because the operation
/// has already failed for another reason.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  /// Closes now and reports the error: for written files, close can be where an I/O error
  /// surfaces (NFS, quota).
  [[nodiscard]] int close() noexcept {
    const int rc = ::close(std::exchange(fd_, -1));
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string temp_name() {
  // Unpredictable enough to avoid collisions between processes; O_EXCL resolves the rest.
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t v = random();
  std::string name(kTempPrefix);
  for (int i = 0; i < 16; ++i) {
    name.push_back(kHex[v & 0xfU]);
    v >>= 4U;
  }
  return name;
}

int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

stdfs::path parent_of(const stdfs::path& path) {
  auto parent = path.parent_path();
  return parent.empty() ? stdfs::path(".") : parent;
}

}  // namespace

Result<stdfs::path> write_temp(const stdfs::path& dir, std::string_view bytes, stdfs::perms mode) {
  stdfs::path path;
  int fd = -1;
  // A collision needs two equal 64-bit random names; a few retries cover a bad random source.
  for (int attempt = 0; attempt < 8 && fd < 0; ++attempt) {
    path = dir / temp_name();
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && errno != EEXIST) {
      return sys_error(errno, "create temp file " + path.string());
    }
  }
  if (fd < 0) {
    return sys_error(EEXIST, "create temp file in " + dir.string());
  }
  Fd file(fd);
  auto fail_with = [&](int err, const char* step) -> Error {
    ::unlink(path.c_str());
    return sys_error(err, std::string(step) + " " + path.string());
  };
  if (::fchmod(file.get(), static_cast<mode_t>(mode)) != 0) {
    return fail_with(errno, "chmod");
  }
  if (int err = write_all(file.get(), bytes); err != 0) {
    return fail_with(err, "write");
  }
  if (::fsync(file.get()) != 0) {
    return fail_with(errno, "fsync");
  }
  if (int err = file.close(); err != 0) {
    return fail_with(err, "close");
  }
  return path;
}

Result<void> atomic_write(const stdfs::path& path, std::string_view bytes, stdfs::perms mode) {
  if (!path.has_filename()) {
    return sys_error(EISDIR, "atomic_write " + path.string() + ": no file name");
  }
  const auto dir = parent_of(path);
  auto temp = write_temp(dir, bytes, mode);
  if (!temp) {
    return temp.error();
  }
  if (::rename(temp->c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp->c_str());
    return sys_error(err, "rename " + temp->string() + " to " + path.string());
  }
  if (auto synced = fsync_dir(dir); !synced) {
    return Error(synced.error().code(),
                 path.string() +
                     " was replaced but may not survive a power loss: " + synced.error().message());
  }
  return {};
}

Result<std::string> read_file(const stdfs::path& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return sys_error(errno, "open " + path.string());
  }
  Fd file(fd);
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) {
    return sys_error(errno, "stat " + path.string());
  }
  if (S_ISDIR(st.st_mode)) {
    return sys_error(EISDIR, "read " + path.string());
  }
  if (!S_ISREG(st.st_mode)) {
    return sys_error(EINVAL, "read " + path.string() + ": not a regular file");
  }
  auto too_large = [&] {
    return sys_error(EFBIG, "read " + path.string() + ": larger than the limit of " +
                                std::to_string(max_bytes) + " bytes");
  };
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return too_large();
  }
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(file.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return sys_error(errno, "read " + path.string());
    }
    if (n == 0) {
      break;
    }
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {  // the file grew meanwhile
      return too_large();
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

Result<void> fsync_dir(const stdfs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return sys_error(errno, "open directory " + dir.string());
  }
  Fd file(fd);
  if (::fsync(file.get()) != 0) {
    return sys_error(errno, "fsync directory " + dir.string());
  }
  return {};
}

Result<void> create_dirs(const stdfs::path& dir, stdfs::perms mode) {
  auto target = dir;
  if (!target.has_filename() && target.has_parent_path() && target != target.root_path()) {
    target = target.parent_path();  // "a/b/" -> "a/b"
  }
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return {};
    }
    return sys_error(ENOTDIR, "create directory " + target.string());
  }
  if (errno != ENOENT) {
    return sys_error(errno, "stat " + target.string());
  }
  const auto parent = parent_of(target);
  if (parent != target) {
    if (auto made = create_dirs(parent, mode); !made) {
      return made;
    }
  }
  if (::mkdir(target.c_str(), static_cast<mode_t>(mode)) != 0) {
    if (errno == EEXIST && ::stat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return {};  // created concurrently by someone else
    }
    return sys_error(errno, "create directory " + target.string());
  }
  // mkdir applies the umask; the caller asked for this exact mode.
  if (::chmod(target.c_str(), static_cast<mode_t>(mode)) != 0) {
    return sys_error(errno, "chmod " + target.string());
  }
  return fsync_dir(parent);
}

Result<void> remove_file(const stdfs::path& path) {
  if (::unlink(path.c_str()) != 0) {
    return sys_error(errno, "remove " + path.string());
  }
  return fsync_dir(parent_of(path));
}

}  // namespace yurt::fs
