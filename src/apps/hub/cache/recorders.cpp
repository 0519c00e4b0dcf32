#include "src/apps/hub/cache/recorders.hpp"

#include <exception>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "yurt/base/log.hpp"
#include "yurt/base/strings.hpp"
#include "yurt/kube/errors.hpp"
#include "yurt/kube/resource_version.hpp"

#include "src/apps/hub/cache/classify.hpp"
#include "src/apps/hub/cache/json_scan.hpp"

namespace yurt::hub {
namespace {

using nlohmann::json;

spdlog::logger& logger() {
  return log::get("hub");
}

constexpr std::string_view kInitialEventsEnd = "k8s.io/initial-events-end";

std::string string_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return {};
  }
  return it->get<std::string>();
}

const json* metadata_of(const json& object) {
  auto it = object.find("metadata");
  return it != object.end() && it->is_object() ? &*it : nullptr;
}

// Kinds that are never the object of a resource request: what a misrouted `as=` or an error
// would bring.
bool foreign_kind(std::string_view kind) {
  return kind == "Status" || kind == "Table" || kind == "PartialObjectMetadata" ||
         kind == "PartialObjectMetadataList" || kind == "WatchEvent";
}

// Checks that `object` is one object of `rid` in namespace `ns` (when given) named `name`
// (when given), and fills in kind/apiVersion when it lacks them. Returns why not, or "".
std::string check_object(json& object,
                         const ResourceId& rid,
                         std::string_view ns,
                         std::string_view name,
                         std::string_view kind) {
  if (!object.is_object()) {
    return "not a JSON object";
  }
  const json* meta = metadata_of(object);
  if (meta == nullptr) {
    return "no metadata";
  }
  const std::string object_name = string_field(*meta, "name");
  if (object_name.empty()) {
    return "no metadata.name";
  }
  if (!name.empty() && object_name != name) {
    return "name " + quote(object_name) + " is not the requested " + quote(name);
  }
  if (meta->contains("namespace") && !(*meta)["namespace"].is_string()) {
    return "metadata.namespace is not a string";
  }
  if (!ns.empty() && string_field(*meta, "namespace") != ns) {
    return "namespace " + quote(string_field(*meta, "namespace")) + " is not the requested " +
           quote(ns);
  }
  if (object.contains("kind") && !object["kind"].is_string()) {
    return "kind is not a string";
  }
  if (object.contains("apiVersion") && object["apiVersion"] != rid.api_version()) {
    return "apiVersion is not " + rid.api_version();
  }
  const std::string object_kind = string_field(object, "kind");
  if (foreign_kind(object_kind)) {
    return "kind " + object_kind + " is not an object of " + rid.group_resource();
  }
  if (object_kind.empty() && !kind.empty()) {
    object["kind"] = kind;
  }
  if (!object.contains("apiVersion")) {
    object["apiVersion"] = rid.api_version();
  }
  return {};
}

// `text` (what `object` was parsed from) when it can be stored as sent: it names its kind and
// apiVersion, so check_object() adds nothing. Otherwise "" (the parse is stored).
std::string_view typed_text(const json& object, std::string_view text) {
  const bool typed = object.is_object() && object.contains("kind") && object.contains("apiVersion");
  return typed ? trim(text) : std::string_view();
}

// After a body this large is freed, free heap pages go back to the system: the parse of a big
// LIST leaves megabytes in malloc's arenas that a small node would otherwise keep as RSS.
constexpr std::size_t kTrimAfterBytes = std::size_t{1} << 20U;

/// Never throws into the proxy: every failure stops this recorder and is counted.
class GuardedRecorder : public ResponseRecorder {
 public:
  explicit GuardedRecorder(std::shared_ptr<CacheCore> core) : core_(std::move(core)) {}

  void on_data(std::string_view piece) final {
    if (done_) {
      return;
    }
    try {
      accept(piece);
    } catch (const std::exception& e) {
      failed(e.what());
    } catch (...) {
      failed("unknown exception");
    }
  }

  void finish(bool complete) final {
    if (done_) {
      return;
    }
    try {
      if (complete) {
        end();
      } else {
        cut();
      }
    } catch (const std::exception& e) {
      failed(e.what());
    } catch (...) {
      failed("unknown exception");
    }
    done_ = true;
  }

