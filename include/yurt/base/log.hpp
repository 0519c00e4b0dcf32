#pragma once

#include <string_view>

#include <spdlog/logger.h>

namespace yurt::log {

/// Output format of every logger: `[time][level][module] message key=value…` or one JSON object a
/// line (`--log-format=json`).
enum class Format { Text, Json };

/// Configures all module loggers; called once from main before anything logs. `verbosity` follows
/// klog's `-v`: 0 = info and above, 1–3 = more lifecycle detail, 4+ = debug per request, 6+ = trace
/// (wire). Loggers write to stderr only.
void setup(Format format, int verbosity);

/// The named logger of a module ("base", "net", "kube", "storage", "certs", "tunnel", "hub", …),
/// created on first use with the current settings.
///
/// @par Thread Safety
/// Safe from any thread; the returned logger lives for the whole process.
spdlog::logger& get(std::string_view module);

/// klog-style gate: true when `-v` is at least `level`.
[[nodiscard]] bool enabled(int level) noexcept;

}  // namespace yurt::log
