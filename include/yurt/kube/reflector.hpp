#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "yurt/base/backoff.hpp"
#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"
#include "yurt/kube/lister_watcher.hpp"
#include "yurt/kube/object_store.hpp"
#include "yurt/kube/sleep.hpp"

namespace yurt::kube {

/// The reflector's state machine (Chromium DoLoop style: one state runs at a time, each step
/// names the next).
///
///     Idle → Listing → Watching ⇄ (clean end: Watching again)
///     Listing  --410 with RV "N"--> Listing (RV "")     --other error--> BackingOff → Listing
///     Watching --410 (HTTP or ERROR event)--> Listing (RV ""; BackingOff first if the previous
///                                             watch also ended in 410 without any event)
///     Watching --other error / very short watch--> BackingOff → Watching (from the last RV)
///     any --cancelled--> Stopped
enum class ReflectorState { Idle, Listing, Watching, BackingOff, Stopped };

[[nodiscard]] std::string_view to_string(ReflectorState state) noexcept;

struct ReflectorOptions {
  /// For logs: "configmaps", "pods spec.nodeName=edge-1".
  std::string name = "reflector";
  /// client-go's reflector backoff (NewReflector: 800 ms initial, ×2, 30 s cap, reset after 2 min
  /// of quiet), the BackoffPolicy defaults: thousands of edge nodes hitting one apiserver after an
  /// outage must spread out and slow down the same way Go clients do.
  BackoffPolicy backoff{};
  /// Watches ask the server to end after min_watch_timeout × (1 + rand[0,1)): client-go's
  /// defaultMinWatchTimeout (5 min). Random spread so watches of many clients do not all end and
  /// re-open at the same instant.
  std::chrono::seconds min_watch_timeout{300};
  /// A watch that ends cleanly sooner than this without a single event is treated as a failure
  /// and backed off (client-go's "very short watch": a server or proxy closing watches at once
  /// would otherwise be hammered in a tight loop).
  std::chrono::milliseconds very_short_watch{1000};
  /// Seeds the jitter of backoff and watch timeouts; daemons pass std::random_device{}().
  std::uint64_t seed = 1;
};

/// Counters for tests and metrics.
struct ReflectorStats {
  std::uint64_t lists = 0;     ///< list() calls
  std::uint64_t watches = 0;   ///< watch() calls
  std::uint64_t gone = 0;      ///< 410s seen (list, watch request or ERROR event)
  std::uint64_t failures = 0;  ///< other failed lists/watches (each followed by a backoff)
  std::uint64_t events = 0;    ///< ADDED/MODIFIED/DELETED applied
  std::uint64_t bookmarks = 0;
};

/// Keeps a ReflectorStore in step with a resource: LIST, Replace the store, WATCH from the list's
/// resourceVersion (with bookmarks, which move the RV without touching the store), apply each
/// event; when the watch ends cleanly, watch again from the last RV; on 410 relist; on any other
/// failure back off (base Backoff) and retry. client-go's reflector, with these choices:
///
/// - The first list asks for RV "0" (any: the apiserver's watch cache answers it cheaply); later
///   relists ask for the last RV seen ("not older than"), and after a 410 for "" (consistent), so
///   the next watch does not start from an RV that is again too old.
/// - After a failed watch (connection lost, apiserver restarting, 5xx, 429) we watch again from
///   the last RV after the backoff rather than relist: the resumed watch loses nothing, and if
///   the RV is no longer served the apiserver says 410 and we relist then.
/// - A 410 relists at once; only a second 410 in a row (no event in between) waits for the
///   backoff, which breaks a relist/410 loop against a lagging server.
/// - Objects without a valid key are skipped (logged), never delivered.
///
/// @par Thread Safety
/// Not thread-safe; everything runs on the executor of run(). Accessors from that executor.
/// @par Lifetime
/// `lister_watcher`, `store` and `clock` must outlive run().
class Reflector {
 public:
  Reflector(ListerWatcher& lister_watcher,
            ReflectorStore& store,
            const Clock& clock,
            SleepFunction sleep,
            ReflectorOptions options = {});

  /// Runs the state machine until cancelled (terminal, partial or total: a graceful stop ends a
  /// watch at once), then returns normally in state Stopped. Call at most once.
  boost::asio::awaitable<void> run();

  [[nodiscard]] ReflectorState state() const noexcept { return state_; }
  /// True once a list has been delivered to the store.
  [[nodiscard]] bool has_synced() const noexcept { return synced_; }
  /// The RV the next watch starts from (the last list, event or bookmark).
  [[nodiscard]] const std::string& last_sync_resource_version() const noexcept { return last_rv_; }
  [[nodiscard]] const ReflectorStats& stats() const noexcept { return stats_; }
  /// The last failure (empty Error when none yet).
  [[nodiscard]] const Error& last_error() const noexcept { return last_error_; }

 private:
  boost::asio::awaitable<ReflectorState> do_list();
  boost::asio::awaitable<ReflectorState> do_watch();
  boost::asio::awaitable<ReflectorState> do_backoff();
  ReflectorState on_watch_error(const Error& error, bool had_events);
  [[nodiscard]] std::string relist_resource_version() const;
  [[nodiscard]] std::chrono::seconds watch_timeout();
  bool apply(const WatchEvent& event);

  ListerWatcher& lister_watcher_;
  ReflectorStore& store_;
  const Clock& clock_;
  SleepFunction sleep_;
  ReflectorOptions options_;
  Backoff backoff_;
  std::mt19937_64 random_;

  ReflectorState state_ = ReflectorState::Idle;
  ReflectorState after_backoff_ = ReflectorState::Listing;
  std::string last_rv_;
  bool rv_unavailable_ = false;  // the last RV got a 410: relist with "" (consistent)
  bool gone_in_a_row_ = false;   // the previous watch ended in 410 before any event
  bool synced_ = false;
  ReflectorStats stats_;
  Error last_error_;
};

}  // namespace yurt::kube
