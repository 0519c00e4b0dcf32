#include "src/apps/hub/cache/cache_core.hpp"

#include <algorithm>
#include <array>
#include <compare>
#include <utility>

#include <spdlog/spdlog.h>

#include "yurt/base/log.hpp"
#include "yurt/base/memory.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/kube/resource_version.hpp"
#include "yurt/storage/disk_store.hpp"
#include "yurt/storage/key.hpp"

#include "src/apps/hub/cache/classify.hpp"

namespace yurt::hub {
namespace {

using nlohmann::json;

spdlog::logger& logger() {
  return log::get("hub");
}

// Segment that marks part records: it has no '.', so it can never be a resource segment
// ("<resource>.<version>.<group>" always has two).
constexpr std::string_view kPartsSegment = "_lists";

// A stable 64-bit FNV-1a: part record file names must not change between builds.
std::string fnv1a_hex(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[h & 0xfU];
    h >>= 4U;
  }
  return out;
}

std::string string_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return {};
  }
  return it->get<std::string>();
}

std::string namespace_of(const json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    return {};
  }
  return string_field(*meta, "namespace");
}

std::string name_of(const json& object) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    return {};
  }
  return string_field(*meta, "name");
}

json part_record_json(const PartRecord& r) {
  return json{{"namespace", r.part.namespace_name},
              {"labelSelector", r.part.labels.to_string()},
              {"fieldSelector", r.part.fields.to_string()},
              {"resourceVersion", r.resource_version},
              {"kind", r.kind},
              {"apiVersion", r.api_version}};
}

std::optional<PartRecord> part_record_from(const json& j) {
  if (!j.is_object()) {
    return std::nullopt;
  }
  for (const char* key :
       {"namespace", "labelSelector", "fieldSelector", "resourceVersion", "kind", "apiVersion"}) {
    if (!j.contains(key) || !j[key].is_string()) {
      return std::nullopt;
    }
  }
  auto labels = kube::LabelSelector::parse(j["labelSelector"].get<std::string>());
  auto fields = kube::FieldSelector::parse(j["fieldSelector"].get<std::string>());
  if (!labels || !fields) {
    return std::nullopt;
  }
  PartRecord r;
  r.part.namespace_name = j["namespace"].get<std::string>();
  r.part.labels = std::move(*labels);
  r.part.fields = std::move(*fields);
  r.resource_version = j["resourceVersion"].get<std::string>();
  r.kind = j["kind"].get<std::string>();
  r.api_version = j["apiVersion"].get<std::string>();
  return r;
}

// "<component>/<resource-segment>/" of a key or prefix with at least two segments.
std::string resource_prefix_of(std::string_view key) {
  const auto first = key.find('/');
  const auto second = key.find('/', first + 1);
  return std::string(key.substr(0, second + 1));
}

}  // namespace

// ---- object facts -------------------------------------------------------------------------

ObjectFacts ObjectFacts::of(const json& object, kube::ResourceRef ref) {
  ObjectFacts f;
  if (!object.is_object()) {
    return f;
  }
  f.parsed = true;
  f.resource_version = kube::resource_version_of(object);
  f.namespace_name = namespace_of(object);
  if (auto meta = object.find("metadata"); meta != object.end() && meta->is_object()) {
    if (auto labels = meta->find("labels"); labels != meta->end()) {
      f.labels = *labels;
    }
  }
  const auto fields = kube::selectable_fields(ref);
  f.fields.reserve(fields.size());
  for (const auto field : fields) {
    f.fields.push_back(kube::field_value(object, field, ref));
  }
  return f;
}

ObjectFacts ObjectFacts::parse(std::string_view bytes, kube::ResourceRef ref) {
  auto j = parse_json(bytes);
  return j ? of(*j, ref) : ObjectFacts{};
}

// ---- small helpers ------------------------------------------------------------------------

ResourceId ResourceId::of(const RequestContext& req) {
  return {req.component, req.info.api_group, req.info.api_version, req.info.resource};
}

std::string ResourceId::api_version() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceId::group_resource() const {
  return kube::GroupResource{group, resource}.str();
}

Part Part::of(const RequestContext& req) {
  return {object_namespace(req.info), req.info.list_options.label_selector,
          req.info.list_options.field_selector};
}

bool Part::covers(const Part& request) const {
  if (!namespace_name.empty() && namespace_name != request.namespace_name) {
    return false;
  }
  const auto& want_labels = request.labels.requirements();
  for (const auto& r : labels.requirements()) {
    if (std::find(want_labels.begin(), want_labels.end(), r) == want_labels.end()) {
      return false;
    }
  }
  const auto& want_fields = request.fields.requirements();
  for (const auto& r : fields.requirements()) {
    if (std::find(want_fields.begin(), want_fields.end(), r) == want_fields.end()) {
      return false;
    }
  }
  return true;
}

