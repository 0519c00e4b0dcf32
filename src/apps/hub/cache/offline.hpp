#pragma once

// Private to yurt_hub_cache: CacheManager::serve(), the answers from the cache while no
// apiserver is reachable (docs/yurthub-cache.md has the table).

#include <memory>

#include "yurt/net/asio.hpp"
#include "yurt/net/server.hpp"

#include "src/apps/hub/cache/cache_core.hpp"

namespace yurt::hub {

/// Answers `req` on `exchange` from `core`. Never throws for bad input; a watch returns when
/// its timeout passes, `health` reports the cloud back, a write fails, or it is cancelled (it
/// accepts total cancellation, so a graceful server stop ends it).
net::asio::awaitable<void> serve_offline(std::shared_ptr<CacheCore> core,
                                         const RequestContext& req,
                                         net::ServerExchange& exchange,
                                         HealthView& health);

}  // namespace yurt::hub
