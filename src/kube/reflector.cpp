#include "yurt/kube/reflector.hpp"

#include <utility>

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include "yurt/base/log.hpp"
#include "yurt/kube/resource_version.hpp"

namespace yurt::kube {

namespace asio = boost::asio;

namespace {

spdlog::logger& logger() {
  return log::get("kube");
}

bool is_gone(const Error& e) {
  return e == make_error_code(Errc::Gone);
}

// Sets the state to Stopped however run() ends (normally, by cancellation or by exception).
struct StopOnExit {
  ReflectorState& state;
  ~StopOnExit() { state = ReflectorState::Stopped; }
};

}  // namespace

std::string_view to_string(ReflectorState state) noexcept {
  switch (state) {
    case ReflectorState::Idle:
      return "Idle";
    case ReflectorState::Listing:
      return "Listing";
    case ReflectorState::Watching:
      return "Watching";
    case ReflectorState::BackingOff:
      return "BackingOff";
    case ReflectorState::Stopped:
      return "Stopped";
  }
  return "Unknown";
}

Reflector::Reflector(ListerWatcher& lister_watcher,
                     ReflectorStore& store,
                     const Clock& clock,
                     SleepFunction sleep,
                     ReflectorOptions options)
    : lister_watcher_(lister_watcher),
      store_(store),
      clock_(clock),
      sleep_(std::move(sleep)),
      options_(std::move(options)),
      backoff_(options_.backoff, clock, options_.seed),
      random_(options_.seed ^ 0x9e3779b97f4a7c15ULL) {}

asio::awaitable<void> Reflector::run() {
  // A graceful stop (total cancellation) must end a watch that may otherwise idle for minutes.
  co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
  StopOnExit stop{state_};
  state_ = ReflectorState::Listing;
  try {
    for (;;) {
      switch (state_) {
        case ReflectorState::Listing:
          state_ = co_await do_list();
          break;
        case ReflectorState::Watching:
          state_ = co_await do_watch();
          break;
        case ReflectorState::BackingOff:
          state_ = co_await do_backoff();
          break;
        case ReflectorState::Idle:
        case ReflectorState::Stopped:
          co_return;
      }
      // Steps report failures as values; a cancelled step returns one too. Stop here.
      auto cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none) {
        co_return;
      }
    }
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted) {
      throw;
    }
  }
  logger().debug("reflector {}: stopped", options_.name);
}

std::string Reflector::relist_resource_version() const {
  if (rv_unavailable_) {
    return "";  // consistent read: whatever we had is no longer served
  }
  if (last_rv_.empty()) {
    return "0";  // first list: any version, cheap from the apiserver's watch cache
  }
  return last_rv_;  // not older than what we have seen
}

std::chrono::seconds Reflector::watch_timeout() {
  std::uniform_real_distribution<double> spread(0.0, 1.0);
  const double factor = 1.0 + spread(random_);
  return std::chrono::seconds(
      static_cast<std::int64_t>(static_cast<double>(options_.min_watch_timeout.count()) * factor));
}

asio::awaitable<ReflectorState> Reflector::do_list() {
  const auto rv = relist_resource_version();
  ++stats_.lists;
  auto list = co_await lister_watcher_.list(rv);
  if (!list) {
    last_error_ = list.error();
    if (is_gone(list.error())) {
      ++stats_.gone;
      if (!rv.empty()) {
        logger().info("reflector {}: list at resourceVersion {} expired; listing the latest",
                      options_.name, rv);
        rv_unavailable_ = true;
        co_return ReflectorState::Listing;
      }
    }
    ++stats_.failures;
    logger().warn("reflector {}: list failed: {}", options_.name, list.error().what());
    after_backoff_ = ReflectorState::Listing;
    co_return ReflectorState::BackingOff;
  }
  if (list->resource_version.empty()) {
    ++stats_.failures;
    last_error_ = fail(Errc::Malformed, "list without metadata.resourceVersion");
    logger().warn("reflector {}: list has no resourceVersion; cannot watch from it", options_.name);
    after_backoff_ = ReflectorState::Listing;
    co_return ReflectorState::BackingOff;
  }
  std::vector<nlohmann::json> items;
  items.reserve(list->items.size());
  for (auto& item : list->items) {
    if (auto key = object_key(item); !key) {
      logger().warn("reflector {}: skipping a listed object: {}", options_.name,
                    key.error().what());
      continue;
    }
    items.push_back(std::move(item));
  }
  const auto count = items.size();
  store_.replace(std::move(items), list->resource_version);
  last_rv_ = list->resource_version;
  rv_unavailable_ = false;
  if (!synced_) {
    logger().info("reflector {}: synced {} objects at resourceVersion {}", options_.name, count,
                  last_rv_);
  }
  synced_ = true;
  co_return ReflectorState::Watching;
}

