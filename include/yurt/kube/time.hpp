#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "yurt/base/result.hpp"
#include "yurt/kube/errors.hpp"

namespace yurt::kube {

/// A point in time as Kubernetes objects carry them, to the microsecond (the finest the API
/// writes: `metav1.MicroTime`). Microseconds keep year 1…9999 in range, which nanoseconds would
/// not.
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

/// `metav1.Time` on the wire: RFC 3339 in UTC, whole seconds: "2026-11-27T05:04:49Z".
/// Sub-second digits are truncated, as the apiserver does.
[[nodiscard]] std::string format_rfc3339(Timestamp t);

/// `metav1.MicroTime` on the wire (Lease acquireTime/renewTime, Event eventTime): RFC 3339 in
/// UTC with exactly six fractional digits: "2026-11-27T05:04:49.123456Z".
[[nodiscard]] std::string format_rfc3339_micro(Timestamp t);

/// Parses RFC 3339 ("YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)"), as Go's time.Parse(RFC3339)
/// accepts it for both Time and MicroTime: 1–9 fractional digits (beyond microseconds
/// truncated), 'Z' or a numeric offset. Errors (Errc::Malformed) name the bad part: a missing
/// field, a month, day (leap years honoured), hour, minute or second out of range, an offset
/// out of range, trailing bytes.
[[nodiscard]] Result<Timestamp> parse_rfc3339(std::string_view s);

}  // namespace yurt::kube
