#pragma once

// Private to yurt_hub_cache: the ResponseRecorders, one per kind of response.

#include <memory>

#include "yurt/net/http.hpp"

#include "src/apps/hub/cache/cache_core.hpp"

namespace yurt::hub {

/// The recorder for the response `head` to `req` (which should_record() accepted), or null when
/// the response is not to be recorded (not 2xx JSON, Table/PartialObjectMetadata, compressed).
[[nodiscard]] std::unique_ptr<ResponseRecorder> make_recorder(
    const std::shared_ptr<CacheCore>& core, const RequestContext& req, const net::Response& head);

}  // namespace yurt::hub
