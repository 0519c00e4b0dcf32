#include "yurt/kube/resource_version.hpp"

#include <charconv>

#include "src/kube/text.hpp"

namespace yurt::kube {

std::optional<std::uint64_t> parse_resource_version(std::string_view rv) noexcept {
  if (rv.empty() || (rv.size() > 1 && rv.front() == '0')) {
    return std::nullopt;
  }
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), v);
  if (ec != std::errc{} || ptr != rv.data() + rv.size()) {
    return std::nullopt;
  }
  return v;
}

std::partial_ordering compare_resource_versions(std::string_view a, std::string_view b) noexcept {
  const auto x = parse_resource_version(a);
  const auto y = parse_resource_version(b);
  if (!x || !y) {
    return std::partial_ordering::unordered;
  }
  return *x <=> *y;
}

bool should_replace(std::string_view stored, std::string_view incoming) noexcept {
  const auto order = compare_resource_versions(incoming, stored);
  return order == std::partial_ordering::greater || order == std::partial_ordering::unordered;
}

std::string resource_version_of(const nlohmann::json& object) {
  if (!object.is_object()) {
    return {};
  }
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    return {};
  }
  auto rv = meta->find("resourceVersion");
  if (rv == meta->end() || !rv->is_string()) {
    return {};
  }
  return rv->get<std::string>();
}

std::string object_key(std::string_view namespace_name, std::string_view name) {
  if (namespace_name.empty()) {
    return std::string(name);
  }
  std::string key;
  key.reserve(namespace_name.size() + 1 + name.size());
  key.append(namespace_name).append("/").append(name);
  return key;
}

Result<std::string> object_key(const nlohmann::json& object) {
  if (!object.is_object()) {
    return fail(Errc::Malformed, "object key: not a JSON object");
  }
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    return fail(Errc::Malformed, "object key: object has no metadata");
  }
  auto name = meta->find("name");
  if (name == meta->end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return fail(Errc::Malformed, "object key: object has no metadata.name");
  }
  std::string_view ns;
  if (auto it = meta->find("namespace"); it != meta->end() && !it->is_null()) {
    if (!it->is_string()) {
      return fail(Errc::Malformed, "object key: metadata.namespace is not a string");
    }
    ns = it->get_ref<const std::string&>();
  }
  return object_key(ns, name->get_ref<const std::string&>());
}

Result<ObjectKey> split_object_key(std::string_view key) {
  const auto slash = key.find('/');
  if (slash == std::string_view::npos) {
    if (key.empty()) {
      return fail(Errc::Malformed, "object key is empty");
    }
    return ObjectKey{{}, std::string(key)};
  }
  if (key.find('/', slash + 1) != std::string_view::npos) {
    return fail(Errc::Malformed, "object key " + text::quote(key) + " has more than one '/'");
  }
  if (slash + 1 == key.size()) {
    return fail(Errc::Malformed, "object key " + text::quote(key) + " has an empty name");
  }
  return ObjectKey{std::string(key.substr(0, slash)), std::string(key.substr(slash + 1))};
}

}  // namespace yurt::kube