bool Part::contains(const json& object, kube::ResourceRef ref) const {
  if (!namespace_name.empty() && namespace_of(object) != namespace_name) {
    return false;
  }
  return labels.matches_object(object) && fields.matches(object, ref);
}

std::optional<bool> Part::contains(const ObjectFacts& facts, kube::ResourceRef ref) const {
  if (!namespace_name.empty() && facts.namespace_name != namespace_name) {
    return false;
  }
  // matches_object() reads metadata.labels the same way: absent or null is the empty set.
  if (!labels.matches(facts.labels)) {
    return false;
  }
  const auto indexed = kube::selectable_fields(ref);
  for (const auto& r : fields.requirements()) {
    const auto at = std::find(indexed.begin(), indexed.end(), r.field);
    if (at == indexed.end() || facts.fields.size() != indexed.size()) {
      return std::nullopt;
    }
    const bool equal = facts.fields[static_cast<std::size_t>(at - indexed.begin())] == r.value;
    if (r.op == kube::SelectorOp::NotEquals ? equal : !equal) {
      return false;
    }
  }
  return true;
}

std::string Part::id() const {
  return namespace_name + "\n" + labels.to_string() + "\n" + fields.to_string();
}

bool newer(std::string_view a, std::string_view b) noexcept {
  return kube::compare_resource_versions(a, b) == std::partial_ordering::greater;
}

namespace {

// Whether `bytes` nest at most kMaxJsonDepth deep, counting outside strings, so a hostile body
// cannot make dump() or the destructor recurse deep.
bool nesting_within_limit(std::string_view bytes) noexcept {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : bytes) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) {
        return false;
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return true;
}

}  // namespace

std::optional<json> parse_json(std::string_view bytes) {
  if (!nesting_within_limit(bytes)) {
    return std::nullopt;
  }
  auto j = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return std::nullopt;
  }
  return j;
}

std::string stored_resource_version(std::string_view bytes) {
  auto j = parse_json(bytes);
  return j ? kube::resource_version_of(*j) : std::string{};
}

std::string_view builtin_kind(std::string_view group, std::string_view resource) {
  struct Entry {
    std::string_view group;
    std::string_view resource;
    std::string_view kind;
  };
  static constexpr std::array<Entry, 34> kKinds{{
      {"", "pods", "Pod"},
      {"", "nodes", "Node"},
      {"", "services", "Service"},
      {"", "endpoints", "Endpoints"},
      {"", "configmaps", "ConfigMap"},
      {"", "secrets", "Secret"},
      {"", "namespaces", "Namespace"},
      {"", "events", "Event"},
      {"", "serviceaccounts", "ServiceAccount"},
      {"", "persistentvolumes", "PersistentVolume"},
      {"", "persistentvolumeclaims", "PersistentVolumeClaim"},
      {"", "replicationcontrollers", "ReplicationController"},
      {"", "resourcequotas", "ResourceQuota"},
      {"", "limitranges", "LimitRange"},
      {"", "podtemplates", "PodTemplate"},
      {"discovery.k8s.io", "endpointslices", "EndpointSlice"},
      {"coordination.k8s.io", "leases", "Lease"},
      {"node.k8s.io", "runtimeclasses", "RuntimeClass"},
      {"storage.k8s.io", "csidrivers", "CSIDriver"},
      {"storage.k8s.io", "csinodes", "CSINode"},
      {"storage.k8s.io", "storageclasses", "StorageClass"},
      {"storage.k8s.io", "volumeattachments", "VolumeAttachment"},
      {"events.k8s.io", "events", "Event"},
      {"networking.k8s.io", "ingresses", "Ingress"},
      {"networking.k8s.io", "ingressclasses", "IngressClass"},
      {"networking.k8s.io", "networkpolicies", "NetworkPolicy"},
      {"networking.k8s.io", "servicecidrs", "ServiceCIDR"},
      {"networking.k8s.io", "ipaddresses", "IPAddress"},
      {"apps", "deployments", "Deployment"},
      {"apps", "daemonsets", "DaemonSet"},
      {"apps", "replicasets", "ReplicaSet"},
      {"apps", "statefulsets", "StatefulSet"},
      {"batch", "jobs", "Job"},
      {"scheduling.k8s.io", "priorityclasses", "PriorityClass"},
  }};
  for (const auto& e : kKinds) {
    if (e.group == group && e.resource == resource) {
      return e.kind;
    }
  }
  return {};
}

