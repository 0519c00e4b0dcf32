#pragma once

// Private to yurt_hub_cache: the state the manager, its recorders and the offline answers share —
// the store, the table of covered parts, per-resource write locks, the node Lease kept in memory
// and the counters. docs/yurthub-cache.md explains the model; the comments here say how.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "yurt/base/clock.hpp"
#include "yurt/base/result.hpp"
#include "yurt/kube/selectors.hpp"
#include "yurt/storage/store.hpp"

#include "src/apps/hub/cache/cache_manager.hpp"

namespace yurt::hub {

/// One resource as one component sees it: the unit of locking and of LIST replacement.
struct ResourceId {
  std::string component;
  std::string group;  ///< "" for the core group
  std::string version;
  std::string resource;

  [[nodiscard]] static ResourceId of(const RequestContext& req);
  [[nodiscard]] kube::ResourceRef ref() const { return {group, resource}; }
  /// "v1", "apps/v1".
  [[nodiscard]] std::string api_version() const;
  /// As the apiserver names it in messages: "pods", "leases.coordination.k8s.io".
  [[nodiscard]] std::string group_resource() const;
};

/// What LIST replacement, the guards and offline selection need to know about one stored object,
/// kept in memory beside the store so that no decision re-parses stored bytes.
struct ObjectFacts {
  bool parsed = false;  ///< false: the stored bytes are not a JSON object (nothing else is set)
  std::string resource_version;
  std::string namespace_name;
  nlohmann::json labels;  ///< `metadata.labels` as stored; null when absent
  /// kube::field_value() of each of kube::selectable_fields(ref), in that order: a selector on
  /// any other field reads the stored object (correct, only slower).
  std::vector<std::string> fields;

  [[nodiscard]] static ObjectFacts of(const nlohmann::json& object, kube::ResourceRef ref);
  /// Parses stored bytes (the slow path: objects written behind the index's back).
  [[nodiscard]] static ObjectFacts parse(std::string_view bytes, kube::ResourceRef ref);
};

/// A selection of one resource: a namespace ("" = all namespaces, or a cluster-scoped
/// resource) and label and field selectors — what a LIST or WATCH asks for.
struct Part {
  std::string namespace_name;
  kube::LabelSelector labels;
  kube::FieldSelector fields;

  [[nodiscard]] static Part of(const RequestContext& req);
  /// True when every object `request` can select is inside this part: this part spans all
  /// namespaces or the same one, and each of its requirements is also one of the request's (a
  /// request can only be narrower). Sound, not complete: `a in (x)` does not cover `a=x`.
  [[nodiscard]] bool covers(const Part& request) const;
  /// Whether `object` (as stored, with kind) is inside this part.
  [[nodiscard]] bool contains(const nlohmann::json& object, kube::ResourceRef ref) const;
  /// The same decision from the facts of a parsed object; nullopt when a field selector uses a
  /// field the facts do not hold (the caller evaluates the object itself).
  [[nodiscard]] std::optional<bool> contains(const ObjectFacts& facts, kube::ResourceRef ref) const;
  [[nodiscard]] bool unselective() const { return labels.empty() && fields.empty(); }
  /// Canonical text: namespace, label selector and field selector, one per line.
  [[nodiscard]] std::string id() const;
};

/// A part the cache has seen listed completely: a LIST, or a watch's initial events up to the
/// `k8s.io/initial-events-end` bookmark. Kept in the store (`<component>/_lists/<res>/<hash>`).
struct PartRecord {
  Part part;
  /// Every object inside the part that exists at this RV and was not changed since is in the
  /// view; watches of the part move it forward event by event.
  std::string resource_version;
  std::string kind;         ///< of one item: "Pod"
  std::string api_version;  ///< "v1"
};

/// Counters behind CacheStats.
struct Counters {
  std::atomic<std::uint64_t> lists_recorded{0};
  std::atomic<std::uint64_t> watch_events_recorded{0};
  std::atomic<std::uint64_t> objects_recorded{0};
  std::atomic<std::uint64_t> stale_ignored{0};
  std::atomic<std::uint64_t> skipped_non_json{0};
  std::atomic<std::uint64_t> skipped_too_large{0};
  std::atomic<std::uint64_t> rejected_malformed{0};
  std::atomic<std::uint64_t> incomplete_bodies{0};
  std::atomic<std::uint64_t> store_errors{0};
  std::atomic<std::uint64_t> served_offline{0};
  std::atomic<std::uint64_t> refused_offline{0};
};

/// True when RV `a` is known to be newer than `b` (both etcd revisions). Unordered RVs are never
/// "newer": then the apiserver's latest word wins (kube::should_replace).
[[nodiscard]] bool newer(std::string_view a, std::string_view b) noexcept;

/// `metadata.resourceVersion` of stored bytes ("" when they do not parse).
[[nodiscard]] std::string stored_resource_version(std::string_view bytes);

/// Parses untrusted JSON: nullopt for malformed bytes or nesting deeper than kMaxJsonDepth
/// (nlohmann's dump() recurses; the apiserver's own objects stay far below).
inline constexpr std::size_t kMaxJsonDepth = 512;
[[nodiscard]] std::optional<nlohmann::json> parse_json(std::string_view bytes);

/// The item kind of a built-in resource ("pods" → "Pod"), for answers about views that hold no
/// object to take it from; "" when unknown.
[[nodiscard]] std::string_view builtin_kind(std::string_view group, std::string_view resource);

/// One media range of an Accept or Content-Type header, type lower-cased, parameters as given.
struct MediaRange {
  std::string type;
  std::map<std::string, std::string> params;
  [[nodiscard]] std::string param(const std::string& key) const;
};
[[nodiscard]] std::vector<MediaRange> parse_media_ranges(std::string_view header);

/// The shared state of one cache.
///
/// @par Thread Safety
/// Safe from any thread. Every write to a resource's objects (and to its part records) holds that
/// resource's mutex across the read-decide-write, so concurrent recorders of one component and
/// resource apply one after the other and the resourceVersion guard sees the latest value; the
/// part table has its own short mutex, taken inside the resource mutex or alone by readers;
/// reads of objects take no lock of ours (Store::list is atomic).
class CacheCore {
 public:
  CacheCore(storage::Store& store, CacheSettings settings, const Clock& clock);

