#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace yurt::kube {

/// What a Reflector writes to: the list it got, then each watch event. Objects given here
/// always have a valid object_key() (the reflector drops others).
///
/// @par Thread Safety
/// Called from the reflector's executor only.
/// @par Lifetime
/// Must outlive the reflector's run().
/// @par Errors
/// None: the calls cannot fail (an implementation that persists must handle its own errors).
class ReflectorStore {
 public:
  virtual ~ReflectorStore() = default;
  /// The complete state at `resource_version`: objects absent from `items` are gone.
  virtual void replace(std::vector<nlohmann::json> items, const std::string& resource_version) = 0;
  /// ADDED (an existing key is replaced: after a relist a watch may re-add what the list had).
  virtual void add(nlohmann::json object) = 0;
  /// MODIFIED (an unknown key is added).
  virtual void update(nlohmann::json object) = 0;
  /// DELETED; `object` is its last state. Unknown keys are ignored.
  virtual void remove(const nlohmann::json& object) = 0;
};

/// The in-memory view of one resource, keyed "namespace/name" (client-go's
/// MetaNamespaceKeyFunc; "name" for cluster-scoped objects), values as JSON. Readers get
/// immutable objects (shared_ptr<const json>) and cheap snapshots: a snapshot is shared until
/// the next write, which then copies the index once (copy-on-write), so handlers can keep a
/// snapshot across co_awaits without seeing it change.
///
/// @par Thread Safety
/// Not thread-safe: use from the owning executor. Objects and snapshots it hands out are
/// immutable and may be read from any thread.
class ObjectStore final : public ReflectorStore {
 public:
  using ObjectPtr = std::shared_ptr<const nlohmann::json>;
  using Index = std::map<std::string, ObjectPtr, std::less<>>;

  ObjectStore();

  // ReflectorStore. Objects without a valid key are ignored.
  void replace(std::vector<nlohmann::json> items, const std::string& resource_version) override;
  void add(nlohmann::json object) override;
  void update(nlohmann::json object) override;
  void remove(const nlohmann::json& object) override;

  /// The object under `key`, or null.
  [[nodiscard]] ObjectPtr get(std::string_view key) const;
  /// Every object, ordered by key.
  [[nodiscard]] std::vector<ObjectPtr> list() const;
  /// The objects of one namespace (key prefix "namespace/").
  [[nodiscard]] std::vector<ObjectPtr> list(std::string_view namespace_name) const;
  [[nodiscard]] std::vector<std::string> keys() const;
  [[nodiscard]] std::size_t size() const noexcept { return index_->size(); }
  /// An immutable view of everything now.
  [[nodiscard]] std::shared_ptr<const Index> snapshot() const;
  /// The RV of the last replace() or event applied ("" before the first).
  [[nodiscard]] const std::string& resource_version() const noexcept { return resource_version_; }

 private:
  Index& writable();

  std::shared_ptr<Index> index_;
  mutable bool shared_ = false;  // a snapshot of index_ was handed out since the last copy
  std::string resource_version_;
};

}  // namespace yurt::kube
