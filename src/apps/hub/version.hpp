#pragma once

#include <string_view>

namespace yurt::hub {

#ifndef YURT_VERSION
#define YURT_VERSION "0.0.0"
#endif

/// The version yurthub reports (CMake's project version).
inline constexpr std::string_view kVersion = "v" YURT_VERSION;
/// What yurthub sends as User-Agent on its own requests (its component in caches is "yurthub").
inline constexpr std::string_view kUserAgent = "yurthub/v" YURT_VERSION;

}  // namespace yurt::hub