 protected:
  virtual void accept(std::string_view piece) = 0;
  virtual void end() = 0;
  virtual void cut() { ++core_->counters().incomplete_bodies; }

  /// Stops recording this response (on_data and finish become no-ops).
  void stop() { done_ = true; }
  void rejected(std::string_view what, std::string_view why) {
    ++core_->counters().rejected_malformed;
    logger().warn("cache: not recording {}: {}", what, why);
    stop();
  }
  [[nodiscard]] CacheCore& core() { return *core_; }

 private:
  void failed(const char* what) {
    done_ = true;
    ++core_->counters().rejected_malformed;
    logger().error("cache: recorder failed: {}", what);
  }

  std::shared_ptr<CacheCore> core_;
  bool done_ = false;
};

/// Collects the whole body (up to `limit`) and handles it once complete.
class BufferedRecorder : public GuardedRecorder {
 public:
  BufferedRecorder(std::shared_ptr<CacheCore> core, std::size_t limit)
      : GuardedRecorder(std::move(core)), limit_(limit) {}

 protected:
  void accept(std::string_view piece) final {
    if (piece.size() > limit_ - body_.size()) {
      ++core().counters().skipped_too_large;
      std::string().swap(body_);
      stop();
      return;
    }
    body_.append(piece);
  }
  void end() final {
    complete(body_);
    const bool large = body_.capacity() >= kTrimAfterBytes;
    std::string().swap(body_);
    if (large) {
      core().heap_to_release();
    }
  }
  virtual void complete(std::string_view body) = 0;

 private:
  std::size_t limit_;
  std::string body_;
};

/// GET, create, update, patch (and their status subresource): the object as it is now.
class ObjectRecorder final : public BufferedRecorder {
 public:
  ObjectRecorder(std::shared_ptr<CacheCore> core, ResourceId rid, std::string ns, std::string name)
      : BufferedRecorder(std::move(core), storage::kMaxObjectBytes),
        rid_(std::move(rid)),
        ns_(std::move(ns)),
        name_(std::move(name)) {}

 private:
  void complete(std::string_view body) override {
    auto object = parse_json(body);
    if (!object) {
      rejected(rid_.group_resource(), "the body is not JSON");
      return;
    }
    const std::string_view as_sent = typed_text(*object, body);
    if (auto why = check_object(*object, rid_, ns_, name_, builtin_kind(rid_.group, rid_.resource));
        !why.empty()) {
      rejected(rid_.group_resource(), why);
      return;
    }
    if (core().upsert(rid_, *object, as_sent) == CacheCore::Write::Written) {
      ++core().counters().objects_recorded;
    }
  }

  ResourceId rid_;
  std::string ns_;
  std::string name_;
};

/// A GET answered 404 NotFound: the object no longer exists.
class NotFoundRecorder final : public BufferedRecorder {
 public:
  NotFoundRecorder(std::shared_ptr<CacheCore> core,
                   ResourceId rid,
                   std::string ns,
                   std::string name)
      : BufferedRecorder(std::move(core), 64 * 1024),
        rid_(std::move(rid)),
        ns_(std::move(ns)),
        name_(std::move(name)) {}

 private:
  void complete(std::string_view body) override {
    auto status = kube::parse_status(body);
    // Only the apiserver's own answer proves absence (not a 404 from something in between).
    if (!status || status->code != 404 || status->reason != kube::reason::kNotFound ||
        (status->details && !status->details->name.empty() && status->details->name != name_)) {
      return;
    }
    core().remove(rid_, ns_, name_);
  }

  ResourceId rid_;
  std::string ns_;
  std::string name_;
};

// `item` (an element of a LIST of `kind`) as the cache stores it: as sent, with the kind and
// apiVersion a list leaves out put in front — the bytes a watch event or GET carries for the same
// object, so that an unchanged object is recognised by its bytes alone.
std::string stored_form(std::string_view item,
                        std::string_view kind,
                        std::string_view api_version) {
  if (item.size() < 2 || item.front() != '{' || item.starts_with(R"({"kind":)") ||
      item.starts_with(R"({"apiVersion":)")) {
    return std::string(item);
  }
  std::string out =
      R"({"kind":)" + json(kind).dump() + R"(,"apiVersion":)" + json(api_version).dump() + ",";
  out.append(item.substr(1));
  return out;
}

