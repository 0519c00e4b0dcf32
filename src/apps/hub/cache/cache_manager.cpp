#include "src/apps/hub/cache/cache_manager.hpp"

#include <algorithm>
#include <utility>

#include "src/apps/hub/cache/cache_core.hpp"
#include "src/apps/hub/cache/classify.hpp"
#include "src/apps/hub/cache/offline.hpp"
#include "src/apps/hub/cache/recorders.hpp"

namespace yurt::hub {
namespace {

/// The CacheManager over a Store: recording through CacheCore, offline answers in offline.cpp.
class StoreCacheManager final : public CacheManager {
 public:
  explicit StoreCacheManager(std::shared_ptr<CacheCore> core) : core_(std::move(core)) {}

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
    return make_recorder(core_, req, head);
  }

  net::asio::awaitable<void> serve(const RequestContext& req,
                                   net::ServerExchange& exchange,
                                   HealthView& health) override {
    return serve_offline(core_, req, exchange, health);
  }

  [[nodiscard]] CacheStats stats() const override { return core_->stats(); }

 private:
  std::shared_ptr<CacheCore> core_;
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