std::string MediaRange::param(const std::string& key) const {
  auto it = params.find(key);
  return it == params.end() ? std::string{} : it->second;
}

std::vector<MediaRange> parse_media_ranges(std::string_view header) {
  std::vector<MediaRange> out;
  for (auto clause : split(header, ',')) {
    auto pieces = split(clause, ';');
    MediaRange range;
    for (const char c : trim(pieces[0])) {
      range.type += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    if (range.type.empty()) {
      continue;
    }
    for (std::size_t i = 1; i < pieces.size(); ++i) {
      auto p = trim(pieces[i]);
      const auto eq = p.find('=');
      if (eq == std::string_view::npos) {
        continue;
      }
      auto value = trim(p.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      range.params[std::string(trim(p.substr(0, eq)))] = std::string(value);
    }
    out.push_back(std::move(range));
  }
  return out;
}

// ---- CacheCore ----------------------------------------------------------------------------

CacheCore::CacheCore(storage::Store& store, CacheSettings settings, const Clock& clock)
    : store_(store), settings_(std::move(settings)), clock_(clock) {
  if (!settings_.sleep) {
    settings_.sleep = kube::steady_sleep();
  }
  if (const auto* disk = dynamic_cast<const storage::DiskStore*>(&store_)) {
    junk_files_ = disk->open_report().junk.size();
  }
}

void CacheCore::load() {
  std::lock_guard lock(parts_mutex_);
  std::unique_lock index_lock(index_mutex_);
  parts_.clear();
  index_.clear();
  for (const auto& object : store_.list("")) {
    auto segments = split(object.key, '/');
    if (segments.size() != storage::kKeySegments || segments[1] != kPartsSegment) {
      // An object of a view: index it (discovery documents are not parse_key keys).
      if (auto parts = storage::parse_key(object.key); parts) {
        const kube::ResourceRef ref{parts->group, parts->resource};
        index_.emplace(object.key,
                       Indexed{object.value, std::make_shared<const ObjectFacts>(
                                                 ObjectFacts::parse(*object.value, ref))});
      }
      continue;
    }
    auto j = parse_json(*object.value);
    auto record = j ? part_record_from(*j) : std::nullopt;
    if (!record) {
      logger().warn("cache: ignoring unusable part record key={}", object.key);
      ++junk_files_;
      continue;
    }
    const std::string prefix = std::string(segments[0]) + "/" + std::string(segments[2]) + "/";
    parts_[prefix].push_back({std::move(*record), object.key, false});
  }
}

CacheStats CacheCore::stats() const {
  CacheStats s;
  const auto store_stats = store_.stats();
  s.objects = store_stats.objects;
  s.bytes = store_stats.bytes;
  s.junk_files = junk_files_;
  s.lists_recorded = counters_.lists_recorded;
  s.watch_events_recorded = counters_.watch_events_recorded;
  s.objects_recorded = counters_.objects_recorded;
  s.stale_ignored = counters_.stale_ignored;
  s.skipped_non_json = counters_.skipped_non_json;
  s.skipped_too_large = counters_.skipped_too_large;
  s.rejected_malformed = counters_.rejected_malformed;
  s.incomplete_bodies = counters_.incomplete_bodies;
  s.store_errors = counters_.store_errors;
  s.served_offline = counters_.served_offline;
  s.refused_offline = counters_.refused_offline;
  return s;
}

Result<std::string> CacheCore::object_key(const ResourceId& rid,
                                          std::string_view namespace_name,
                                          std::string_view name) {
  return storage::make_key({rid.component, rid.group, rid.version, rid.resource,
                            std::string(namespace_name), std::string(name)});
}

Result<std::string> CacheCore::view_prefix(const ResourceId& rid, std::string_view namespace_name) {
  storage::KeyParts parts{
      rid.component, rid.group, rid.version, rid.resource, std::string(namespace_name), {}};
  if (namespace_name.empty()) {
    return storage::make_resource_prefix(parts);
  }
  return storage::make_namespace_prefix(parts);
}

Result<std::string> CacheCore::part_key(const std::string& resource_prefix, const Part& part) {
  const auto slash = resource_prefix.find('/');
  std::string key = resource_prefix.substr(0, slash + 1);
  key += kPartsSegment;
  key += '/';
  key += resource_prefix.substr(slash + 1);  // "<res>.<v>.<g>/"
  key += fnv1a_hex(part.id());
  if (auto valid = storage::validate_key(key); !valid) {
    return valid.error();
  }
  return key;
}

std::shared_ptr<std::mutex> CacheCore::resource_mutex(const std::string& resource_prefix) {
  std::lock_guard lock(locks_mutex_);
  auto& m = locks_[resource_prefix];
  if (!m) {
    m = std::make_shared<std::mutex>();
  }
  return m;
}

void CacheCore::store_error(std::string_view what, const Error& e) {
  ++counters_.store_errors;
  // At most one line per 10 s: a full disk fails every write, and each is counted anyway.
  std::lock_guard lock(log_mutex_);
  const auto now = clock_.monotonic();
  if (last_error_log_ != std::chrono::steady_clock::time_point{} &&
      now - last_error_log_ < std::chrono::seconds(10)) {
    ++suppressed_errors_;
    return;
  }
  logger().warn("cache: {} failed: {} (suppressed since last report: {})", what, e.what(),
                suppressed_errors_);
  last_error_log_ = now;
  suppressed_errors_ = 0;
}

bool CacheCore::known_gone(const std::string& resource_prefix,
                           const ResourceId& rid,
                           const std::string& key,
                           const ObjectFacts& object,
                           std::string_view bytes) const {
  const std::string& rv = object.resource_version;
  {
    std::lock_guard lock(deletions_mutex_);
    if (auto it = deletions_.find(key); it != deletions_.end() && newer(it->second, rv)) {
      return true;
    }
  }
  std::lock_guard lock(parts_mutex_);
  auto it = parts_.find(resource_prefix);
  if (it == parts_.end()) {
    return false;
  }
  std::optional<json> parsed;  // only for a field the facts do not hold
  return std::any_of(it->second.begin(), it->second.end(), [&](const PartEntry& e) {
    if (!newer(e.record.resource_version, rv)) {
      return false;
    }
    if (auto inside = e.record.part.contains(object, rid.ref())) {
      return *inside;
    }
    if (!parsed) {
      parsed = parse_json(bytes);
    }
    return parsed && e.record.part.contains(*parsed, rid.ref());
  });
}

void CacheCore::remember_deletion(const std::string& key, std::string_view rv) {
  if (rv.empty()) {
    return;
  }
  std::lock_guard lock(deletions_mutex_);
  if (deletion_order_.size() < kMaxDeletions) {
    deletion_order_.push_back(key);
  } else {
    deletions_.erase(deletion_order_[deletion_next_]);
    deletion_order_[deletion_next_] = key;
    deletion_next_ = (deletion_next_ + 1) % kMaxDeletions;
  }
  deletions_[key] = std::string(rv);
}

std::shared_ptr<const ObjectFacts> CacheCore::facts(const storage::Object& object,
                                                    kube::ResourceRef ref) const {
  {
    std::shared_lock lock(index_mutex_);
    if (auto it = index_.find(object.key); it != index_.end() && it->second.value == object.value) {
      return it->second.facts;
    }
  }
  // Not written through us (or read while a writer replaces it): decide from the bytes.
  return std::make_shared<const ObjectFacts>(ObjectFacts::parse(*object.value, ref));
}

bool CacheCore::selects(const ResourceId& rid,
                        const Part& part,
                        const storage::Object& object) const {
  const auto f = facts(object, rid.ref());
  if (!f->parsed) {
    return false;
  }
  if (auto inside = part.contains(*f, rid.ref())) {
    return *inside;
  }
  auto parsed = parse_json(*object.value);
  return parsed && part.contains(*parsed, rid.ref());
}

std::map<std::string, storage::Value> CacheCore::indexed_values() const {
  std::shared_lock lock(index_mutex_);
  std::map<std::string, storage::Value> out;
  for (const auto& [key, entry] : index_) {
    out.emplace(key, entry.value);
  }
  return out;
}

void CacheCore::reindex(const std::string& prefix,
                        const std::map<std::string, std::shared_ptr<const ObjectFacts>>& fresh,
                        kube::ResourceRef ref) {
  auto current = store_.list(prefix);
  // The facts the caller computed for a key it wrote, else parsed from the stored bytes.
  const auto facts_of = [&](const auto& entry) {
    auto f = fresh.find(entry.key);
    return f != fresh.end()
               ? f->second
               : std::make_shared<const ObjectFacts>(ObjectFacts::parse(*entry.value, ref));
  };
  std::unique_lock lock(index_mutex_);
  auto it = index_.lower_bound(prefix);
  auto stored = current.begin();
  // Both sorted by key: one merge pass.
  while (it != index_.end() && it->first.starts_with(prefix)) {
    while (stored != current.end() && stored->key < it->first) {
      index_.emplace_hint(it, stored->key, Indexed{stored->value, facts_of(*stored)});
      ++stored;
    }
    if (stored == current.end() || stored->key != it->first) {
      it = index_.erase(it);  // gone from the store
      continue;
    }
    if (it->second.value != stored->value) {
      it->second = Indexed{stored->value, facts_of(*stored)};
    }
    ++it;
    ++stored;
  }
  for (; stored != current.end(); ++stored) {
    index_.emplace_hint(it, stored->key, Indexed{stored->value, facts_of(*stored)});
  }
}

void CacheCore::unindex(const std::string& key) {
  std::unique_lock lock(index_mutex_);
  index_.erase(key);
}

void CacheCore::commit_list(const ResourceId& rid,
                            const PartRecord& record,
                            std::map<std::string, Item> items,
                            const std::set<std::string>* already_stored,
                            bool paginated) {
  auto prefix = view_prefix(rid, record.part.namespace_name);
  if (!prefix) {
    store_error("list prefix", prefix.error());
    return;
  }
  const std::string resource_prefix = resource_prefix_of(*prefix);
  auto mutex = resource_mutex(resource_prefix);
  std::lock_guard lock(*mutex);

  const kube::ResourceRef ref = rid.ref();
  // An item the recorder found unchanged comes without facts; should the store have changed
  // since, they are parsed here.
  auto facts_of = [&ref](Item& item) -> const ObjectFacts& {
    if (!item.facts) {
      item.facts = std::make_shared<const ObjectFacts>(ObjectFacts::parse(item.bytes, ref));
    }
    return *item.facts;
  };
  std::map<std::string, std::string> next;
  std::map<std::string, std::shared_ptr<const ObjectFacts>> fresh;
  std::size_t stale = 0;
  for (const auto& current : store_.list(*prefix)) {
    auto it = items.find(current.key);
    if (it != items.end() && *current.value == it->second.bytes) {
      next.emplace(current.key, std::move(it->second.bytes));  // unchanged: no parse, no write
      items.erase(it);
      continue;
    }
    const auto stored = facts(current, ref);
    if (it != items.end()) {
      if (newer(stored->resource_version, facts_of(it->second).resource_version)) {
        ++stale;  // a watch already delivered a later state
        next.emplace(current.key, *current.value);
      } else {
        next.emplace(current.key, std::move(it->second.bytes));
        fresh.emplace(current.key, std::move(it->second.facts));
      }
      items.erase(it);
      continue;
    }
    const bool listed = already_stored != nullptr && already_stored->contains(current.key);
    if (paginated || listed) {
      next.emplace(current.key, *current.value);
      continue;
    }
    bool inside = true;
    if (!record.part.unselective() && stored->parsed) {
      auto decided = record.part.contains(*stored, ref);
      if (!decided) {
        auto object = parse_json(*current.value);
        decided = !object || record.part.contains(*object, ref);
      }
      inside = *decided;
    }
    if (inside && !newer(stored->resource_version, record.resource_version)) {
      continue;  // gone from the part since: drop it
    }
    next.emplace(current.key, *current.value);
  }
  for (auto& [key, item] : items) {
    // Absent now; if a part newer than the list says so, it was deleted after the list's RV.
    if (known_gone(resource_prefix, rid, key, facts_of(item), item.bytes)) {
      ++stale;
      continue;
    }
    next.emplace(key, std::move(item.bytes));
    fresh.emplace(key, std::move(item.facts));
  }
  counters_.stale_ignored += stale;

  auto replaced = store_.replace_prefix(*prefix, std::move(next));
  // Also after a failure: DiskStore documents what a failed replace leaves, and the index
  // follows the store, whatever it holds.
  reindex(*prefix, fresh, ref);
  if (!replaced) {
    store_error("replace " + *prefix, replaced.error());
    return;
  }
  ++counters_.lists_recorded;
  if (!paginated) {
    record_part(resource_prefix, record);
  }
  if (log::enabled(4)) {
    logger().debug("cache: list {} ns={} labels={} fields={} rv={} written={} removed={}",
                   resource_prefix, record.part.namespace_name, record.part.labels.to_string(),
                   record.part.fields.to_string(), record.resource_version, replaced->written,
                   replaced->removed);
  }
}

void CacheCore::record_part(const std::string& resource_prefix, const PartRecord& record) {
  auto key = part_key(resource_prefix, record.part);
  if (!key) {
    store_error("part record key", key.error());
    return;
  }
  PartRecord stored = record;
  std::vector<std::string> superseded;
  {
    std::lock_guard lock(parts_mutex_);
    auto& entries = parts_[resource_prefix];
    const std::string id = record.part.id();
    for (auto it = entries.begin(); it != entries.end();) {
      if (it->record.part.id() == id) {
        // An older list of the same part (RV=N lists exist) keeps the newer claim: the guards
        // above kept every newer object, so the view is consistent at the newer RV still.
        if (newer(it->record.resource_version, stored.resource_version)) {
          stored.resource_version = it->record.resource_version;
        }
        it = entries.erase(it);
      } else if (record.part.covers(it->record.part) &&
                 !newer(it->record.resource_version, record.resource_version)) {
        superseded.push_back(it->key);  // the new record answers everything it did
        it = entries.erase(it);
      } else {
        ++it;
      }
    }
    entries.push_back({stored, *key, false});
  }
  if (auto put = store_.put(
          *key, part_record_json(stored).dump(-1, ' ', false, json::error_handler_t::replace));
      !put) {
    store_error("put " + *key, put.error());
  }
  for (const auto& k : superseded) {
    if (auto removed = store_.remove(k); !removed) {
      store_error("remove " + k, removed.error());
    }
  }
}

void CacheCore::release_heap_if_due() noexcept {
  if (heap_to_release_.exchange(false)) {
    release_free_heap();
  }
}

CacheCore::Write CacheCore::upsert(const ResourceId& rid,
                                   const json& object,
                                   std::string_view as_sent) {
  auto key = object_key(rid, namespace_of(object), name_of(object));
  if (!key) {
    ++counters_.rejected_malformed;
    return Write::Failed;
  }
  auto next = std::make_shared<const ObjectFacts>(ObjectFacts::of(object, rid.ref()));
  const std::string& rv = next->resource_version;
  const std::string resource_prefix = resource_prefix_of(*key);
  auto mutex = resource_mutex(resource_prefix);
  std::lock_guard lock(*mutex);
  const auto current = store_.get(*key);
  if (current) {
    const std::string stored_rv = facts({*key, *current}, rid.ref())->resource_version;
    if (!kube::should_replace(stored_rv, rv)) {
      if (stored_rv != rv) {
        ++counters_.stale_ignored;
      }
      return Write::Kept;  // equal: a re-delivery, nothing to do
    }
  }
  // The object as sent when we have that text (a later LIST then matches it byte for byte),
  // else its re-serialisation.
  std::string bytes = as_sent.empty() ? object.dump() : std::string(as_sent);
  if (!current && known_gone(resource_prefix, rid, *key, *next, bytes)) {
    ++counters_.stale_ignored;
    return Write::Kept;
  }
  auto put = store_.put(*key, std::move(bytes));
  {
    // The index follows what the store holds now (a failed put may still have replaced it).
    auto stored = store_.get(*key);
    std::unique_lock index_lock(index_mutex_);
    if (!stored) {
      index_.erase(*key);
    } else if (put) {
      index_.insert_or_assign(*key, Indexed{*stored, std::move(next)});
    } else {
      index_.insert_or_assign(*key, Indexed{*stored, std::make_shared<const ObjectFacts>(
                                                         ObjectFacts::parse(**stored, rid.ref()))});
    }
  }
  if (!put) {
    store_error("put " + *key, put.error());
    return Write::Failed;
  }
  return Write::Written;
}

CacheCore::Write CacheCore::remove_unless_newer(const ResourceId& rid,
                                                std::string_view namespace_name,
                                                std::string_view name,
                                                std::string_view rv) {
  auto key = object_key(rid, namespace_name, name);
  if (!key) {
    ++counters_.rejected_malformed;
    return Write::Failed;
  }
  auto mutex = resource_mutex(resource_prefix_of(*key));
  std::lock_guard lock(*mutex);
  auto current = store_.get(*key);
  if (!current) {
    // Already gone; a LIST answered before this delete must still not write it back.
    remember_deletion(*key, rv);
    return Write::Written;
  }
  // Equal RVs: the object left this watch's selector in the very change another watch of the
  // same component already stored; that state stays.
  if (!kube::should_replace(facts({*key, *current}, rid.ref())->resource_version, rv)) {
    ++counters_.stale_ignored;
    return Write::Kept;
  }
  if (auto removed = store_.remove(*key); !removed) {
    if (!store_.get(*key)) {
      unindex(*key);
    }
    store_error("remove " + *key, removed.error());
    return Write::Failed;
  }
  unindex(*key);
  remember_deletion(*key, rv);
  return Write::Written;
}

void CacheCore::remove(const ResourceId& rid,
                       std::string_view namespace_name,
                       std::string_view name) {
  auto key = object_key(rid, namespace_name, name);
  if (!key) {
    return;
  }
  auto mutex = resource_mutex(resource_prefix_of(*key));
  std::lock_guard lock(*mutex);
  auto removed = store_.remove(*key);
  if (!store_.get(*key)) {
    unindex(*key);
  }
  if (!removed && removed.error() != storage::Errc::NotFound) {
    store_error("remove " + *key, removed.error());
  }
}

std::optional<PartRecord> CacheCore::covering(const ResourceId& rid, const Part& request) const {
  auto prefix = view_prefix(rid, "");
  if (!prefix) {
    return std::nullopt;
  }
  std::lock_guard lock(parts_mutex_);
  auto it = parts_.find(*prefix);
  if (it == parts_.end()) {
    return std::nullopt;
  }
  const PartEntry* best = nullptr;
  for (const auto& e : it->second) {
    if (e.record.part.covers(request) &&
        (best == nullptr || newer(e.record.resource_version, best->record.resource_version))) {
      best = &e;
    }
  }
  if (best == nullptr) {
    return std::nullopt;
  }
  return best->record;
}

std::optional<PartRecord> CacheCore::exact(const ResourceId& rid, const Part& part) const {
  auto prefix = view_prefix(rid, "");
  if (!prefix) {
    return std::nullopt;
  }
  const std::string id = part.id();
  std::lock_guard lock(parts_mutex_);
  auto it = parts_.find(*prefix);
  if (it == parts_.end()) {
    return std::nullopt;
  }
  for (const auto& e : it->second) {
    if (e.record.part.id() == id) {
      return e.record;
    }
  }
  return std::nullopt;
}

bool CacheCore::advance(const ResourceId& rid, const Part& part, std::string_view rv) {
  auto prefix = view_prefix(rid, "");
  if (!prefix) {
    return false;
  }
  const std::string id = part.id();
  std::lock_guard lock(parts_mutex_);
  auto it = parts_.find(*prefix);
  if (it == parts_.end()) {
    return false;
  }
  for (auto& e : it->second) {
    if (e.record.part.id() == id) {
      if (newer(rv, e.record.resource_version)) {
        e.record.resource_version = std::string(rv);
        e.dirty = true;
      }
      return true;
    }
  }
  return false;
}

void CacheCore::flush_part(const ResourceId& rid, const Part& part) {
  auto prefix = view_prefix(rid, "");
  if (!prefix) {
    return;
  }
  auto mutex = resource_mutex(*prefix);
  std::lock_guard lock(*mutex);
  std::string key;
  std::string bytes;
  {
    const std::string id = part.id();
    std::lock_guard parts_lock(parts_mutex_);
    auto it = parts_.find(*prefix);
    if (it == parts_.end()) {
      return;
    }
    for (auto& e : it->second) {
      if (e.record.part.id() == id && e.dirty) {
        e.dirty = false;
        key = e.key;
        bytes = part_record_json(e.record).dump(-1, ' ', false, json::error_handler_t::replace);
      }
    }
  }
  if (key.empty()) {
    return;
  }
  // A failure leaves the older RV on disk, which is safe: a client resuming from it only sees
  // events again.
  if (auto put = store_.put(key, std::move(bytes)); !put) {
    store_error("put " + key, put.error());
  }
}

std::vector<storage::Object> CacheCore::objects(const ResourceId& rid,
                                                std::string_view namespace_name) const {
  auto prefix = view_prefix(rid, namespace_name);
  if (!prefix) {
    return {};
  }
  return store_.list(*prefix);
}

storage::Value CacheCore::object(const ResourceId& rid,
                                 std::string_view namespace_name,
                                 std::string_view name) const {
  auto key = object_key(rid, namespace_name, name);
  if (!key) {
    return nullptr;
  }
  auto value = store_.get(*key);
  return value ? *value : nullptr;
}

void CacheCore::put_discovery(const std::string& key, std::string bytes) {
  if (auto put = store_.put(key, std::move(bytes)); !put) {
    store_error("put " + key, put.error());
    return;
  }
  ++counters_.objects_recorded;
}

storage::Value CacheCore::discovery(const std::string& key) const {
  auto value = store_.get(key);
  return value ? *value : nullptr;
}

void CacheCore::remember_lease(const std::string& node, std::string json_text) {
  std::lock_guard lock(lease_mutex_);
  leases_[node] = std::move(json_text);
}

std::optional<std::string> CacheCore::remembered_lease(const std::string& node) const {
  std::lock_guard lock(lease_mutex_);
  auto it = leases_.find(node);
  if (it == leases_.end()) {
    return std::nullopt;
  }
  return it->second;
}

}  // namespace yurt::hub

// ---- classify.hpp -------------------------------------------------------------------------

namespace yurt::hub {
namespace {

constexpr std::string_view kAggregatedAs = "APIGroupDiscoveryList";
constexpr std::string_view kAggregatedGroup = "apidiscovery.k8s.io";

bool is_identifier(std::string_view s, bool dots) {
  if (s.empty() || s.front() == '.' || s.front() == '-') {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [dots](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (dots && c == '.');
  });
}

}  // namespace

bool never_recorded(const kube::RequestInfo& info) {
  static constexpr std::array<std::string_view, 3> kSensitiveGroups{
      "certificates.k8s.io", "authorization.k8s.io", "authentication.k8s.io"};
  if (std::find(kSensitiveGroups.begin(), kSensitiveGroups.end(), info.api_group) !=
      kSensitiveGroups.end()) {
    return true;
  }
  return is_event(info) || (!info.subresource.empty() && info.subresource != "status");
}

std::string object_namespace(const kube::RequestInfo& info) {
  if (info.api_group.empty() && info.resource == "namespaces") {
    return {};
  }
  return info.namespace_name;
}

bool is_event(const kube::RequestInfo& info) {
  return info.resource == "events" && (info.api_group.empty() || info.api_group == "events.k8s.io");
}

bool is_node_lease(const RequestContext& req) {
  const auto& info = req.info;
  return info.is_resource_request && info.api_group == "coordination.k8s.io" &&
         info.resource == "leases" && info.namespace_name == "kube-node-lease" &&
         info.subresource.empty() && !req.node_name.empty() &&
         (info.name == req.node_name || (info.name.empty() && info.verb == "create"));
}

bool json_like(std::string_view media_type) {
  return media_type == "application/json" || media_type == "*/*" || media_type == "application/*" ||
         media_type == "application/vnd.kubernetes.protobuf" || media_type == "application/cbor";
}

bool accepts_plain_json(const net::Request& request) {
  const auto accept = request.headers.get("Accept");
  if (trim(accept).empty()) {
    return true;
  }
  const auto ranges = parse_media_ranges(accept);
  return std::any_of(ranges.begin(), ranges.end(), [](const MediaRange& r) {
    return json_like(r.type) && r.param("as").empty();
  });
}

std::optional<DiscoveryDoc> discovery_doc(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') {
    path.remove_suffix(1);
  }
  auto parts = split(path, '/');  // "/apis/g/v" → "", "apis", "g", "v"
  if (parts.size() < 2 || !parts[0].empty()) {
    return std::nullopt;
  }
  if (parts.size() == 2 && (parts[1] == "version" || parts[1] == "api" || parts[1] == "apis")) {
    return DiscoveryDoc{std::string(parts[1]), "_"};
  }
  if (parts.size() == 3 && parts[1] == "api" && is_identifier(parts[2], false)) {
    return DiscoveryDoc{"api", std::string(parts[2])};
  }
  if (parts.size() == 4 && parts[1] == "apis" && is_identifier(parts[2], true) &&
      is_identifier(parts[3], false)) {
    return DiscoveryDoc{"apis", std::string(parts[3]) + "." + std::string(parts[2])};
  }
  return std::nullopt;
}

std::optional<std::string> discovery_representation(const MediaRange& range) {
  const std::string as = range.param("as");
  if (as.empty()) {
    return json_like(range.type) ? std::optional<std::string>("json") : std::nullopt;
  }
  const std::string version = range.param("v");
  if (as != kAggregatedAs || range.param("g") != kAggregatedGroup ||
      !is_identifier(version, false) || !json_like(range.type)) {
    return std::nullopt;
  }
  return std::string(kAggregatedAs) + "." + version + "." + std::string(kAggregatedGroup);
}

std::string discovery_content_type(std::string_view representation) {
  if (representation == "json") {
    return "application/json";
  }
  // "APIGroupDiscoveryList.<v>.apidiscovery.k8s.io"
  const auto first = representation.find('.');
  const auto second = representation.find('.', first + 1);
  const auto version = representation.substr(first + 1, second - first - 1);
  return "application/json;g=" + std::string(kAggregatedGroup) + ";v=" + std::string(version) +
         ";as=" + std::string(kAggregatedAs);
}

std::string discovery_key(const DiscoveryDoc& doc, std::string_view representation) {
  return "_discovery/" + doc.doc + "/" + doc.group_version + "/" + std::string(representation);
}

}  // namespace yurt::hub