/// A LIST: replaces the part of the view it covers, once the body is complete.
class ListRecorder final : public BufferedRecorder {
 public:
  ListRecorder(
      std::shared_ptr<CacheCore> core, std::size_t limit, ResourceId rid, Part part, bool continued)
      : BufferedRecorder(std::move(core), limit),
        rid_(std::move(rid)),
        part_(std::move(part)),
        continued_(continued) {}

 private:
  void complete(std::string_view body) override {
    const std::string what = "LIST " + rid_.group_resource();
    // The items are found by a scan and parsed one by one, and only when their bytes differ
    // from what is stored: a relist of unchanged objects costs a comparison, not a parse. The
    // scan does not recurse; what is parsed (the envelope, changed items) has its nesting checked
    // then, and an unchanged item is bytes that passed that check before.
    std::optional<Span> items_span = find_member(body, "items");
    std::optional<std::vector<std::string_view>> items;
    if (items_span) {
      const std::string_view text = items_span->of(body);
      items =
          text == "null" ? std::optional(std::vector<std::string_view>{}) : array_elements(text);
    }
    if (!items) {
      rejected(what, "the body is not a JSON object with one items array");
      return;
    }
    // The rest of the list is small: parsed whole, it validates all but the items.
    std::string envelope(body.substr(0, items_span->begin));
    envelope.append("[]").append(body.substr(items_span->end));
    auto list = parse_json(envelope);
    if (!list || !list->is_object()) {
      rejected(what, "the body is not a JSON object");
      return;
    }
    const std::string kind = string_field(*list, "kind");
    if (kind.size() <= 4 || !kind.ends_with("List") || foreign_kind(kind)) {
      rejected(what, "kind " + quote(kind) + " is not a list");
      return;
    }
    if (string_field(*list, "apiVersion") != rid_.api_version()) {
      rejected(what, "apiVersion is not " + rid_.api_version());
      return;
    }
    const json* meta = metadata_of(*list);
    if (meta == nullptr) {
      rejected(what, "no metadata");
      return;
    }
    PartRecord record{part_, string_field(*meta, "resourceVersion"),
                      kind.substr(0, kind.size() - 4), rid_.api_version()};
    const bool paginated = continued_ || !string_field(*meta, "continue").empty();

    // What is stored now, by its bytes.
    const auto current = core().objects(rid_, part_.namespace_name);
    std::unordered_map<std::string_view, const std::string*> stored;
    stored.reserve(current.size());
    for (const auto& object : current) {
      if (object.value) {
        stored.emplace(*object.value, &object.key);
      }
    }
    std::map<std::string, CacheCore::Item> objects;
    for (std::string_view item : *items) {
      std::string form = stored_form(item, record.kind, rid_.api_version());
      if (auto same = stored.find(form); same != stored.end()) {
        objects.insert_or_assign(*same->second, CacheCore::Item{std::move(form), nullptr});
        continue;
      }
      auto why = add_item(item, std::move(form), record.kind, objects);
      if (!why.empty()) {
        rejected(what, "an item: " + why);
        return;
      }
    }
    core().commit_list(rid_, record, std::move(objects), nullptr, paginated);
  }

  // Parses and checks one new or changed item and adds it to `objects`; returns why not, or "".
  std::string add_item(std::string_view text,
                       std::string form,
                       std::string_view item_kind,
                       std::map<std::string, CacheCore::Item>& objects) {
    auto item = parse_json(text);
    if (!item) {
      return "not JSON";
    }
    // `form` is stored when it says exactly what the parse does: the kind and apiVersion put in
    // front of an item naming neither, or an item already naming both. Otherwise (one of them,
    // or either anywhere but first, which `form` would then hold twice) the checked parse is.
    const bool injected = form.size() != text.size();
    const bool names_kind = item->is_object() && item->contains("kind");
    const bool names_version = item->is_object() && item->contains("apiVersion");
    const bool form_is_exact =
        injected ? !names_kind && !names_version : names_kind && names_version;
    if (auto why = check_object(*item, rid_, part_.namespace_name, {}, item_kind); !why.empty()) {
      return why;
    }
    const json* item_meta = metadata_of(*item);
    auto key = CacheCore::object_key(rid_, string_field(*item_meta, "namespace"),
                                     string_field(*item_meta, "name"));
    if (!key) {
      return key.error().what();
    }
    auto facts = std::make_shared<const ObjectFacts>(ObjectFacts::of(*item, rid_.ref()));
    objects.insert_or_assign(
        std::move(*key),
        CacheCore::Item{form_is_exact ? std::move(form) : item->dump(), std::move(facts)});
    return {};
  }

