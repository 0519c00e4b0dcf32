#include "src/storage/index.hpp"

#include <mutex>

#include "yurt/base/strings.hpp"

namespace yurt::storage {

Value Index::find(std::string_view key) const {
  std::shared_lock lock(mutex_);
  const auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<Object> Index::list(std::string_view prefix) const {
  std::vector<Object> out;
  std::shared_lock lock(mutex_);
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    out.push_back(Object{it->first, it->second});
  }
  return out;
}

std::vector<std::string> Index::keys(std::string_view prefix) const {
  std::vector<std::string> out;
  std::shared_lock lock(mutex_);
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
    out.push_back(it->first);
  }
  return out;
}

Stats Index::stats() const {
  std::shared_lock lock(mutex_);
  return Stats{objects_.size(), bytes_};
}

void Index::put(std::string key, Value value) {
  std::unique_lock lock(mutex_);
  put_locked(std::move(key), std::move(value));
}

void Index::erase(std::string_view key) {
  std::unique_lock lock(mutex_);
  erase_locked(key);
}

void Index::apply(std::vector<Object> upserts, const std::vector<std::string>& removals) {
  std::unique_lock lock(mutex_);
  for (auto& o : upserts) {
    put_locked(std::move(o.key), std::move(o.value));
  }
  for (const auto& key : removals) {
    erase_locked(key);
  }
}

void Index::put_locked(std::string key, Value value) {
  bytes_ += value->size();
  auto [it, inserted] = objects_.try_emplace(std::move(key), value);
  if (!inserted) {
    bytes_ -= it->second->size();
    it->second = std::move(value);
  }
}

void Index::erase_locked(std::string_view key) {
  const auto it = objects_.find(key);
  if (it != objects_.end()) {
    bytes_ -= it->second->size();
    objects_.erase(it);
  }
}

Result<Value> Index::get(std::string_view key) const {
  if (auto valid = validate_key(key); !valid) {
    return valid.error();
  }
  if (auto value = find(key)) {
    return value;
  }
  return fail(Errc::NotFound, "no object " + quote(key));
}

Result<void> Index::check_present(std::string_view key) const {
  if (auto value = get(key); !value) {
    return value.error();
  }
  return {};
}

Result<void> check_object(std::string_view key, std::string_view bytes) {
  if (auto valid = validate_key(key); !valid) {
    return valid;
  }
  if (bytes.size() > kMaxObjectBytes) {
    return fail(Errc::TooLarge, "object " + quote(key) + " is " + std::to_string(bytes.size()) +
                                    " bytes, over the limit of " + std::to_string(kMaxObjectBytes));
  }
  return {};
}

Result<void> check_replace(std::string_view prefix,
                           const std::map<std::string, std::string>& objects) {
  if (auto valid = validate_prefix(prefix); !valid) {
    return valid;
  }
  for (const auto& [key, bytes] : objects) {
    if (!std::string_view(key).starts_with(prefix)) {
      return fail(Errc::InvalidKey,
                  "key " + quote(key) + " is not under the replaced prefix " + quote(prefix));
    }
    if (auto ok = check_object(key, bytes); !ok) {
      return ok;
    }
  }
  return {};
}

ReplacePlan plan_replace(const std::vector<Object>& current,
                         std::map<std::string, std::string> objects) {
  ReplacePlan plan;
  // Both sides are sorted by key: one merge pass.
  auto cur = current.begin();
  auto next = objects.begin();
  while (cur != current.end() || next != objects.end()) {
    if (next == objects.end() || (cur != current.end() && cur->key < next->first)) {
      plan.removals.push_back(cur->key);
      ++cur;
    } else if (cur == current.end() || next->first < cur->key) {
      plan.writes.emplace_back(next->first, std::move(next->second));
      ++next;
    } else {
      if (*cur->value == next->second) {
        ++plan.unchanged;
      } else {
        plan.writes.emplace_back(next->first, std::move(next->second));
      }
      ++cur;
      ++next;
    }
  }
  return plan;
}

}  // namespace yurt::storage
