#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "yurt/base/result.hpp"
#include "yurt/storage/errc.hpp"
#include "yurt/storage/key.hpp"

namespace yurt::storage {

/// Immutable stored bytes, shared between the store and its readers: a LIST copies pointers, not
/// objects, and a value read stays valid after the key is overwritten or removed.
using Value = std::shared_ptr<const std::string>;

/// One stored object.
struct Object {
  std::string key;
  Value value;
};

struct Stats {
  std::size_t objects = 0;
  std::size_t bytes = 0;  ///< sum of value sizes
};

/// What a replace_prefix() did.
struct ReplaceSummary {
  std::size_t written = 0;    ///< new or changed objects
  std::size_t unchanged = 0;  ///< same bytes as stored: not rewritten
  std::size_t removed = 0;    ///< stale objects under the prefix
};

/// Decides a conditional write from the current value (null when the key is absent).
using Precondition = std::function<bool(const Value& current)>;

/// The largest object a store accepts. etcd's default request limit is 1.5 MiB; 16 MiB leaves
/// room for clusters that raised it, while a stray huge file in the cache directory still cannot
/// exhaust memory at start-up.
inline constexpr std::size_t kMaxObjectBytes = std::size_t{16} << 20U;

/// A key → bytes object store (architecture D2). Keys follow key.hpp; every operation taking a
/// key validates it and fails with Errc::InvalidKey before touching anything. Reads are served
/// from memory.
///
/// @par Thread Safety
/// Implementations are safe for concurrent callers. Each call is atomic for readers: a list()
/// sees a replace_prefix() either entirely or not at all. Writers are serialized; readers never
/// wait for disk I/O.
///
/// @par Errors
/// NotFound, InvalidKey, TooLarge, Io (disk stores). A failed write leaves the store as the
/// message says: never with a torn object.
class Store {
 public:
  virtual ~Store() = default;

  /// Stores `bytes` under `key`, replacing any previous value. Writing the bytes already stored
  /// is a no-op (watch re-deliveries cost no disk write).
  [[nodiscard]] virtual Result<void> put(std::string_view key, std::string bytes) = 0;

  /// Like put(), but only if `accept(current)` returns true, evaluated atomically with the write
  /// (no other writer in between): the hub's resourceVersion guard for watch events. Returns
  /// whether it wrote. `accept` runs under the store's writer lock: keep it short and do not call
  /// back into the store.
  [[nodiscard]] virtual Result<bool> put_if(std::string_view key,
                                            std::string bytes,
                                            const Precondition& accept) = 0;

  /// The value under `key`; Errc::NotFound if absent.
  [[nodiscard]] virtual Result<Value> get(std::string_view key) const = 0;

  /// Deletes `key`; Errc::NotFound if absent.
  [[nodiscard]] virtual Result<void> remove(std::string_view key) = 0;

  /// All objects whose key starts with `prefix` (any string; "" = everything), sorted by key.
  [[nodiscard]] virtual std::vector<Object> list(std::string_view prefix) const = 0;

  /// Keys starting with `prefix`, sorted.
  [[nodiscard]] virtual std::vector<std::string> keys(std::string_view prefix) const = 0;

  /// Makes the objects under `prefix` (a validate_prefix() prefix) exactly `objects`: writes new
  /// and changed ones, removes the rest — what a full LIST means for the cache. Every key in
  /// `objects` must lie under `prefix`, else Errc::InvalidKey and nothing changes. Readers see the
  /// old set or the new one. Disk stores document what an error or a crash part-way leaves.
  [[nodiscard]] virtual Result<ReplaceSummary> replace_prefix(
      std::string_view prefix, std::map<std::string, std::string> objects) = 0;

  [[nodiscard]] virtual Stats stats() const = 0;
};

}  // namespace yurt::storage
