#pragma once

// The seam between yurthub's proxy (src/apps/hub) and its cache (src/apps/hub/cache): the proxy
// classifies a request, tees upstream responses into a ResponseRecorder while streaming them to
// the client, and asks serve() to answer from the cache when no apiserver is healthy
// (architecture D1–D3).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"
#include "yurt/kube/request_info.hpp"
#include "yurt/kube/sleep.hpp"
#include "yurt/net/asio.hpp"
#include "yurt/net/http.hpp"
#include "yurt/net/server.hpp"
#include "yurt/storage/store.hpp"

namespace yurt::hub {

/// A request as yurthub sees it. Valid for the duration of the handler that made it.
struct RequestContext {
  std::string component;        ///< User-Agent up to the first '/', e.g. "kubelet"; may be empty
  kube::RequestInfo info;       ///< parsed path and query
  const net::Request* request;  ///< method, target, headers (never null)
  std::string node_name;        ///< this hub's node (for the node Lease and field selectors)
};

/// What the proxy knows about the cloud, for the cache's long-running offline answers.
///
/// @par Thread Safety
/// healthy() from any thread; wait_healthy() from any executor.
class HealthView {
 public:
  virtual ~HealthView() = default;
  /// True while at least one apiserver endpoint is healthy.
  [[nodiscard]] virtual bool healthy() const noexcept = 0;
  /// Completes when some endpoint becomes healthy (at once if one is); cancellable.
  virtual net::asio::awaitable<void> wait_healthy() = 0;
};

/// Fed with an upstream response body as it streams to the client, in pieces of any size.
/// Recording never delays the client: the cache's recorders hand each piece to the cache's
/// recording thread and return (they wait only when that thread is CacheSettings::
/// max_recording_backlog behind); they bound their buffering to one object (a LIST body is
/// parsed when complete, so it is buffered whole, up to the cache's limit — beyond it nothing is
/// recorded and that is counted).
class ResponseRecorder {
 public:
  virtual ~ResponseRecorder() = default;
  virtual void on_data(std::string_view piece) = 0;
  /// `complete` is false when the body was cut short (connection lost, client gone, garbage):
  /// then nothing partial is committed, except whole watch events already applied.
  virtual void finish(bool complete) = 0;
};

/// Settings of the cache (from yurthub's flags).
struct CacheSettings {
  /// Components whose responses are cached (`--cache-agents`); "*" means every component.
  std::vector<std::string> cache_agents{"kubelet",  "kube-proxy",        "coredns",
                                        "flanneld", "yurt-tunnel-agent", "yurthub"};
  /// Bookmark interval of offline watches.
  std::chrono::seconds offline_bookmark_interval{10};
  /// A LIST body larger than this is passed through but not recorded.
  std::size_t max_list_bytes = std::size_t{256} << 20;
  /// Response bytes handed to the recording thread and not yet applied, past which the proxy
  /// waits for it (a slow disk slows the proxy down rather than growing memory or losing writes).
  std::size_t max_recording_backlog = std::size_t{32} << 20;
  /// How offline watches wait (bookmark interval, timeoutSeconds); empty = real steady timers.
  /// Tests inject a fake (test/fakes/fake_timers.hpp). [seam addition, hub_cache]
  kube::SleepFunction sleep{};
};

/// Counters of the cache, for yurthub's /metrics. [seam addition, hub_cache]
struct CacheStats {
  std::size_t objects = 0;     ///< objects in the store (every component, with cache metadata)
  std::size_t bytes = 0;       ///< their size
  std::size_t junk_files = 0;  ///< files a DiskStore found unusable at open (left on disk)
  std::uint64_t lists_recorded = 0;         ///< LISTs (and WatchList initial sets) committed
  std::uint64_t watch_events_recorded = 0;  ///< ADDED/MODIFIED/DELETED applied
  std::uint64_t objects_recorded = 0;       ///< GET/create/update/patch results, discovery docs
  std::uint64_t stale_ignored = 0;     ///< writes refused by the resourceVersion guard (kept newer)
  std::uint64_t skipped_non_json = 0;  ///< responses not recorded: not `application/json`
  std::uint64_t skipped_too_large = 0;   ///< bodies over the recording limits
  std::uint64_t rejected_malformed = 0;  ///< bodies or events that failed validation
  std::uint64_t incomplete_bodies = 0;   ///< bodies cut short (finish(false)): nothing committed
  std::uint64_t store_errors = 0;        ///< failed store writes (logged)
  std::uint64_t served_offline = 0;      ///< requests answered by serve() from the cache
  std::uint64_t refused_offline = 0;     ///< requests serve() answered with an error Status
};

/// Per-component views of the resources node components read, kept in a crash-safe store.
///
/// @par Thread Safety
/// All member functions are safe from any thread (the store serialises writes).
/// @par Errors
/// open() fails on an unusable store; recording failures are logged and counted, never surfaced
/// to the client whose response is being recorded.
class CacheManager {
 public:
  virtual ~CacheManager() = default;

  /// True when the response to this request is to be recorded: a cache agent's GET/LIST/WATCH
  /// (and the results of its create/update/patch) of a resource that may be cached (never CSRs,
  /// SubjectAccessReviews, TokenReviews or tokens), plus /version and discovery documents.
  [[nodiscard]] virtual bool should_record(const RequestContext& req) const = 0;

  /// Starts recording the response `head` to `req`: 2xx `application/json` answers, and a GET's
  /// 404 (its NotFound Status removes the cached object); others return null. The recorder uses
  /// the manager's state: destroy every recorder before the manager.
  [[nodiscard]] virtual std::unique_ptr<ResponseRecorder> record(const RequestContext& req,
                                                                 const net::Response& head) = 0;

  /// Returns once every response piece handed to a recorder so far has been applied to the
  /// cache (recording runs on the cache's own thread, in the order the pieces arrived).
  /// Blocks the calling thread. [seam addition, hub_cache; not pure, like stats()]
  virtual void settle() {}

  /// Answers `req` from the cache while the cloud is unreachable, after settle() (docs/
  /// yurthub-cache.md has the table):
  /// GET; LIST with label and field selectors evaluated; WATCH held open with BOOKMARKs until
  /// timeoutSeconds or until `health` reports the cloud back; sendInitialEvents=true; /version
  /// and discovery; the node's Lease GET/PUT; event creates accepted and dropped; other writes a
  /// clear metav1.Status.
  virtual net::asio::awaitable<void> serve(const RequestContext& req,
                                           net::ServerExchange& exchange,
                                           HealthView& health) = 0;

  /// Counters for /metrics; safe from any thread. [seam addition, hub_cache; not pure so that
  /// fakes of this interface need not implement it]
  [[nodiscard]] virtual CacheStats stats() const { return {}; }
};

/// The cache on `store`; `clock` for Lease times and bookmarks.
[[nodiscard]] Result<std::unique_ptr<CacheManager>> make_cache_manager(storage::Store& store,
                                                                       CacheSettings settings,
                                                                       const Clock& clock);

}  // namespace yurt::hub
