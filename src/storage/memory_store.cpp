#include "yurt/storage/memory_store.hpp"

#include <utility>

#include "yurt/base/strings.hpp"

#include "src/storage/index.hpp"

namespace yurt::storage {

MemoryStore::MemoryStore() : index_(std::make_unique<Index>()) {}

MemoryStore::~MemoryStore() = default;

Result<void> MemoryStore::put(std::string_view key, std::string bytes) {
  auto written = put_if(key, std::move(bytes), [](const Value&) { return true; });
  if (!written) {
    return written.error();
  }
  return {};
}

Result<bool> MemoryStore::put_if(std::string_view key,
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
  if (current == nullptr || *current != bytes) {
    index_->put(std::string(key), std::make_shared<const std::string>(std::move(bytes)));
  }
  return true;
}

Result<Value> MemoryStore::get(std::string_view key) const {
  return index_->get(key);
}

Result<void> MemoryStore::remove(std::string_view key) {
  std::lock_guard lock(write_mutex_);
  if (auto present = index_->check_present(key); !present) {
    return present;
  }
  index_->erase(key);
  return {};
}

std::vector<Object> MemoryStore::list(std::string_view prefix) const {
  return index_->list(prefix);
}

std::vector<std::string> MemoryStore::keys(std::string_view prefix) const {
  return index_->keys(prefix);
}

Result<ReplaceSummary> MemoryStore::replace_prefix(std::string_view prefix,
                                                   std::map<std::string, std::string> objects) {
  if (auto ok = check_replace(prefix, objects); !ok) {
    return ok.error();
  }
  std::lock_guard lock(write_mutex_);
  auto plan = plan_replace(index_->list(prefix), std::move(objects));
  const ReplaceSummary summary{plan.writes.size(), plan.unchanged, plan.removals.size()};
  std::vector<Object> upserts;
  upserts.reserve(plan.writes.size());
  for (auto& [key, bytes] : plan.writes) {
    upserts.push_back(Object{key, std::make_shared<const std::string>(std::move(bytes))});
  }
  index_->apply(std::move(upserts), plan.removals);
  return summary;
}

Stats MemoryStore::stats() const {
  return index_->stats();
}

}  // namespace yurt::storage