asio::awaitable<ReflectorState> Reflector::do_watch() {
  ++stats_.watches;
  const auto started = clock_.monotonic();
  auto stream = co_await lister_watcher_.watch(last_rv_, watch_timeout());
  if (!stream) {
    co_return on_watch_error(stream.error(), false);
  }
  bool had_events = false;
  for (;;) {
    auto event = co_await (*stream)->next();
    if (!event) {
      co_return on_watch_error(event.error(), had_events);
    }
    if (!*event) {
      if (!had_events && clock_.monotonic() - started < options_.very_short_watch) {
        co_return on_watch_error(
            fail(Errc::Unknown, "very short watch: the watch ended within " +
                                    std::to_string(options_.very_short_watch.count()) +
                                    " ms without any event"),
            false);
      }
      gone_in_a_row_ = false;
      co_return ReflectorState::Watching;  // the server's timeout: resume from the last RV
    }
    if (apply(**event)) {
      had_events = true;
      gone_in_a_row_ = false;
    }
  }
}

bool Reflector::apply(const WatchEvent& event) {
  auto rv = resource_version_of(event.object);
  if (event.type == EventType::Bookmark) {
    ++stats_.bookmarks;
    if (!rv.empty()) {
      last_rv_ = std::move(rv);
    }
    return true;
  }
  if (auto key = object_key(event.object); !key) {
    logger().warn("reflector {}: skipping a {} event: {}", options_.name, to_string(event.type),
                  key.error().what());
    return false;
  }
  switch (event.type) {
    case EventType::Added:
      store_.add(event.object);
      break;
    case EventType::Modified:
      store_.update(event.object);
      break;
    case EventType::Deleted:
      store_.remove(event.object);
      break;
    case EventType::Bookmark:
      break;
  }
  ++stats_.events;
  if (!rv.empty()) {
    last_rv_ = std::move(rv);
  }
  return true;
}

ReflectorState Reflector::on_watch_error(const Error& error, bool had_events) {
  if (error.code() == std::errc::operation_canceled) {
    after_backoff_ = ReflectorState::Watching;
    return ReflectorState::BackingOff;  // we are being stopped; run() notices
  }
  last_error_ = error;
  if (is_gone(error)) {
    ++stats_.gone;
    rv_unavailable_ = true;
    const bool again = gone_in_a_row_ && !had_events;
    gone_in_a_row_ = true;
    if (!again) {
      logger().info("reflector {}: watch from resourceVersion {} expired ({}); relisting",
                    options_.name, last_rv_, error.message());
      return ReflectorState::Listing;
    }
    logger().warn("reflector {}: watch expired again right after a relist ({}); backing off",
                  options_.name, error.message());
    after_backoff_ = ReflectorState::Listing;
    return ReflectorState::BackingOff;
  }
  ++stats_.failures;
  logger().warn("reflector {}: watch failed: {}", options_.name, error.what());
  after_backoff_ = ReflectorState::Watching;
  return ReflectorState::BackingOff;
}

asio::awaitable<ReflectorState> Reflector::do_backoff() {
  const auto delay = backoff_.next();
  logger().debug("reflector {}: retrying in {} ms", options_.name,
                 std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
  co_await sleep_(delay);
  co_return after_backoff_;
}

}  // namespace yurt::kube
