#pragma once

// Private to yurt_hub_cache: the ResponseRecorders, one per kind of response.

#include <memory>

#include "yurt/net/http.hpp"

#include "src/apps/hub/cache/cache_core.hpp"

namespace yurt::hub {

/// A recorder and how it takes its body.
struct Recording {
  std::unique_ptr<ResponseRecorder> recorder;  ///< null: the response is not recorded
  /// The recorder only collects the body until finish() (it parses it whole): its pieces may be
  /// handed over in fewer, larger batches. False for watches: each event applies on arrival.
  bool whole_body = false;
};

/// The recording of the response `head` to `req` (which should_record() accepted); no recorder
/// when the response is not to be recorded (not 2xx JSON, Table/PartialObjectMetadata,
/// compressed).
[[nodiscard]] Recording make_recorder(const std::shared_ptr<CacheCore>& core,
                                      const RequestContext& req,
                                      const net::Response& head);

}  // namespace yurt::hub