  ResourceId rid_;
  Part part_;
  bool continued_;
};

/// A discovery document or /version, kept as sent.
class DiscoveryRecorder final : public BufferedRecorder {
 public:
  DiscoveryRecorder(std::shared_ptr<CacheCore> core, DiscoveryDoc doc, std::string representation)
      : BufferedRecorder(std::move(core), storage::kMaxObjectBytes),
        doc_(std::move(doc)),
        representation_(std::move(representation)) {}

 private:
  void complete(std::string_view body) override {
    auto j = parse_json(body);
    if (!j || !j->is_object()) {
      rejected("discovery " + doc_.doc, "the body is not a JSON object");
      return;
    }
    const std::string kind = string_field(*j, "kind");
    bool ok = false;
    if (doc_.doc == "version") {
      ok = j->contains("gitVersion") && (*j)["gitVersion"].is_string();
    } else if (representation_ != "json") {
      ok = kind == "APIGroupDiscoveryList";
    } else if (doc_.group_version == "_") {
      ok = kind == (doc_.doc == "api" ? "APIVersions" : "APIGroupList");
    } else {
      ok = kind == "APIResourceList";
    }
    if (!ok) {
      rejected("discovery " + doc_.doc, "unexpected document kind " + quote(kind));
      return;
    }
    core().put_discovery(discovery_key(doc_, representation_), std::string(body));
  }

  DiscoveryDoc doc_;
  std::string representation_;
};

/// The node's own Lease as the apiserver answered a renewal: kept in memory only.
class LeaseRecorder final : public BufferedRecorder {
 public:
  LeaseRecorder(std::shared_ptr<CacheCore> core, ResourceId rid, std::string node)
      : BufferedRecorder(std::move(core), 1024 * 1024),
        rid_(std::move(rid)),
        node_(std::move(node)) {}

 private:
  void complete(std::string_view body) override {
    auto lease = parse_json(body);
    if (!lease || !check_object(*lease, rid_, "kube-node-lease", node_, "Lease").empty()) {
      rejected("the node Lease", "not a Lease of this node");
      return;
    }
    core().remember_lease(node_, lease->dump());
  }

  ResourceId rid_;
  std::string node_;
};

/// A watch: applies each complete event line as it arrives.
class WatchRecorder final : public GuardedRecorder {
 public:
  WatchRecorder(std::shared_ptr<CacheCore> core,
                ResourceId rid,
                Part part,
                const RequestContext& req)
      : GuardedRecorder(std::move(core)), rid_(std::move(rid)), part_(std::move(part)) {
    const auto& opts = req.info.list_options;
    const std::string& rv = opts.resource_version;
    initial_ = opts.send_initial_events.value_or(rv.empty() || rv == "0");
    start_rv_ = rv;
    // With initial events the part is tracked from their end bookmark on, never by resuming.
    broken_ = initial_;
  }

 private:
  // What the cache holds is looked at with the first bytes, not at construction: recording runs
  // behind the proxy (RecordingQueue), and the LIST this watch resumes from may still be queued.
  void start() {
    if (started_) {
      return;
    }
    started_ = true;
    if (auto record = core().covering(rid_, part_); record) {
      kind_ = record->kind;
    } else {
      kind_ = std::string(builtin_kind(rid_.group, rid_.resource));
    }
    check_tracking();
  }

  // An event is one object plus a little framing; past this the stream is not one we can use.
  static constexpr std::size_t kMaxEventBytes = storage::kMaxObjectBytes + (std::size_t{1} << 20);

  void accept(std::string_view piece) override {
    start();
    buffer_.append(piece);
    for (;;) {
      const auto newline = buffer_.find('\n', scanned_);
      if (newline == std::string::npos) {
        scanned_ = buffer_.size();
        break;
      }
      const std::string_view line(buffer_.data() + begin_, newline - begin_);
      begin_ = newline + 1;
      scanned_ = begin_;
      if (!event(line)) {
        finish_part();
        stop();
        return;
      }
    }
    if (buffer_.size() - begin_ > kMaxEventBytes) {
      ++core().counters().skipped_too_large;
      finish_part();
      stop();
      return;
    }
    if (begin_ > 0 && begin_ >= buffer_.size() / 2) {
      buffer_.erase(0, begin_);
      scanned_ -= begin_;
      begin_ = 0;
    }
  }

