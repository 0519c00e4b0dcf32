#include "yurt/certs/key_pair.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <random>
#include <stdexcept>
#include <system_error>

#include <spdlog/logger.h>

#include "yurt/base/fs.hpp"
#include "yurt/base/log.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/certs/pem.hpp"

#include "src/certs/ossl.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace yurt::certs {
namespace {

namespace stdfs = std::filesystem;

// A combined PEM is a few certificates and a key: a few KiB. A much larger file is not ours.
constexpr std::size_t kMaxPairFile = 1U << 20U;

Error with_context(const Error& e, const std::string& context) {
  return Error(e.code(), context + ": " + e.message());
}

Error sys_error(int err, std::string what) {
  return Error(std::error_code(err, std::system_category()), std::move(what));
}

// Certificates and the one key of a set of PEM blocks. `ignore_keys`/`ignore_certs` let a
// separate cert file carry a key and vice versa (as Go's tls.LoadX509KeyPair tolerates).
struct Parts {
  std::vector<const PemBlock*> certs;
  const PemBlock* key = nullptr;
};

Result<void> collect(const std::vector<PemBlock>& blocks,
                     bool want_certs,
                     bool want_key,
                     Parts& out) {
  for (const auto& block : blocks) {
    const bool is_key =
        ossl::is_private_key_type(block.type) || block.type == "ENCRYPTED PRIVATE KEY";
    if (block.type == "CERTIFICATE") {
      if (want_certs) {
        out.certs.push_back(&block);
      }
    } else if (is_key) {
      if (!want_key) {
        continue;
      }
      if (out.key != nullptr) {
        return fail(Errc::Malformed,
                    "second private key (PEM block at line " + std::to_string(block.line) + ")");
      }
      out.key = &block;
    } else if (block.type != "EC PARAMETERS") {
      return fail(Errc::Malformed, "unexpected PEM block " + quote(block.type) + " at line " +
                                       std::to_string(block.line));
    }
  }
  return {};
}

Result<KeyPair> assemble(const Parts& parts) {
  if (parts.certs.empty()) {
    return fail(Errc::Malformed, "no certificate");
  }
  if (parts.key == nullptr) {
    return fail(Errc::Malformed, "no private key");
  }
  std::string chain;
  std::optional<CertificateInfo> leaf;
  for (const PemBlock* block : parts.certs) {
    auto info = parse_certificate_der(block->der);
    if (!info) {
      return with_context(info.error(), "PEM block at line " + std::to_string(block->line));
    }
    chain += info->pem();
    if (!leaf) {
      leaf = std::move(*info);
    }
  }
  auto key = ossl::private_key_from_block(*parts.key, "private key");
  if (!key) {
    return key.error();
  }
  if (auto ok = key_matches_certificate(*key, chain); !ok) {
    return ok.error();
  }
  return KeyPair{std::move(chain), std::move(*key), std::move(*leaf)};
}

std::string timestamp(std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(now);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u-%02d-%02d-%02d", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()));
  return buf;
}

// "<prefix>-YYYY-MM-DD-HH-MM-SS.pem"
bool is_pair_file(std::string_view name, std::string_view prefix) {
  constexpr std::string_view kPattern = "0000-00-00-00-00-00";
  if (!name.starts_with(prefix) || !name.ends_with(".pem") ||
      name.size() != prefix.size() + 1 + kPattern.size() + 4 || name[prefix.size()] != '-') {
    return false;
  }
  const auto stamp = name.substr(prefix.size() + 1, kPattern.size());
  for (std::size_t i = 0; i < kPattern.size(); ++i) {
    const bool digit = stamp[i] >= '0' && stamp[i] <= '9';
    if (kPattern[i] == '0' ? !digit : stamp[i] != '-') {
      return false;
    }
  }
  return true;
}

std::string random_suffix() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(random()));
  return buf;
}