  /// Loads the part records from the store; unusable ones are dropped and counted as junk.
  void load();

  [[nodiscard]] const CacheSettings& settings() const noexcept { return settings_; }
  [[nodiscard]] const Clock& clock() const noexcept { return clock_; }
  [[nodiscard]] storage::Store& store() noexcept { return store_; }
  [[nodiscard]] Counters& counters() noexcept { return counters_; }
  [[nodiscard]] CacheStats stats() const;
  /// Waits `d` with the settings' sleep function (real steady timers unless injected).
  [[nodiscard]] net::asio::awaitable<void> sleep(std::chrono::nanoseconds d) const {
    return settings_.sleep(d);
  }

  [[nodiscard]] static Result<std::string> object_key(const ResourceId& rid,
                                                      std::string_view namespace_name,
                                                      std::string_view name);
  /// The prefix of one namespace of the resource, or of all of it when `namespace_name` is "".
  [[nodiscard]] static Result<std::string> view_prefix(const ResourceId& rid,
                                                       std::string_view namespace_name);

  /// One object of a LIST, ready to store.
  struct Item {
    std::string bytes;
    /// Of the parsed item; null when `bytes` are exactly what is stored (no parse was needed).
    std::shared_ptr<const ObjectFacts> facts;
  };
  /// Makes the part of the view `record` describes equal to `items` (keyed by object key):
  /// items are written unless the stored object is newer; objects inside the part that are not
  /// listed and not newer than the list are removed; objects outside it are kept. With
  /// `already_stored` (a watch's initial events, written as they came) those keys count as
  /// listed. A `paginated` list (one page of several) only writes its items and records no part.
  void commit_list(const ResourceId& rid,
                   const PartRecord& record,
                   std::map<std::string, Item> items,
                   const std::set<std::string>* already_stored,
                   bool paginated);

  enum class Write {
    Written,  ///< stored (or the same bytes were already)
    Kept,     ///< the guard kept what is stored (newer, or the same RV)
    Failed,   ///< invalid key or store error (counted)
  };
  /// Writes one object (GET, create/update/patch result, ADDED/MODIFIED) unless the stored one
  /// is at least as new, or it is absent and a part newer than the object says it is gone.
  /// `as_sent`, when given, is the object's text as the apiserver sent it (what `object` was
  /// parsed from, naming its kind and apiVersion): stored instead of a re-serialisation, so
  /// that a later LIST of the same object matches it byte for byte.
  Write upsert(const ResourceId& rid, const nlohmann::json& object, std::string_view as_sent = {});
  /// DELETED: removes the object unless the stored one is at least as new as `rv`.
  Write remove_unless_newer(const ResourceId& rid,
                            std::string_view namespace_name,
                            std::string_view name,
                            std::string_view rv);
  /// A GET answered 404: the object is gone.
  void remove(const ResourceId& rid, std::string_view namespace_name, std::string_view name);

  /// The record of the part with the newest RV among those covering `request`.
  [[nodiscard]] std::optional<PartRecord> covering(const ResourceId& rid,
                                                   const Part& request) const;
  /// The record of exactly this part.
  [[nodiscard]] std::optional<PartRecord> exact(const ResourceId& rid, const Part& part) const;
  /// A watch of `part` delivered an event or bookmark at `rv`: the part is consistent there.
  /// In memory only (flush_part persists); false when the part has no record.
  bool advance(const ResourceId& rid, const Part& part, std::string_view rv);
  /// Persists the part's RV if advance() moved it.
  void flush_part(const ResourceId& rid, const Part& part);

