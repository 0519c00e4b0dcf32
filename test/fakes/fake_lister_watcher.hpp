#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "yurt/kube/errors.hpp"
#include "yurt/kube/lister_watcher.hpp"
#include "yurt/kube/resource_version.hpp"

namespace yurt::kube {

/// An in-memory resource that is its own apiserver, for reflector and informer tests (client-go's
/// FakeControllerSource). Mutations (add/modify/remove) bump a global resourceVersion, are kept
/// in a history and are sent to every open watch; watch(rv) replays the history after `rv`.
///
/// Faults, on demand:
/// - reset_watch(): every open watch gets an ERROR event with a 410 Status and ends, and the
///   history is compacted, so watching from any RV older than now fails with HTTP 410 (Gone);
/// - compact(): only the compaction (open watches go on);
/// - end_watches(): the server's timeout — open watches end cleanly;
/// - break_watches(e): open watches fail with a transport error;
/// - fail_next_list(e) / fail_next_watch(e): the next calls fail with `e` (queued, in order);
/// - inject(event_or_error): a raw item (a malformed event, a bookmark with an odd RV) to every
///   open watch.
///
/// Every list and watch completes asynchronously (posted), like the network would.
///
/// @par Thread Safety
/// Single-threaded: use from the executor given at construction.
class FakeListerWatcher final : public ListerWatcher {
 public:
  using Item = Result<std::optional<WatchEvent>>;

  explicit FakeListerWatcher(boost::asio::any_io_executor ex) : executor_(std::move(ex)) {}

  // ---- the source of truth ----

  /// Creates `object` (must have metadata.name; namespace optional). Returns its new RV.
  std::string add(nlohmann::json object) { return record(EventType::Added, std::move(object)); }
  /// Replaces the object with the same key. Returns its new RV.
  std::string modify(nlohmann::json object) {
    return record(EventType::Modified, std::move(object));
  }
  /// Deletes the object under `key`; the DELETED event carries its last state with a new RV.
  std::string remove(std::string_view key) {
    auto it = objects_.find(key);
    if (it == objects_.end()) {
      return {};
    }
    nlohmann::json last = std::move(it->second);
    objects_.erase(it);
    ++rv_;
    last["metadata"]["resourceVersion"] = std::to_string(rv_);
    push_history(EventType::Deleted, last);
    return std::to_string(rv_);
  }
  /// A BOOKMARK at the current RV to every open watch (the RV moves on first, as when other
  /// resources changed meanwhile).
  void bookmark() {
    ++rv_;
    nlohmann::json object = {{"kind", "ConfigMap"},
                             {"apiVersion", "v1"},
                             {"metadata", {{"resourceVersion", std::to_string(rv_)}}}};
    broadcast(Item(std::optional<WatchEvent>(WatchEvent{EventType::Bookmark, object})));
  }

  // ---- faults ----

  void reset_watch() {
    compact();
    broadcast(Item(to_error(expired("too old resource version: reset by the test"))), true);
  }
  void compact() { compacted_ = rv_; }
  void end_watches() { broadcast(Item(std::optional<WatchEvent>()), true); }
  void break_watches(Error e) { broadcast(Item(std::move(e)), true); }
  void fail_next_list(Error e) { list_failures_.push_back(std::move(e)); }
  void fail_next_watch(Error e) { watch_failures_.push_back(std::move(e)); }
  void inject(Item item) { broadcast(std::move(item)); }

  // ---- observation ----

  [[nodiscard]] const std::map<std::string, nlohmann::json, std::less<>>& objects() const {
    return objects_;
  }
  [[nodiscard]] std::string resource_version() const { return std::to_string(rv_); }
  [[nodiscard]] std::size_t open_watches() {
    prune();
    return channels_.size();
  }
  /// RVs asked for, in order.
  std::vector<std::string> list_requests;
  std::vector<std::string> watch_requests;
  std::vector<std::chrono::seconds> watch_timeouts;

  // ---- ListerWatcher ----