bool is_link(const stdfs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

std::string link_target(const stdfs::path& p) {
  char buf[4096];
  const ssize_t n = ::readlink(p.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Points `link` at `target` atomically: a fresh symlink under a temporary name, renamed over.
Result<void> replace_symlink(const stdfs::path& dir,
                             const std::string& target,
                             const stdfs::path& link) {
  stdfs::path temp;
  for (int attempt = 0;; ++attempt) {
    temp = dir / (std::string(fs::kTempPrefix) + random_suffix());
    if (::symlink(target.c_str(), temp.c_str()) == 0) {
      break;
    }
    if (errno != EEXIST || attempt == 8) {
      return sys_error(errno, "create symlink " + temp.string());
    }
  }
  if (::rename(temp.c_str(), link.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    return sys_error(err, "rename " + temp.string() + " to " + link.string());
  }
  return fs::fsync_dir(dir);
}

}  // namespace

Result<KeyPair> make_key_pair(std::string_view cert_chain_pem, std::string_view key_pem) {
  auto cert_blocks = parse_pem(cert_chain_pem);
  if (!cert_blocks) {
    return with_context(cert_blocks.error(), "certificate");
  }
  auto key_blocks = parse_pem(key_pem);
  if (!key_blocks) {
    return with_context(key_blocks.error(), "private key");
  }
  Parts parts;
  if (auto ok = collect(*cert_blocks, true, false, parts); !ok) {
    return with_context(ok.error(), "certificate");
  }
  if (auto ok = collect(*key_blocks, false, true, parts); !ok) {
    return with_context(ok.error(), "private key");
  }
  return assemble(parts);
}

Result<KeyPair> parse_combined_pem(std::string_view pem) {
  auto blocks = parse_pem(pem);
  if (!blocks) {
    return blocks.error();
  }
  Parts parts;
  if (auto ok = collect(*blocks, true, true, parts); !ok) {
    return ok.error();
  }
  return assemble(parts);
}

std::string combined_pem(const KeyPair& pair) {
  return pair.cert_chain_pem + pair.key.pem();
}

Result<KeyPair> load_key_pair_files(const stdfs::path& cert_file, const stdfs::path& key_file) {
  auto cert_text = fs::read_file(cert_file, kMaxPairFile);
  if (!cert_text) {
    return cert_text.error();
  }
  std::error_code ec;
  if (cert_file == key_file || stdfs::equivalent(cert_file, key_file, ec)) {
    auto pair = parse_combined_pem(*cert_text);
    if (!pair) {
      return with_context(pair.error(), cert_file.string());
    }
    return pair;
  }
  auto key_text = fs::read_file(key_file, kMaxPairFile);
  if (!key_text) {
    return key_text.error();
  }
  auto cert_blocks = parse_pem(*cert_text);
  if (!cert_blocks) {
    return with_context(cert_blocks.error(), cert_file.string());
  }
  auto key_blocks = parse_pem(*key_text);
  if (!key_blocks) {
    return with_context(key_blocks.error(), key_file.string());
  }
  Parts parts;
  if (auto ok = collect(*cert_blocks, true, false, parts); !ok) {
    return with_context(ok.error(), cert_file.string());
  }
  if (auto ok = collect(*key_blocks, false, true, parts); !ok) {
    return with_context(ok.error(), key_file.string());
  }
  auto pair = assemble(parts);
  if (!pair) {
    return with_context(pair.error(), cert_file.string() + " and " + key_file.string());
  }
  return pair;
}

// ---- KeyPairStore -----------------------------------------------------------------------------

KeyPairStore::KeyPairStore(stdfs::path dir, std::string prefix, const Clock& clock)
    : dir_(std::move(dir)), prefix_(std::move(prefix)), clock_(&clock) {
  if (prefix_.empty() || prefix_.find('/') != std::string::npos || prefix_.starts_with('.')) {
    throw std::invalid_argument("key pair prefix " + quote(prefix_) +
                                " must be a non-empty file name prefix");
  }
}

stdfs::path KeyPairStore::current_path() const {
  return dir_ / (prefix_ + "-current.pem");
}

Result<KeyPair> KeyPairStore::load() const {
  stdfs::path path = current_path();
  auto text = fs::read_file(path, kMaxPairFile);
  if (!text && text.error().code() == std::errc::no_such_file_or_directory) {
    if (is_link(path)) {
      return fail(Errc::NotFound,
                  path.string() + " is a dangling link to " + quote(link_target(path)));
    }
    // client-go's store links "-updated.pem" first and renames it over "-current.pem"; a crash
    // in between leaves only the former.
    const stdfs::path updated = dir_ / (prefix_ + "-updated.pem");
    text = fs::read_file(updated, kMaxPairFile);
    if (!text && text.error().code() == std::errc::no_such_file_or_directory) {
      return fail(Errc::NotFound, "no key pair at " + path.string());
    }
    path = updated;
  }
  if (!text) {
    return text.error();
  }
  auto pair = parse_combined_pem(*text);
  if (!pair) {
    std::string where = path.string();
    if (is_link(path)) {
      where += " (-> " + link_target(path) + ")";
    }
    return with_context(pair.error(), where);
  }
  return pair;
}

Result<KeyPair> KeyPairStore::store(std::string_view cert_chain_pem, const PrivateKey& key) {
  auto pair = make_key_pair(cert_chain_pem, key.pem());
  if (!pair) {
    return pair.error();
  }
  if (auto made = fs::create_dirs(dir_); !made) {
    return made.error();
  }
  const std::string name = prefix_ + "-" + timestamp(clock_->now()) + ".pem";
  const stdfs::path file = dir_ / name;
  // Two rotations within a second reuse the name; atomic_write replaces it whole, and the
  // current link (possibly already pointing here) sees the old pair or the new one.
  if (auto written = fs::atomic_write(file, combined_pem(*pair), fs::kPrivateFile); !written) {
    return written.error();
  }
  // Read back what is on disk before making it current.
  auto text = fs::read_file(file, kMaxPairFile);
  if (!text) {
    return text.error();
  }
  auto stored = parse_combined_pem(*text);
  if (!stored) {
    return with_context(stored.error(), "read back " + file.string());
  }
  if (auto linked = replace_symlink(dir_, name, current_path()); !linked) {
    return linked.error();
  }
  log::get("certs").info("stored key pair path={} subject={} notAfter={}", file.string(),
                         quote(stored->leaf.subject.str(), 200),
                         ossl::format_time(stored->leaf.not_after));
  return stored;
}

Result<std::vector<std::string>> KeyPairStore::pair_files() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (stdfs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (is_pair_file(name, prefix_)) {
      names.push_back(name);
    }
  }
  if (ec) {
    return Error(ec, "list " + dir_.string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::size_t> KeyPairStore::prune(std::size_t keep) {
  auto names = pair_files();
  if (!names) {
    return names.error();
  }
  const std::string current = stdfs::path(link_target(current_path())).filename().string();
  std::size_t removed = 0;
  std::size_t excess = names->size() > keep ? names->size() - keep : 0;
  for (const auto& name : *names) {
    if (excess == 0) {
      break;
    }
    if (name == current) {
      continue;
    }
    if (auto ok = fs::remove_file(dir_ / name); !ok) {
      return ok.error();
    }
    ++removed;
    --excess;
  }
  // Temporary links of an interrupted store(). Only links: temp files in a shared directory may
  // belong to someone else.
  std::vector<stdfs::path> stale;
  std::error_code ec;
  for (stdfs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (fs::is_temp_name(it->path().filename().string()) && is_link(it->path())) {
      stale.push_back(it->path());
    }
  }
  for (const auto& path : stale) {
    if (fs::remove_file(path)) {
      ++removed;
    }
  }
  return removed;
}

}  // namespace yurt::certs
