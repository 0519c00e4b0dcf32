#include "yurt/storage/disk_store.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

#include "yurt/base/strings.hpp"

#include "src/storage/index.hpp"
#include "src/storage/key_rules.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace yurt::storage {
namespace {

namespace stdfs = std::filesystem;

constexpr std::string_view kLockName = ".lock";

Error io_error(const std::string& context, const Error& cause) {
  return fail(Errc::Io, context + ": " + cause.what());
}

Error io_errno(const std::string& context, int err) {
  return fail(Errc::Io, context + ": " + std::error_code(err, std::system_category()).message());
}

}  // namespace

DiskStore::DiskStore(stdfs::path root, DiskStoreOptions options, int lock_fd)
    : root_(std::move(root)),
      options_(std::move(options)),
      lock_fd_(lock_fd),
      index_(std::make_unique<Index>()) {}

DiskStore::~DiskStore() {
  ::close(lock_fd_);
}  // releases the flock

Result<std::unique_ptr<DiskStore>> DiskStore::open(stdfs::path root, DiskStoreOptions options) {
  if (auto made = fs::create_dirs(root, options.dir_mode); !made) {
    return io_error("open store " + root.string(), made.error());
  }
  const auto lock_path = root / kLockName;
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return io_errno("open store lock " + lock_path.string(), errno);
  }
  const auto deadline = std::chrono::steady_clock::now() + options.lock_wait;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return fail(Errc::Locked,
                  "store " + root.string() + " is open in another process (" + lock_path.string() +
                      " is locked" +
                      (options.lock_wait.count() > 0
                           ? ", waited " + std::to_string(options.lock_wait.count()) + " ms"
                           : std::string()) +
                      ")");
    }
    return io_errno("lock " + lock_path.string(), err);
  }
  std::unique_ptr<DiskStore> store(new DiskStore(std::move(root), std::move(options), fd));
  if (auto loaded = store->load(); !loaded) {
    return loaded.error();
  }
  return store;
}

Result<void> DiskStore::load() {
  std::error_code ec;
  stdfs::directory_iterator probe(root_, ec);
  if (ec) {
    return fail(Errc::Io, "read store directory " + root_.string() + ": " + ec.message());
  }
  std::map<std::string, Value> loaded;
  scan(root_, 0, "", loaded);

  std::vector<Object> objects;
  objects.reserve(loaded.size());
  for (auto& [key, value] : loaded) {
    report_.bytes += value->size();
    objects.push_back(Object{key, std::move(value)});
  }
  report_.objects = objects.size();
  index_->apply(std::move(objects), {});
  // Directory order is arbitrary; a sorted report reads and tests better.
  std::sort(report_.removed_temp_files.begin(), report_.removed_temp_files.end());
  std::sort(report_.junk.begin(), report_.junk.end(),
            [](const JunkFile& a, const JunkFile& b) { return a.path < b.path; });
  return {};
}

// Objects live exactly kKeySegments levels below the root; anything else is reported, never
// served, and never followed (symbolic links are junk), so the tree cannot point reads outside.
void DiskStore::scan(const stdfs::path& dir,
                     std::size_t depth,
                     const std::string& key_prefix,
                     std::map<std::string, Value>& loaded) {
  auto junk = [this](const stdfs::path& path, std::string reason) {
    report_.junk.push_back(JunkFile{path, std::move(reason)});
  };
  std::error_code ec;
  stdfs::directory_iterator it(dir, ec);
  if (ec) {
    junk(dir, "unreadable directory: " + ec.message());
    return;
  }
  for (; it != stdfs::directory_iterator(); it.increment(ec)) {
    if (ec) {
      junk(dir, "listing failed part-way: " + ec.message());
      return;
    }
    const auto& path = it->path();
    const std::string name = path.filename().string();
    if (depth == 0 && name == kLockName) {
      continue;
    }
    const auto type = it->symlink_status(ec).type();
    if (ec) {
      junk(path, "stat failed: " + ec.message());
      continue;
    }
    if (fs::is_temp_name(name) && type == stdfs::file_type::regular) {
      // An interrupted write: the object it was replacing is still intact under its own name.
      if (::unlink(path.c_str()) == 0) {
        report_.removed_temp_files.push_back(path);
      } else {
        junk(path, std::string("leftover temp file could not be deleted: ") +
                       std::error_code(errno, std::system_category()).message());
      }
      continue;
    }
    if (auto problem = segment_problem(name)) {
      junk(path, "not a key segment: name " + *problem);
      continue;
    }
    if (type == stdfs::file_type::symlink) {
      junk(path, "symbolic link (never followed)");
      continue;
    }
    if (depth + 1 < kKeySegments) {
      if (type == stdfs::file_type::directory) {
        scan(path, depth + 1, key_prefix + name + "/", loaded);
      } else {
        junk(path, "expected a directory at depth " + std::to_string(depth + 1) +
                       " (objects live at depth " + std::to_string(kKeySegments) + ")");
      }
      continue;
    }
    if (type != stdfs::file_type::regular) {
      junk(path, type == stdfs::file_type::directory ? "directory where an object file belongs"
                                                     : "not a regular file");
      continue;
    }
    auto bytes = fs::read_file(path, kMaxObjectBytes);
    if (!bytes) {
      junk(path, "unreadable: " + bytes.error().what());
      continue;
    }
    std::string key = key_prefix + name;
    if (options_.validator) {
      if (auto valid = options_.validator(key, *bytes); !valid) {
        junk(path, "rejected by validator: " + valid.error().what());
        continue;
      }
    }
    loaded.emplace(std::move(key), std::make_shared<const std::string>(std::move(*bytes)));
  }
}

