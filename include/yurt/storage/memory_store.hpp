#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "yurt/storage/store.hpp"

namespace yurt::storage {

class Index;

/// A Store in memory only, with the same rules and results as DiskStore (key validation, size
/// limit, unchanged detection): the store for unit tests of the hub and for components that
/// need no persistence.
///
/// @par Thread Safety
/// Safe for concurrent callers (see Store).
class MemoryStore final : public Store {
 public:
  MemoryStore();
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  [[nodiscard]] Result<void> put(std::string_view key, std::string bytes) override;
  [[nodiscard]] Result<bool> put_if(std::string_view key,
                                    std::string bytes,
                                    const Precondition& accept) override;
  [[nodiscard]] Result<Value> get(std::string_view key) const override;
  [[nodiscard]] Result<void> remove(std::string_view key) override;
  [[nodiscard]] std::vector<Object> list(std::string_view prefix) const override;
  [[nodiscard]] std::vector<std::string> keys(std::string_view prefix) const override;
  [[nodiscard]] Result<ReplaceSummary> replace_prefix(
      std::string_view prefix, std::map<std::string, std::string> objects) override;
  [[nodiscard]] Stats stats() const override;

 private:
  std::mutex write_mutex_;  // serializes writers; readers only take the index's shared lock
  std::unique_ptr<Index> index_;
};

}  // namespace yurt::storage