  void end() override {
    start();
    // The apiserver ends every event with '\n'; a last one without it still counts if whole.
    const std::string_view rest(buffer_.data() + begin_, buffer_.size() - begin_);
    if (!trim(rest).empty()) {
      event(rest);
    }
    finish_part();
  }

  void cut() override {
    start();
    finish_part();  // a partial trailing line is dropped
  }

  void finish_part() { core().flush_part(rid_, part_); }

  // Continuing from where a recorded LIST (or an earlier watch) of this very part left off: no
  // event in between is missing, so each event moves the part forward. Checked again at each
  // event until true: the LIST this watch resumes from may be committed after the watch began
  // (the proxy answers the client before it records).
  void check_tracking() {
    if (tracking_ || broken_) {
      return;
    }
    if (auto record = core().exact(rid_, part_); record) {
      const auto order = kube::compare_resource_versions(start_rv_, record->resource_version);
      tracking_ =
          order == std::partial_ordering::less || order == std::partial_ordering::equivalent;
    }
  }

  // Applies one event line; false when the stream cannot be trusted any further.
  bool event(std::string_view line) {
    if (trim(line).empty()) {
      return true;
    }
    auto parsed = parse_json(line);
    if (!parsed || !parsed->is_object() || !(*parsed)["type"].is_string() ||
        !(*parsed)["object"].is_object()) {
      rejected("WATCH " + rid_.group_resource(), "an event line is not a watch event");
      return false;
    }
    const std::string type = (*parsed)["type"].get<std::string>();
    json& object = (*parsed)["object"];
    if (type == "ERROR") {
      return true;  // the apiserver ends the stream after it; the client relists
    }
    const std::string rv = kube::resource_version_of(object);
    if (type == "BOOKMARK") {
      return bookmark(object, rv);
    }
    if (type != "ADDED" && type != "MODIFIED" && type != "DELETED") {
      rejected("WATCH " + rid_.group_resource(), "unknown event type " + quote(type));
      return false;
    }
    std::string_view as_sent;
    if (auto span = find_member(line, "object"); span) {
      as_sent = typed_text(object, span->of(line));
    }
    if (auto why = check_object(object, rid_, part_.namespace_name, {}, kind_); !why.empty()) {
      rejected("WATCH " + rid_.group_resource(), why);
      return false;
    }
    if (kind_.empty()) {
      kind_ = string_field(object, "kind");
    }
    const json& meta = object["metadata"];
    const std::string ns = string_field(meta, "namespace");
    const std::string name = string_field(meta, "name");
    CacheCore::Write written = CacheCore::Write::Failed;
    if (type == "DELETED") {
      written = core().remove_unless_newer(rid_, ns, name, rv);
    } else {
      written = core().upsert(rid_, object, as_sent);
    }
    if (written == CacheCore::Write::Failed) {
      // The view misses this event: it can no longer claim to be complete at later RVs.
      tracking_ = false;
      broken_ = true;
      initial_ = false;
      return true;
    }
    ++core().counters().watch_events_recorded;
    if (initial_) {
      initial_event(type, ns, name);
    } else {
      check_tracking();
      if (tracking_) {
        core().advance(rid_, part_, rv);
      }
    }
    return true;
  }

  // Before the initial-events-end bookmark: remember which objects the initial set holds.
  void initial_event(std::string_view type, std::string_view ns, std::string_view name) {
    if (type != "ADDED") {
      initial_ = false;  // a change before the marker: this stream gives no complete set
      std::set<std::string>().swap(seen_);
      return;
    }
    auto key = CacheCore::object_key(rid_, ns, name);
    if (!key) {
      return;
    }
    seen_bytes_ += key->size();
    if (seen_bytes_ > core().settings().max_list_bytes) {
      initial_ = false;
      std::set<std::string>().swap(seen_);
      return;
    }
    seen_.insert(std::move(*key));
  }