  boost::asio::awaitable<Result<ObjectList>> list(std::string resource_version) override {
    list_requests.push_back(resource_version);
    co_await boost::asio::post(executor_, boost::asio::use_awaitable);
    if (!list_failures_.empty()) {
      Error e = std::move(list_failures_.front());
      list_failures_.pop_front();
      co_return e;
    }
    ObjectList list;
    list.resource_version = std::to_string(rv_);
    for (const auto& [key, object] : objects_) {
      list.items.push_back(object);
    }
    co_return list;
  }

  boost::asio::awaitable<Result<WatchStreamPtr>> watch(std::string resource_version,
                                                       std::chrono::seconds timeout) override {
    watch_requests.push_back(resource_version);
    watch_timeouts.push_back(timeout);
    co_await boost::asio::post(executor_, boost::asio::use_awaitable);
    if (!watch_failures_.empty()) {
      Error e = std::move(watch_failures_.front());
      watch_failures_.pop_front();
      co_return e;
    }
    auto from = parse_resource_version(resource_version);
    if (!from || *from == 0) {
      co_return fail(Errc::BadRequest, "the fake watches only from a concrete resourceVersion");
    }
    if (*from < compacted_) {
      co_return to_error(expired("too old resource version: " + resource_version + " (" +
                                 std::to_string(compacted_) + ")"));
    }
    auto channel = std::make_shared<Channel>(executor_);
    for (const auto& [rv, event] : history_) {
      if (rv > *from) {
        channel->queue.emplace_back(std::optional<WatchEvent>(event));
      }
    }
    channels_.push_back(channel);
    co_return std::make_unique<Stream>(std::move(channel));
  }

 private:
  struct Channel {
    explicit Channel(const boost::asio::any_io_executor& ex) : wake(ex) {
      wake.expires_at(boost::asio::steady_timer::time_point::max());
    }
    boost::asio::steady_timer wake;
    std::deque<Item> queue;
    bool closed = false;  // the last item queued ends the stream
  };

  class Stream final : public WatchStream {
   public:
    explicit Stream(std::shared_ptr<Channel> channel) : channel_(std::move(channel)) {}
    ~Stream() override { channel_->closed = true; }

    boost::asio::awaitable<Item> next() override {
      for (;;) {
        if (!channel_->queue.empty()) {
          Item item = std::move(channel_->queue.front());
          channel_->queue.pop_front();
          co_return item;
        }
        if (channel_->closed) {
          co_return std::optional<WatchEvent>();
        }
        co_await channel_->wake.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        auto cs = co_await boost::asio::this_coro::cancellation_state;
        if (cs.cancelled() != boost::asio::cancellation_type::none) {
          co_return Error(make_error_code(boost::asio::error::operation_aborted),
                          "watch cancelled");
        }
      }
    }

   private:
    std::shared_ptr<Channel> channel_;
  };

  std::string record(EventType type, nlohmann::json object) {
    auto key = object_key(object);
    if (!key) {
      throw std::invalid_argument("FakeListerWatcher: " + key.error().what());
    }
    ++rv_;
    object["metadata"]["resourceVersion"] = std::to_string(rv_);
    objects_[*key] = object;
    push_history(type, std::move(object));
    return std::to_string(rv_);
  }

  void push_history(EventType type, nlohmann::json object) {
    WatchEvent event{type, std::move(object)};
    history_.emplace_back(rv_, event);
    broadcast(Item(std::optional<WatchEvent>(std::move(event))));
  }

  void broadcast(Item item, bool close = false) {
    prune();
    for (auto& weak : channels_) {
      auto channel = weak.lock();
      if (!channel || channel->closed) {
        continue;
      }
      channel->queue.push_back(item);
      channel->closed = close;
      channel->wake.cancel();
    }
  }

  void prune() {
    std::erase_if(channels_, [](const std::weak_ptr<Channel>& w) {
      auto c = w.lock();
      return !c || c->closed;
    });
  }

  boost::asio::any_io_executor executor_;
  std::map<std::string, nlohmann::json, std::less<>> objects_;
  std::vector<std::pair<std::uint64_t, WatchEvent>> history_;
  std::vector<std::weak_ptr<Channel>> channels_;
  std::deque<Error> list_failures_;
  std::deque<Error> watch_failures_;
  std::uint64_t rv_ = 100;
  std::uint64_t compacted_ = 0;
};

}  // namespace yurt::kube
