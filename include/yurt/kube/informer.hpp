#pragma once

#include <functional>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/kube/lister_watcher.hpp"
#include "yurt/kube/object_store.hpp"
#include "yurt/kube/reflector.hpp"
#include "yurt/kube/sleep.hpp"
#include "yurt/net/asio.hpp"

namespace yurt::kube {

/// Reactions to changes of an informer's objects. Each may be empty. They run synchronously on
/// the informer's executor, after the store was updated: keep them short (enqueue a key into a
/// WorkQueue) and never block.
struct ResourceEventHandlers {
  std::function<void(const nlohmann::json& object)> on_add;
  std::function<void(const nlohmann::json& old_object, const nlohmann::json& new_object)> on_update;
  /// `object` is the last state known (after a relist that no longer has it: the state before).
  std::function<void(const nlohmann::json& object)> on_delete;
};

/// A Reflector feeding an ObjectStore, with event handlers (client-go's shared informer, minus
/// sharing and resync). A relist is turned into the handler calls that bring a handler's view
/// from the old state to the new one: on_add for new keys, on_update for keys whose
/// resourceVersion changed (unchanged objects are not reported), on_delete for keys that
/// disappeared. A watch ADDED for a known key is reported as an update, a MODIFIED for an
/// unknown key as an add, a DELETED for an unknown key not at all: a handler never sees an add
/// for a key it already has or an update/delete for one it does not.
///
/// @par Thread Safety
/// Not thread-safe: everything on the executor of run().
/// @par Lifetime
/// `lister_watcher` and `clock` must outlive run(); add handlers before run().
class Informer final : private ReflectorStore {
 public:
  Informer(net::Executor ex,
           ListerWatcher& lister_watcher,
           const Clock& clock,
           SleepFunction sleep,
           ReflectorOptions options = {});

  void add_handlers(ResourceEventHandlers handlers);

  /// Runs the reflector until cancelled; returns normally then.
  boost::asio::awaitable<void> run();

  /// Completes once the first list was delivered (true), or early when the awaiting coroutine
  /// is cancelled (false).
  boost::asio::awaitable<bool> wait_for_sync();

  [[nodiscard]] bool has_synced() const noexcept { return reflector_.has_synced(); }
  [[nodiscard]] const ObjectStore& store() const noexcept { return store_; }
  [[nodiscard]] const Reflector& reflector() const noexcept { return reflector_; }

 private:
  void replace(std::vector<nlohmann::json> items, const std::string& resource_version) override;
  void add(nlohmann::json object) override;
  void update(nlohmann::json object) override;
  void remove(const nlohmann::json& object) override;
  void notify_add(const nlohmann::json& object) const;
  void notify_update(const nlohmann::json& old_object, const nlohmann::json& new_object) const;
  void notify_delete(const nlohmann::json& object) const;

  ObjectStore store_;
  Reflector reflector_;
  std::vector<ResourceEventHandlers> handlers_;
  boost::asio::steady_timer synced_signal_;
};

}  // namespace yurt::kube