  bool bookmark(const json& object, const std::string& rv) {
    if (rv.empty()) {
      return true;
    }
    const json* meta = metadata_of(object);
    bool end_of_initial = false;
    if (meta != nullptr) {
      auto annotations = meta->find("annotations");
      end_of_initial = annotations != meta->end() && annotations->is_object() &&
                       annotations->value(std::string(kInitialEventsEnd), "") == "true";
    }
    if (initial_ && end_of_initial) {
      if (kind_.empty()) {
        kind_ = string_field(object, "kind");
      }
      PartRecord record{part_, rv, kind_, rid_.api_version()};
      core().commit_list(rid_, record, {}, &seen_, false);
      std::set<std::string>().swap(seen_);
      initial_ = false;
      tracking_ = true;
      return true;
    }
    if (!initial_) {
      check_tracking();
    }
    if (tracking_) {
      core().advance(rid_, part_, rv);
      finish_part();
    }
    return true;
  }

  ResourceId rid_;
  Part part_;
  std::string kind_;
  bool started_ = false;
  bool initial_ = false;   // in the initial events of a watch from "" / "0" / sendInitialEvents
  bool tracking_ = false;  // each event moves the part's RV forward
  bool broken_ = false;    // never tracks by resuming (initial events, or a write failed)
  std::string start_rv_;   // the RV the watch started from
  std::set<std::string> seen_;
  std::size_t seen_bytes_ = 0;
  std::string buffer_;
  std::size_t begin_ = 0;    // start of the first unapplied line
  std::size_t scanned_ = 0;  // bytes before this hold no '\n'
};

bool plain_json(const net::Response& head, std::string_view& why) {
  const auto encoding = trim(head.headers.get("Content-Encoding"));
  if (!encoding.empty() && !iequals(encoding, "identity")) {
    why = "compressed";
    return false;
  }
  auto ranges = parse_media_ranges(head.headers.get("Content-Type"));
  if (ranges.size() != 1 || ranges[0].type != "application/json") {
    why = "not application/json";
    return false;
  }
  return true;
}

}  // namespace

Recording make_recorder(const std::shared_ptr<CacheCore>& core,
                        const RequestContext& req,
                        const net::Response& head) {
  std::string_view why;
  if (!plain_json(head, why)) {
    ++core->counters().skipped_non_json;
    if (log::enabled(4)) {
      logger().debug("cache: not recording {} {}: {}", req.request->method, req.request->target,
                     why);
    }
    return {};
  }
  const auto& info = req.info;
  const auto range = parse_media_ranges(head.headers.get("Content-Type")).front();
  if (!info.is_resource_request) {
    auto doc = discovery_doc(info.path);
    auto representation = discovery_representation(range);
    if (head.status != 200 || !doc || !representation) {
      return {};
    }
    return {std::make_unique<DiscoveryRecorder>(core, std::move(*doc), std::move(*representation)),
            true};
  }
  if (!range.param("as").empty()) {
    return {};  // a Table or PartialObjectMetadata, not the objects
  }
  ResourceId rid = ResourceId::of(req);
  if (head.status == 404 && info.verb == "get" && !info.name.empty() && info.subresource.empty()) {
    return {
        std::make_unique<NotFoundRecorder>(core, std::move(rid), object_namespace(info), info.name),
        true};
  }
  if (head.status < 200 || head.status > 299) {
    return {};
  }
  if (info.verb == "list") {
    const bool continued = !info.list_options.continue_token.empty();
    return {std::make_unique<ListRecorder>(core, core->settings().max_list_bytes, std::move(rid),
                                           Part::of(req), continued),
            true};
  }
  if (info.verb == "watch") {
    return {std::make_unique<WatchRecorder>(core, std::move(rid), Part::of(req), req), false};
  }
  if (is_node_lease(req) && (info.verb == "update" || info.verb == "create")) {
    return {std::make_unique<LeaseRecorder>(core, std::move(rid), req.node_name), true};
  }
  if (info.verb == "get" && !info.name.empty()) {
    return {
        std::make_unique<ObjectRecorder>(core, std::move(rid), object_namespace(info), info.name),
        true};
  }
  if (info.verb == "create" || info.verb == "update" || info.verb == "patch") {
    return {
        std::make_unique<ObjectRecorder>(core, std::move(rid), object_namespace(info), info.name),
        true};
  }
  return {};
}

}  // namespace yurt::hub
