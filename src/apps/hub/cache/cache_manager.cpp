#include "src/apps/hub/cache/cache_manager.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include "src/apps/hub/cache/cache_core.hpp"
#include "src/apps/hub/cache/classify.hpp"
#include "src/apps/hub/cache/offline.hpp"
#include "src/apps/hub/cache/recorders.hpp"
#include "src/apps/hub/cache/recording_queue.hpp"

namespace yurt::hub {
namespace {

/// Hands what the proxy feeds a recorder to the recording thread, where the recorder lives and
/// is destroyed (after its last piece: the queue keeps order). A recorder that only collects its
/// body until finish() gets it in batches of up to kBatchBytes: one wake-up of the thread for a
/// 3 MB LIST is a handful, not fifty.
class QueuedRecorder final : public ResponseRecorder {
 public:
  QueuedRecorder(RecordingQueue& queue, Recording recording)
      : queue_(queue),
        recorder_(std::move(recording.recorder)),
        whole_body_(recording.whole_body) {}
  ~QueuedRecorder() override {
    if (recorder_) {  // never finished: still destroyed behind its pieces
      queue_.push(0, [recorder = std::shared_ptr<ResponseRecorder>(std::move(recorder_))] {});
    }
  }
  QueuedRecorder(const QueuedRecorder&) = delete;
  QueuedRecorder& operator=(const QueuedRecorder&) = delete;

  void on_data(std::string_view piece) override {
    if (!recorder_ || piece.empty()) {
      return;
    }
    if (!whole_body_) {
      push_piece(std::string(piece));
      return;
    }
    batch_.append(piece);
    if (batch_.size() >= kBatchBytes) {
      push_piece(std::exchange(batch_, {}));
    }
  }

  void finish(bool complete) override {
    if (!recorder_) {
      return;
    }
    if (complete && !batch_.empty()) {
      push_piece(std::exchange(batch_, {}));
    }
    queue_.push(0, [recorder = std::shared_ptr<ResponseRecorder>(std::move(recorder_)), complete] {
      recorder->finish(complete);
    });
  }

 private:
  static constexpr std::size_t kBatchBytes = std::size_t{1} << 20;

  void push_piece(std::string data) {
    const std::size_t size = data.size();
    queue_.push(size,
                [recorder = recorder_.get(), data = std::move(data)] { recorder->on_data(data); });
  }

  RecordingQueue& queue_;
  std::unique_ptr<ResponseRecorder> recorder_;  // null once finished
  bool whole_body_;
  std::string batch_;  // whole_body_: pieces not handed over yet
};

RecordingQueue::Options queue_options(const std::shared_ptr<CacheCore>& core) {
  RecordingQueue::Options options;
  options.max_backlog_bytes = core->settings().max_recording_backlog;
  // Freed LIST bodies go back to the system once recording rests, not between two requests.
  options.on_idle = [core] { core->release_heap_if_due(); };
  return options;
}

/// The CacheManager over a Store: recording through CacheCore on one RecordingQueue, offline
/// answers in offline.cpp.
class StoreCacheManager final : public CacheManager {
 public:
  explicit StoreCacheManager(std::shared_ptr<CacheCore> core)
      : core_(std::move(core)), queue_(queue_options(core_)) {}

  [[nodiscard]] bool should_record(const RequestContext& req) const override {
    const auto& agents = core_->settings().cache_agents;
    if (req.component.empty() ||
        (std::find(agents.begin(), agents.end(), "*") == agents.end() &&
         std::find(agents.begin(), agents.end(), req.component) == agents.end())) {
      return false;
    }
    const auto& info = req.info;
    if (!info.is_resource_request) {
      return req.request->method == "GET" && discovery_doc(info.path).has_value();
    }
    const std::string& verb = info.verb;
    if (verb != "get" && verb != "list" && verb != "watch" && verb != "create" &&
        verb != "update" && verb != "patch") {
      return false;
    }
    if (never_recorded(info) || info.resource.empty()) {
      return false;
    }
    // The apiserver answers with the first acceptable range: `as=Table` first means no objects.
    const auto ranges = parse_media_ranges(req.request->headers.get("Accept"));
    return ranges.empty() || ranges.front().param("as").empty();
  }

  [[nodiscard]] std::unique_ptr<ResponseRecorder> record(const RequestContext& req,
                                                         const net::Response& head) override {
    if (!should_record(req)) {
      return nullptr;
    }
    auto recording = make_recorder(core_, req, head);
    if (!recording.recorder) {
      return nullptr;
    }
    return std::make_unique<QueuedRecorder>(queue_, std::move(recording));
  }

  void settle() override { queue_.settle(); }

  net::asio::awaitable<void> serve(const RequestContext& req,
                                   net::ServerExchange& exchange,
                                   HealthView& health) override {
    // Whatever the cloud sent before it went away is part of the answer.
    queue_.settle();
    return serve_offline(core_, req, exchange, health);
  }

  [[nodiscard]] CacheStats stats() const override { return core_->stats(); }

 private:
  std::shared_ptr<CacheCore> core_;
  RecordingQueue queue_;  // after core_: its destructor applies what is queued to the core
};

}  // namespace

Result<std::unique_ptr<CacheManager>> make_cache_manager(storage::Store& store,
                                                         CacheSettings settings,
                                                         const Clock& clock) {
  auto core = std::make_shared<CacheCore>(store, std::move(settings), clock);
  core->load();
  return std::unique_ptr<CacheManager>(std::make_unique<StoreCacheManager>(std::move(core)));
}

}  // namespace yurt::hub
