#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "yurt/base/result.hpp"

namespace yurt {

/// Splits at every `sep`; keeps empty fields ("a,,b" → {"a", "", "b"}; "" → {""}). The views point
/// into `s`.
[[nodiscard]] std::vector<std::string_view> split(std::string_view s, char sep);

/// `s` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
[[nodiscard]] std::string_view trim(std::string_view s) noexcept;

/// ASCII case-insensitive equality (HTTP header names, Kubernetes "true"/"True").
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

/// `s` in double quotes for an error message: quotes, backslashes and non-printable bytes escaped
/// (\", \\, \n, \xNN), cut after `max_chars` input bytes with "…" so an attacker-sized input cannot
/// flood a log line.
[[nodiscard]] std::string quote(std::string_view s, std::size_t max_chars = 64);

/// Parses a Go `time.ParseDuration` string: an optional sign and a sequence of decimal numbers,
/// each with an optional fraction and a unit — "300ms", "-1.5h", "2h45m", "1h30m10s". Units: ns,
/// us (µs, μs), ms, s, m, h. "0" needs no unit. Fractions are exact to the nanosecond (truncated).
///
/// Errors (std::errc::invalid_argument unless noted), messages quote the input:
/// `invalid duration "…"`, `missing unit in duration "1"`, `unknown unit "d" in duration "3d"`;
/// std::errc::result_out_of_range when it does not fit in int64 nanoseconds (about 292 years).
[[nodiscard]] Result<std::chrono::nanoseconds> parse_duration(std::string_view s);

/// Formats like Go's Duration.String(), so values round-trip through parse_duration:
/// "1h30m10s", "1.5s", "2m0s", "100ms", "1.5µs", "0s".
[[nodiscard]] std::string format_duration(std::chrono::nanoseconds d);

}  // namespace yurt
