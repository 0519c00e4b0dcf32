#include "yurt/base/log.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace yurt::log {
namespace {

std::atomic<int> g_verbosity{0};
std::atomic<Format> g_format{Format::Text};
std::mutex g_mutex;  // guards creation of loggers, not logging itself

// -v 0..3 → info; 4,5 → debug; 6+ → trace (klog's conventional levels).
spdlog::level::level_enum level_for(int verbosity) {
  if (verbosity >= 6) {
    return spdlog::level::trace;
  }
  if (verbosity >= 4) {
    return spdlog::level::debug;
  }
  return spdlog::level::info;
}

void apply(spdlog::logger& logger) {
  logger.set_level(level_for(g_verbosity.load()));
  if (g_format.load() == Format::Json) {
    // Message text is escaped by nothing in spdlog; our messages avoid quotes and newlines, and
    // key=value pairs stay inside "msg". Good enough for log shippers that parse JSON lines.
    logger.set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","msg":"%v"})",
        spdlog::pattern_time_type::utc);
  } else {
    logger.set_pattern("[%Y-%m-%dT%H:%M:%S.%e][%l][%n] %v");
  }
}

}  // namespace

void setup(Format format, int verbosity) {
  std::lock_guard lock(g_mutex);
  g_format = format;
  g_verbosity = verbosity;
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { apply(*l); });
}

spdlog::logger& get(std::string_view module) {
  std::lock_guard lock(g_mutex);
  std::string name(module);
  if (auto existing = spdlog::get(name)) {
    return *existing;
  }
  auto logger = std::make_shared<spdlog::logger>(
      name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  apply(*logger);
  spdlog::register_logger(logger);
  return *logger;  // the registry keeps it alive for the process lifetime
}

bool enabled(int level) noexcept { return g_verbosity.load() >= level; }

}  // namespace yurt::log
