#pragma once

#include <cstddef>
#include <map>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "yurt/base/result.hpp"
#include "yurt/storage/store.hpp"

namespace yurt::storage {

/// The in-memory view both stores serve reads from: sorted key → shared value.
///
/// Thread-safety: every member is safe concurrently; readers share a lock held only while
/// copying pointers, writers take it exclusively only to swap entries in (never across disk I/O).
class Index {
 public:
  [[nodiscard]] Value find(std::string_view key) const;
  /// Store::get(): the key validated, NotFound when absent.
  [[nodiscard]] Result<Value> get(std::string_view key) const;
  /// Store::remove()'s checks: the key validated, NotFound when absent.
  [[nodiscard]] Result<void> check_present(std::string_view key) const;
  [[nodiscard]] std::vector<Object> list(std::string_view prefix) const;
  [[nodiscard]] std::vector<std::string> keys(std::string_view prefix) const;
  [[nodiscard]] Stats stats() const;

  void put(std::string key, Value value);
  void erase(std::string_view key);
  /// Upserts and removals in one step, so readers see all of them or none.
  void apply(std::vector<Object> upserts, const std::vector<std::string>& removals);

 private:
  void put_locked(std::string key, Value value);
  void erase_locked(std::string_view key);

  mutable std::shared_mutex mutex_;
  std::map<std::string, Value, std::less<>> objects_;
  std::size_t bytes_ = 0;
};

/// Key validity and the size limit, checked identically by every store before any change.
[[nodiscard]] Result<void> check_object(std::string_view key, std::string_view bytes);

/// check_object() for each object plus "every key lies under the prefix".
[[nodiscard]] Result<void> check_replace(std::string_view prefix,
                                         const std::map<std::string, std::string>& objects);

/// What replace_prefix() has to do, given what is stored under the prefix now.
struct ReplacePlan {
  std::vector<std::pair<std::string, std::string>> writes;  ///< new or changed, sorted by key
  std::vector<std::string> removals;                        ///< stale keys, sorted
  std::size_t unchanged = 0;
};

[[nodiscard]] ReplacePlan plan_replace(const std::vector<Object>& current,
                                       std::map<std::string, std::string> objects);

}  // namespace yurt::storage
