#include "yurt/storage/key.hpp"

#include <array>
#include <optional>
#include <string>

#include "yurt/base/strings.hpp"

#include "src/storage/key_rules.hpp"

namespace yurt::storage {
namespace {

constexpr std::string_view kLayout = "<component>/<resource>.<version>.<group>/<namespace>/<name>";

Error invalid(std::string message) {
  return fail(Errc::InvalidKey, std::move(message));
}

bool is_lower_alnum(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// Percent-escapes what a file name segment must not hold; see make_key().
std::string escape_segment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (c == '%' || c == '/' || u < 0x20 || u == 0x7f || (i == 0 && c == '.')) {
      out += '%';
      out += kHex[u >> 4U];
      out += kHex[u & 0xfU];
    } else {
      out += c;
    }
  }
  if (out == kClusterScope) {
    out = "%5F";  // keeps "_" free to mean "cluster-scoped" in the namespace segment
  }
  return out;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

std::optional<std::string> unescape_segment(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) {
      return std::nullopt;
    }
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// "<resource>.<version>.<group>" from already validated identifiers.
Result<std::string> resource_segment(const KeyParts& parts) {
  auto check = [](std::string_view what, std::string_view v, bool allow_dash,
                  bool allow_dot) -> Result<void> {
    for (const char c : v) {
      if (!(is_lower_alnum(c) || (allow_dash && c == '-') || (allow_dot && c == '.'))) {
        return invalid(std::string(what) + " " + quote(v) + " may contain only [a-z0-9" +
                       (allow_dash ? "-" : "") + (allow_dot ? "." : "") + "]");
      }
    }
    return {};
  };
  if (parts.resource.empty()) {
    return invalid("resource is empty");
  }
  if (parts.version.empty()) {
    return invalid("version of resource " + quote(parts.resource) + " is empty");
  }
  if (auto r = check("resource", parts.resource, true, false); !r) {
    return r.error();
  }
  if (auto r = check("version", parts.version, false, false); !r) {
    return r.error();
  }
  if (auto r = check("group", parts.group, true, true); !r) {
    return r.error();
  }
  if (!parts.group.empty() && (parts.group.front() == '.' || parts.group.back() == '.')) {
    return invalid("group " + quote(parts.group) + " must not start or end with '.'");
  }
  const std::string_view group = parts.group.empty() ? kCoreGroup : std::string_view(parts.group);
  return parts.resource + "." + parts.version + "." + std::string(group);
}

Result<std::string> checked(std::string key_or_prefix, std::string_view what) {
  for (const auto segment : split(key_or_prefix, '/')) {
    if (segment.size() > kMaxSegmentBytes) {
      return invalid(std::string(what) + " segment " + quote(segment) + " is " +
                     std::to_string(segment.size()) + " bytes after escaping, over the limit of " +
                     std::to_string(kMaxSegmentBytes));
    }
  }
  return key_or_prefix;
}

}  // namespace

std::optional<std::string> segment_problem(std::string_view segment) {
  if (segment.empty()) {
    return "is empty";
  }
  if (segment.size() > kMaxSegmentBytes) {
    return "is " + std::to_string(segment.size()) + " bytes, over the limit of " +
           std::to_string(kMaxSegmentBytes);
  }
  if (segment.front() == '.') {
    return "starts with '.'";
  }
  for (const char c : segment) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return "contains a control character";
    }
  }
  return std::nullopt;
}

Result<void> validate_key(std::string_view key) {
  if (key.empty()) {
    return invalid("empty key");
  }
  if (key.size() > kMaxKeyBytes) {
    return invalid("key " + quote(key) + " is " + std::to_string(key.size()) +
                   " bytes, over the limit of " + std::to_string(kMaxKeyBytes));
  }
  const auto segments = split(key, '/');
  if (segments.size() != kKeySegments) {
    return invalid("key " + quote(key) + " has " + std::to_string(segments.size()) +
                   " segments, want " + std::to_string(kKeySegments) + ": " + std::string(kLayout));
  }
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (auto problem = segment_problem(segments[i])) {
      return invalid("key " + quote(key) + ": segment " + std::to_string(i + 1) + " " +
                     quote(segments[i]) + " " + *problem);
    }
  }
  return {};
}

Result<void> validate_prefix(std::string_view prefix) {
  if (prefix.empty()) {
    return invalid("empty prefix: name at least a component (\"kubelet/\")");
  }
  if (prefix.back() != '/') {
    return invalid("prefix " + quote(prefix) + " must end with '/' (whole segments only)");
  }
  const auto segments = split(prefix.substr(0, prefix.size() - 1), '/');
  if (segments.size() >= kKeySegments) {
    return invalid("prefix " + quote(prefix) + " has " + std::to_string(segments.size()) +
                   " segments, at most " + std::to_string(kKeySegments - 1));
  }
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (auto problem = segment_problem(segments[i])) {
      return invalid("prefix " + quote(prefix) + ": segment " + std::to_string(i + 1) + " " +
                     quote(segments[i]) + " " + *problem);
    }
  }
  return {};
}

Result<std::string> make_resource_prefix(const KeyParts& parts) {
  if (parts.component.empty()) {
    return invalid("component is empty");
  }
  auto resource = resource_segment(parts);
  if (!resource) {
    return resource.error();
  }
  return checked(escape_segment(parts.component) + "/" + *resource + "/", "prefix");
}

Result<std::string> make_namespace_prefix(const KeyParts& parts) {
  auto prefix = make_resource_prefix(parts);
  if (!prefix) {
    return prefix;
  }
  const std::string ns =
      parts.namespace_.empty() ? std::string(kClusterScope) : escape_segment(parts.namespace_);
  return checked(*prefix + ns + "/", "prefix");
}

Result<std::string> make_key(const KeyParts& parts) {
  if (parts.name.empty()) {
    return invalid("object name is empty");
  }
  auto prefix = make_namespace_prefix(parts);
  if (!prefix) {
    return prefix;
  }
  return checked(*prefix + escape_segment(parts.name), "key");
}

Result<KeyParts> parse_key(std::string_view key) {
  if (auto valid = validate_key(key); !valid) {
    return valid.error();
  }
  const auto segments = split(key, '/');
  KeyParts parts;
  const auto bad = [&](const char* why) { return invalid("key " + quote(key) + ": " + why); };

  const auto component = unescape_segment(segments[0]);
  const auto ns = unescape_segment(segments[2]);
  const auto name = unescape_segment(segments[3]);
  if (!component || !ns || !name) {
    return bad("malformed %-escape");
  }
  parts.component = *component;
  parts.namespace_ = segments[2] == kClusterScope ? std::string() : *ns;
  parts.name = *name;

  const auto gvr = segments[1];
  const auto dot1 = gvr.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : gvr.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || dot2 + 1 >= gvr.size()) {
    return bad("second segment is not <resource>.<version>.<group>");
  }
  parts.resource = std::string(gvr.substr(0, dot1));
  parts.version = std::string(gvr.substr(dot1 + 1, dot2 - dot1 - 1));
  const auto group = gvr.substr(dot2 + 1);
  parts.group = group == kCoreGroup ? std::string() : std::string(group);
  // Only what make_key() produces: right identifier characters, canonical escapes.
  auto canonical = make_key(parts);
  if (!canonical) {
    return invalid("key " + quote(key) + ": " + canonical.error().message());
  }
  if (*canonical != key) {
    return bad("not in canonical form (escapes or group spelling)");
  }
  return parts;
}

}  // namespace yurt::storage
