#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace yurt::storage {

/// Why `segment` cannot be one segment of a key (and so one file or directory name), or nullopt
/// when it can. Shared by validate_key() and DiskStore's start-up scan, so the scan accepts
/// exactly the names a put() could have created.
[[nodiscard]] std::optional<std::string> segment_problem(std::string_view segment);

}  // namespace yurt::storage