Result<void> DiskStore::write_object(std::string_view key, std::string_view bytes, bool& visible) {
  const auto path = root_ / key;
  const auto dir = path.parent_path();
  const std::string context = "write " + quote(key);
  if (auto made = fs::create_dirs(dir, options_.dir_mode); !made) {
    return io_error(context, made.error());
  }
  auto temp = fs::write_temp(dir, bytes, options_.file_mode);
  if (!temp) {
    return io_error(context, temp.error());
  }
  if (::rename(temp->c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp->c_str());
    return io_errno(context + ": rename " + temp->string() + " to " + path.string(), err);
  }
  visible = true;
  if (auto synced = fs::fsync_dir(dir); !synced) {
    return io_error(context + " (in place, durability unknown)", synced.error());
  }
  return {};
}

Result<void> DiskStore::put(std::string_view key, std::string bytes) {
  auto written = put_if(key, std::move(bytes), [](const Value&) { return true; });
  if (!written) {
    return written.error();
  }
  return {};
}

Result<bool> DiskStore::put_if(std::string_view key,
                               std::string bytes,
                               const Precondition& accept) {
  if (auto ok = check_object(key, bytes); !ok) {
    return ok.error();
  }
  std::lock_guard lock(write_mutex_);
  const auto current = index_->find(key);
  if (!accept(current)) {
    return false;
  }
  if (current != nullptr && *current == bytes) {
    return true;  // already stored: skip the fsyncs
  }
  bool visible = false;
  auto written = write_object(key, bytes, visible);
  if (visible) {  // the index mirrors what is on disk, even when durability is in doubt
    index_->put(std::string(key), std::make_shared<const std::string>(std::move(bytes)));
  }
  if (!written) {
    return written.error();
  }
  return true;
}

Result<Value> DiskStore::get(std::string_view key) const {
  return index_->get(key);
}

Result<void> DiskStore::remove(std::string_view key) {
  std::lock_guard lock(write_mutex_);
  if (auto present = index_->check_present(key); !present) {
    return present;
  }
  const auto path = root_ / key;
  // ENOENT: someone removed the file behind our back; the object is gone either way.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return io_errno("remove " + path.string(), errno);
  }
  index_->erase(key);
  if (auto synced = fs::fsync_dir(path.parent_path()); !synced) {
    return io_error("remove " + quote(key) + " (gone, durability unknown)", synced.error());
  }
  return {};
}

std::vector<Object> DiskStore::list(std::string_view prefix) const {
  return index_->list(prefix);
}

std::vector<std::string> DiskStore::keys(std::string_view prefix) const {
  return index_->keys(prefix);
}

Result<ReplaceSummary> DiskStore::replace_prefix(std::string_view prefix,
                                                 std::map<std::string, std::string> objects) {
  if (auto ok = check_replace(prefix, objects); !ok) {
    return ok.error();
  }
  std::lock_guard lock(write_mutex_);
  auto plan = plan_replace(index_->list(prefix), std::move(objects));
  const ReplaceSummary summary{plan.writes.size(), plan.unchanged, plan.removals.size()};
  const std::string context = "replace " + quote(prefix);

  // 1. Every new version as a complete, fsynced temp file. A failure here changes nothing.
  std::vector<stdfs::path> temps;
  temps.reserve(plan.writes.size());
  auto discard_from = [&temps](std::size_t first) {
    for (std::size_t i = first; i < temps.size(); ++i) {
      ::unlink(temps[i].c_str());
    }
  };
  for (const auto& [key, bytes] : plan.writes) {
    const auto dir = (root_ / key).parent_path();
    auto made = fs::create_dirs(dir, options_.dir_mode);
    auto temp =
        made ? fs::write_temp(dir, bytes, options_.file_mode) : Result<stdfs::path>(made.error());
    if (!temp) {
      discard_from(0);
      return io_error(context + ": write " + quote(key), temp.error());
    }
    temps.push_back(std::move(*temp));
  }

  // 2. Rename each into place; 3. fsync each touched directory once. From here on the index
  // follows the disk: whatever got renamed is served.
  std::vector<Object> upserts;
  std::set<stdfs::path> dirs;
  std::optional<Error> failure;
  for (std::size_t i = 0; i < temps.size(); ++i) {
    auto& [key, bytes] = plan.writes[i];
    const auto path = root_ / key;
    if (::rename(temps[i].c_str(), path.c_str()) != 0) {
      failure = io_errno(context + ": rename " + temps[i].string() + " to " + path.string(), errno);
      discard_from(i);
      break;
    }
    dirs.insert(path.parent_path());
    upserts.push_back(Object{key, std::make_shared<const std::string>(std::move(bytes))});
  }
  for (const auto& dir : dirs) {
    if (auto synced = fs::fsync_dir(dir); !synced && !failure) {
      failure = io_error(context + " (written, durability unknown)", synced.error());
    }
  }
  if (failure) {
    index_->apply(std::move(upserts), {});  // stale objects stay: the old view of them holds
    return *failure;
  }

  // 4. Only now remove stale objects, so a crash never loses an object the new set still has.
  std::vector<std::string> removed;
  dirs.clear();
  for (const auto& key : plan.removals) {
    const auto path = root_ / key;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      if (!failure) {
        failure = io_errno(context + ": remove " + path.string(), errno);
      }
      continue;
    }
    removed.push_back(key);
    dirs.insert(path.parent_path());
  }
  for (const auto& dir : dirs) {
    if (auto synced = fs::fsync_dir(dir); !synced && !failure) {
      failure = io_error(context + " (removed, durability unknown)", synced.error());
    }
  }
  index_->apply(std::move(upserts), removed);
  if (failure) {
    return *failure;
  }
  return summary;
}

Stats DiskStore::stats() const {
  return index_->stats();
}

}  // namespace yurt::storage