  /// The objects of one namespace of the resource (all of it for ""), sorted by key.
  [[nodiscard]] std::vector<storage::Object> objects(const ResourceId& rid,
                                                     std::string_view namespace_name) const;
  /// Whether a stored object (as objects() returned it) is inside `part`, decided from the
  /// object index; false for bytes that are not a JSON object.
  [[nodiscard]] bool selects(const ResourceId& rid,
                             const Part& part,
                             const storage::Object& object) const;
  /// The facts of a stored object: the index's when it holds exactly these bytes, else parsed.
  [[nodiscard]] std::shared_ptr<const ObjectFacts> facts(const storage::Object& object,
                                                         kube::ResourceRef ref) const;
  /// The index's keys and the bytes each entry describes (tests: it must match the store).
  [[nodiscard]] std::map<std::string, storage::Value> indexed_values() const;

  /// The stored object, or null.
  [[nodiscard]] storage::Value object(const ResourceId& rid,
                                      std::string_view namespace_name,
                                      std::string_view name) const;

  /// Discovery documents: `_discovery/<doc>/<group-version or _>/<representation>`.
  void put_discovery(const std::string& key, std::string bytes);
  [[nodiscard]] storage::Value discovery(const std::string& key) const;

  /// The node Lease as last renewed through us (kept in memory: renewals every 10 s would
  /// otherwise cost an fsync each).
  void remember_lease(const std::string& node, std::string json);
  [[nodiscard]] std::optional<std::string> remembered_lease(const std::string& node) const;

  /// A large body was freed: its heap pages are worth giving back once recording is idle.
  void heap_to_release() noexcept { heap_to_release_ = true; }
  /// Gives freed heap back to the system if heap_to_release() was called since the last time.
  void release_heap_if_due() noexcept;

  /// Logs a store failure (rate-limited) and counts it.
  void store_error(std::string_view what, const Error& e);

 private:
  struct PartEntry {
    PartRecord record;
    std::string key;  // store key of the record
    bool dirty = false;
  };

  [[nodiscard]] std::shared_ptr<std::mutex> resource_mutex(const std::string& resource_prefix);
  /// Under the resource mutex: stores `record` and drops records it supersedes.
  void record_part(const std::string& resource_prefix, const PartRecord& record);
  /// Under the resource mutex: whether a part newer than `rv` contains `object` (so an absent
  /// object at `rv` was deleted since, and must not be written back).
  [[nodiscard]] bool known_gone(const std::string& resource_prefix,
                                const ResourceId& rid,
                                const std::string& key,
                                const ObjectFacts& object,
                                std::string_view bytes) const;
  /// Under the resource mutex: after a write under `prefix`, makes the index entries under it
  /// those of the store; `fresh` gives the facts of the objects just written.
  void reindex(const std::string& prefix,
               const std::map<std::string, std::shared_ptr<const ObjectFacts>>& fresh,
               kube::ResourceRef ref);
  void unindex(const std::string& key);
  /// A watch's DELETED removed `key` at `rv`: until evicted, older states of it are not
  /// written back (a LIST answered before the delete and committed after it).
  void remember_deletion(const std::string& key, std::string_view rv);
  [[nodiscard]] static Result<std::string> part_key(const std::string& resource_prefix,
                                                    const Part& part);

  storage::Store& store_;
  CacheSettings settings_;
  const Clock& clock_;
  Counters counters_;
  std::size_t junk_files_ = 0;

  std::mutex locks_mutex_;
  std::map<std::string, std::shared_ptr<std::mutex>> locks_;  // by resource prefix; never erased

  mutable std::mutex parts_mutex_;
  std::map<std::string, std::vector<PartEntry>> parts_;  // by resource prefix

  struct Indexed {
    storage::Value value;  // the bytes the facts describe (shared with the store)
    std::shared_ptr<const ObjectFacts> facts;
  };
  mutable std::shared_mutex index_mutex_;
  std::map<std::string, Indexed, std::less<>> index_;  // by object key

  // Recent deletions by watches: key → RV of the DELETED, oldest evicted first.
  static constexpr std::size_t kMaxDeletions = 4096;
  mutable std::mutex deletions_mutex_;
  std::map<std::string, std::string> deletions_;
  std::vector<std::string> deletion_order_;  // ring of keys, kMaxDeletions long
  std::size_t deletion_next_ = 0;

  mutable std::mutex lease_mutex_;
  std::map<std::string, std::string> leases_;

  std::atomic<bool> heap_to_release_{false};

  std::mutex log_mutex_;
  std::chrono::steady_clock::time_point last_error_log_{};
  std::uint64_t suppressed_errors_ = 0;
};

}  // namespace yurt::hub
