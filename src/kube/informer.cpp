#include "yurt/kube/informer.hpp"

#include <set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "yurt/kube/resource_version.hpp"

namespace yurt::kube {

namespace asio = boost::asio;
using json = nlohmann::json;

Informer::Informer(net::Executor ex,
                   ListerWatcher& lister_watcher,
                   const Clock& clock,
                   SleepFunction sleep,
                   ReflectorOptions options)
    : reflector_(lister_watcher, *this, clock, std::move(sleep), std::move(options)),
      synced_signal_(std::move(ex)) {
  synced_signal_.expires_at(asio::steady_timer::time_point::max());
}

void Informer::add_handlers(ResourceEventHandlers handlers) {
  handlers_.push_back(std::move(handlers));
}

asio::awaitable<void> Informer::run() {
  co_await reflector_.run();
}

asio::awaitable<bool> Informer::wait_for_sync() {
  while (!has_synced()) {
    co_await synced_signal_.async_wait(asio::as_tuple(asio::use_awaitable));
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      break;
    }
  }
  co_return has_synced();
}

void Informer::notify_add(const json& object) const {
  for (const auto& h : handlers_) {
    if (h.on_add) {
      h.on_add(object);
    }
  }
}

void Informer::notify_update(const json& old_object, const json& new_object) const {
  for (const auto& h : handlers_) {
    if (h.on_update) {
      h.on_update(old_object, new_object);
    }
  }
}

void Informer::notify_delete(const json& object) const {
  for (const auto& h : handlers_) {
    if (h.on_delete) {
      h.on_delete(object);
    }
  }
}

void Informer::replace(std::vector<json> items, const std::string& resource_version) {
  // Diff the old state against the new list, so handlers see exactly the changes a relist
  // brought (deletions that happened while we were not watching included).
  auto before = store_.snapshot();
  std::vector<std::string> added;
  std::vector<std::pair<std::string, ObjectStore::ObjectPtr>> updated;  // key, old object
  std::set<std::string, std::less<>> seen;
  for (const auto& item : items) {
    auto key = object_key(item);
    if (!key || seen.contains(*key)) {
      continue;
    }
    auto it = before->find(*key);
    if (it == before->end()) {
      added.push_back(*key);
    } else {
      const auto rv = resource_version_of(item);
      if (rv.empty() || rv != resource_version_of(*it->second)) {
        updated.emplace_back(*key, it->second);
      }
    }
    seen.insert(std::move(*key));
  }
  store_.replace(std::move(items), resource_version);
  for (const auto& [key, object] : *before) {
    if (!seen.contains(key)) {
      notify_delete(*object);
    }
  }
  for (const auto& [key, old_object] : updated) {
    if (auto now = store_.get(key)) {
      notify_update(*old_object, *now);
    }
  }
  for (const auto& key : added) {
    if (auto now = store_.get(key)) {
      notify_add(*now);
    }
  }
  synced_signal_.cancel();  // wakes wait_for_sync(); harmless after the first time
}

void Informer::add(json object) {
  update(std::move(object));
}

void Informer::update(json object) {
  auto key = object_key(object);
  if (!key) {
    return;
  }
  auto old_object = store_.get(*key);
  store_.update(std::move(object));
  auto now = store_.get(*key);
  if (old_object) {
    notify_update(*old_object, *now);
  } else {
    notify_add(*now);
  }
}

void Informer::remove(const json& object) {
  auto key = object_key(object);
  if (!key) {
    return;
  }
  auto old_object = store_.get(*key);
  store_.remove(object);
  if (old_object) {
    notify_delete(object);
  }
}

}  // namespace yurt::kube
