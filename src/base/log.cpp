#include "yurt/base/log.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <spdlog/pattern_formatter.h>
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

// Length of the valid UTF-8 sequence starting at s[0], or 0 if it is not valid (overlong forms,
// surrogates and code points above U+10FFFF included).
std::size_t utf8_sequence_length(std::string_view s) {
  const auto b0 = static_cast<unsigned char>(s[0]);
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    lo = b0 == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    hi = b0 == 0xED ? 0x9F : 0xBF;  // no UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    lo = b0 == 0xF0 ? 0x90 : 0x80;
    hi = b0 == 0xF4 ? 0x8F : 0xBF;  // at most U+10FFFF
  } else {
    return 0;
  }
  if (s.size() < len) {
    return 0;
  }
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) {
      return 0;
    }
  }
  return len;
}

void append_json_escaped(std::string_view text, spdlog::memory_buf_t& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  auto put = [&out](std::string_view s) { out.append(s.data(), s.data() + s.size()); };
  while (!text.empty()) {
    const char c = text.front();
    const auto u = static_cast<unsigned char>(c);
    std::size_t used = 1;
    if (c == '"') {
      put("\\\"");
    } else if (c == '\\') {
      put("\\\\");
    } else if (c == '\n') {
      put("\\n");
    } else if (c == '\r') {
      put("\\r");
    } else if (c == '\t') {
      put("\\t");
    } else if (u < 0x20 || u == 0x7f) {
      const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4U], kHex[u & 0xfU]};
      put(std::string_view(esc, sizeof esc));
    } else if (u < 0x80) {
      out.push_back(c);
    } else if (const auto len = utf8_sequence_length(text); len > 0) {
      put(text.substr(0, len));
      used = len;
    } else {
      put("\\ufffd");  // JSON must be UTF-8; a stray byte becomes U+FFFD
    }
    text.remove_prefix(used);
  }
}

// `%*` in the JSON pattern: the message escaped as a JSON string body. spdlog escapes nothing, and
// our messages carry untrusted text (paths, object names, peer errors).
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg,
              const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    append_json_escaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
  }
  [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

void apply(spdlog::logger& logger) {
  logger.set_level(level_for(g_verbosity.load()));
  if (g_format.load() == Format::Json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","msg":"%*"})");
    logger.set_formatter(std::move(formatter));
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
  auto logger =
      std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  apply(*logger);
  spdlog::register_logger(logger);
  return *logger;  // the registry keeps it alive for the process lifetime
}

bool enabled(int level) noexcept {
  return g_verbosity.load() >= level;
}

}  // namespace yurt::log
