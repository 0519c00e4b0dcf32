#pragma once

// Small string helpers shared by the kube sources: quoting untrusted text into error messages,
// integers as Go parses them.

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace yurt::kube::text {

/// Appends `s` with quotes, backslashes and non-printable bytes escaped, so untrusted input can
/// never forge or break the surrounding message (a Go `%q` in spirit).
inline void append_escaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
}

/// `"s"` with escapes.
inline std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  append_escaped(out, s);
  out += '"';
  return out;
}

/// At most `max` bytes of `s`, escaped, with "…" when cut.
inline std::string excerpt(std::string_view s, std::size_t max) {
  std::string out;
  append_escaped(out, s.substr(0, max));
  if (s.size() > max) {
    out += "...";
  }
  return out;
}

/// Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, no overflow, nothing else.
inline std::optional<std::int64_t> parse_int64(std::string_view s) noexcept {
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) {
    return std::nullopt;
  }
  std::uint64_t magnitude = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude);
  if (ec != std::errc{} || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  constexpr auto kMax = static_cast<std::uint64_t>(INT64_MAX);
  if (negative) {
    if (magnitude > kMax + 1) {
      return std::nullopt;
    }
    return magnitude == kMax + 1 ? INT64_MIN : -static_cast<std::int64_t>(magnitude);
  }
  if (magnitude > kMax) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(magnitude);
}

}  // namespace yurt::kube::text
