#include "yurt/kube/object_store.hpp"

#include <utility>

#include "yurt/kube/resource_version.hpp"

namespace yurt::kube {

ObjectStore::ObjectStore() : index_(std::make_shared<Index>()) {}

ObjectStore::Index& ObjectStore::writable() {
  if (shared_) {
    // Someone may hold the current index as a snapshot: write into a copy (the objects
    // themselves are immutable and shared).
    index_ = std::make_shared<Index>(*index_);
    shared_ = false;
  }
  return *index_;
}

void ObjectStore::replace(std::vector<nlohmann::json> items, const std::string& resource_version) {
  auto fresh = std::make_shared<Index>();
  for (auto& item : items) {
    auto key = object_key(item);
    if (!key) {
      continue;
    }
    (*fresh)[std::move(*key)] = std::make_shared<const nlohmann::json>(std::move(item));
  }
  index_ = std::move(fresh);
  shared_ = false;
  resource_version_ = resource_version;
}

void ObjectStore::add(nlohmann::json object) {
  update(std::move(object));
}

void ObjectStore::update(nlohmann::json object) {
  auto key = object_key(object);
  if (!key) {
    return;
  }
  if (auto rv = resource_version_of(object); !rv.empty()) {
    resource_version_ = std::move(rv);
  }
  writable()[std::move(*key)] = std::make_shared<const nlohmann::json>(std::move(object));
}

void ObjectStore::remove(const nlohmann::json& object) {
  auto key = object_key(object);
  if (!key) {
    return;
  }
  if (auto rv = resource_version_of(object); !rv.empty()) {
    resource_version_ = std::move(rv);
  }
  if (index_->find(*key) != index_->end()) {
    writable().erase(*key);
  }
}

ObjectStore::ObjectPtr ObjectStore::get(std::string_view key) const {
  auto it = index_->find(key);
  return it == index_->end() ? nullptr : it->second;
}

std::vector<ObjectStore::ObjectPtr> ObjectStore::list() const {
  std::vector<ObjectPtr> out;
  out.reserve(index_->size());
  for (const auto& [key, object] : *index_) {
    out.push_back(object);
  }
  return out;
}

std::vector<ObjectStore::ObjectPtr> ObjectStore::list(std::string_view namespace_name) const {
  std::vector<ObjectPtr> out;
  const std::string prefix = std::string(namespace_name) + "/";
  for (auto it = index_->lower_bound(prefix); it != index_->end() && it->first.starts_with(prefix);
       ++it) {
    out.push_back(it->second);
  }
  return out;
}

std::vector<std::string> ObjectStore::keys() const {
  std::vector<std::string> out;
  out.reserve(index_->size());
  for (const auto& [key, object] : *index_) {
    out.push_back(key);
  }
  return out;
}

std::shared_ptr<const ObjectStore::Index> ObjectStore::snapshot() const {
  shared_ = true;
  return index_;
}

}  // namespace yurt::kube
