#include "yurt/kube/request_info.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "src/kube/text.hpp"

namespace yurt::kube {
namespace {

Error bad_request_error(std::string message) {
  return fail(Errc::BadRequest, std::move(message));
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool is_ctl(char ch) noexcept {
  const auto c = static_cast<unsigned char>(ch);
  return c < 0x20 || c == 0x7f;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

// apimachinery's Convert_Slice_string_To_bool: only "false" (any case) and "0" are false.
bool query_bool(std::string_view v) noexcept {
  return !(v == "0" || iequals(v, "false"));
}

struct Segment {
  std::string_view text;
  std::size_t end;  // offset just past the segment in the decoded path
};

// strings.Split(strings.Trim(path, "/"), "/") with offsets.
std::vector<Segment> split_path(std::string_view path) {
  std::vector<Segment> out;
  std::size_t begin = 0;
  std::size_t end = path.size();
  while (begin < end && path[begin] == '/') {
    ++begin;
  }
  while (end > begin && path[end - 1] == '/') {
    --end;
  }
  if (begin == end) {
    return out;
  }
  while (true) {
    const auto slash = path.find('/', begin);
    if (slash == std::string_view::npos || slash >= end) {
      out.push_back({path.substr(begin, end - begin), end});
      return out;
    }
    out.push_back({path.substr(begin, slash - begin), slash});
    begin = slash + 1;
  }
}

Result<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view raw) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!raw.empty()) {
    const auto amp = raw.find('&');
    const auto pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    if (pair.find(';') != std::string_view::npos) {
      return bad_request_error("invalid semicolon separator in query parameter " +
                               text::quote(pair));
    }
    const auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    if (!key) {
      return bad_request_error("query parameter " + text::quote(pair) + ": " +
                               key.error().message());
    }
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = percent_decode(pair.substr(eq + 1), true);
      if (!v) {
        return bad_request_error("query parameter " + text::quote(*key) + ": " +
                                 v.error().message());
      }
      value = std::move(*v);
    }
    out.emplace_back(std::move(*key), std::move(value));
  }
  return out;
}

std::optional<std::string_view> first(const std::vector<std::pair<std::string, std::string>>& q,
                                      std::string_view key) {
  for (const auto& [k, v] : q) {
    if (k == key) {
      return std::string_view(v);
    }
  }
  return std::nullopt;
}

Result<ListOptions> decode_list_options(const RequestInfo& info) {
  ListOptions o;
  const auto& q = info.query;
  auto int_param = [&](std::string_view key) -> Result<std::optional<std::int64_t>> {
    auto v = first(q, key);
    if (!v) {
      return std::optional<std::int64_t>{};
    }
    auto n = text::parse_int64(*v);
    if (!n) {
      return bad_request_error("query parameter " + std::string(key) + "=" + text::quote(*v) +
                               " is not an integer");
    }
    return n;
  };
  if (auto v = first(q, "labelSelector")) {
    auto s = LabelSelector::parse(*v);
    if (!s) {
      return bad_request_error("labelSelector " + text::quote(*v) + ": " + s.error().message());
    }
    o.label_selector = std::move(*s);
  }
  if (auto v = first(q, "fieldSelector")) {
    auto s = FieldSelector::parse(*v);
    if (!s) {
      return bad_request_error("fieldSelector " + text::quote(*v) + ": " + s.error().message());
    }
    o.field_selector = std::move(*s);
  }
  o.resource_version = std::string(first(q, "resourceVersion").value_or(""));
  o.resource_version_match = std::string(first(q, "resourceVersionMatch").value_or(""));
  o.continue_token = std::string(first(q, "continue").value_or(""));
  auto timeout = int_param("timeoutSeconds");
  if (!timeout) {
    return timeout.error();
  }
  o.timeout_seconds = *timeout;
  auto limit = int_param("limit");
  if (!limit) {
    return limit.error();
  }
  o.limit = limit->value_or(0);
  if (auto v = first(q, "watch")) {
    o.watch = query_bool(*v);
  }
  if (auto v = first(q, "allowWatchBookmarks")) {
    o.allow_watch_bookmarks = query_bool(*v);
  }
  if (auto v = first(q, "sendInitialEvents")) {
    o.send_initial_events = query_bool(*v);
  }
  return o;
}

std::string_view verb_for_method(std::string_view method) noexcept {
  if (method == "POST") {
    return "create";
  }
  if (method == "GET" || method == "HEAD") {
    return "get";
  }
  if (method == "PUT") {
    return "update";
  }
  if (method == "PATCH") {
    return "patch";
  }
  if (method == "DELETE") {
    return "delete";
  }
  return "";
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return out;
}

}  // namespace

Result<std::string> percent_decode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
      const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return bad_request_error("invalid URL escape " + text::quote(s.substr(i, 3)));
      }
      out += static_cast<char>((hi << 4) | lo);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

bool is_valid_path_segment_name(std::string_view name) noexcept {
  if (name == "." || name == "..") {
    return false;
  }
  return name.find_first_of("/%") == std::string_view::npos;
}

std::optional<std::string_view> RequestInfo::query_value(std::string_view key) const {
  return first(query, key);
}

bool RequestInfo::is_long_running() const {
  if (verb == "watch" || verb == "proxy") {
    return true;
  }
  static constexpr std::array<std::string_view, 5> kLongRunning{"attach", "exec", "proxy", "log",
                                                                "portforward"};
  return std::find(kLongRunning.begin(), kLongRunning.end(), subresource) != kLongRunning.end();
}

Result<RequestInfo> parse_request_info(std::string_view method, std::string_view target) {
  if (target.empty()) {
    return bad_request_error("empty request target");
  }
  for (const char c : target) {
    if (is_ctl(c) || c == ' ') {
      return bad_request_error("request target " + text::excerpt(target, 256) +
                               " contains a control character or space");
    }
  }
  // Absolute-form (a client talking to us as to a proxy): drop scheme and authority.
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
      target.remove_prefix(scheme.size());
      const auto path_start = target.find_first_of("/?");
      target =
          path_start == std::string_view::npos ? std::string_view("/") : target.substr(path_start);
      break;
    }
  }
  if (target.front() != '/') {
    return bad_request_error("request target " + text::quote(text::excerpt(target, 256)) +
                             " is not an absolute path");
  }
  const auto qmark = target.find('?');
  const auto raw_path = target.substr(0, qmark);
  const auto raw_query =
      qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);

  RequestInfo info;
  auto path = percent_decode(raw_path, false);
  if (!path) {
    return bad_request_error("path: " + path.error().message());
  }
  if (std::any_of(path->begin(), path->end(), is_ctl)) {
    return bad_request_error("path " + text::quote(*path) + " contains a control character");
  }
  info.path = std::move(*path);
  auto query = parse_query(raw_query);
  if (!query) {
    return query.error();
  }
  info.query = std::move(*query);
  info.verb = lower(method);

  const auto segments = split_path(info.path);
  std::size_t at = 0;  // index of the next unconsumed segment
  // Non-resource unless proven otherwise: /version, /healthz, discovery, /openapi/v2 …
  if (segments.size() < 3) {
    return info;
  }
  const auto prefix = segments[0].text;
  if (prefix != "api" && prefix != "apis") {
    return info;
  }
  if (prefix == "apis" && segments.size() < 4) {
    return info;  // /apis/<group>/<version>: discovery
  }
  for (const auto& seg : segments) {
    if (seg.text.empty() || seg.text == "." || seg.text == "..") {
      return bad_request_error("path " + text::quote(info.path) +
                               " has an empty, '.' or '..' "
                               "segment");
    }
  }
  info.api_prefix = std::string(prefix);
  at = 1;
  if (prefix == "apis") {
    info.api_group = std::string(segments[at++].text);
  }
  info.is_resource_request = true;
  info.api_version = std::string(segments[at++].text);

  bool verb_from_path = false;
  if (segments[at].text == "proxy" || segments[at].text == "watch") {
    if (segments.size() - at < 2) {
      return bad_request_error("unable to determine kind and namespace from url " +
                               text::quote(info.path));
    }
    info.verb = std::string(segments[at++].text);
    verb_from_path = true;
  } else {
    info.verb = std::string(verb_for_method(method));
  }

  // /namespaces/<ns>/<resource>/… is relative to the resource; /namespaces/<ns>[/status|finalize]
  // is the namespace object itself.
  if (segments[at].text == "namespaces" && segments.size() - at > 1) {
    info.namespace_name = std::string(segments[at + 1].text);
    if (segments.size() - at > 2 && segments[at + 2].text != "status" &&
        segments[at + 2].text != "finalize") {
      at += 2;
    }
  }
  for (std::size_t i = at; i < segments.size(); ++i) {
    info.parts.emplace_back(segments[i].text);
  }

  const auto& parts = info.parts;
  std::size_t anchor = at;  // segment after which `subpath` starts
  if (parts.size() >= 3 && info.verb != "proxy") {
    info.subresource = parts[2];
    anchor = at + 2;
  } else if (parts.size() >= 2) {
    anchor = at + 1;
  }
  if (!parts.empty()) {
    info.resource = parts[0];
  }
  if (parts.size() >= 2) {
    info.name = parts[1];
    if (!info.subresource.empty() || info.verb == "proxy") {
      auto rest = std::string_view(info.path).substr(segments[anchor].end);
      if (!rest.empty() && rest.front() == '/') {
        rest.remove_prefix(1);
      }
      info.subpath = std::string(rest);
    }
  }

  // A GET without a name is a list or a watch.
  const bool collection_get = info.name.empty() && info.verb == "get";
  if (collection_get) {
    info.verb = "list";
    if (auto w = info.query_value("watch"); w && query_bool(*w)) {
      info.verb = "watch";
    }
  }
  if (info.name.empty() && info.verb == "delete") {
    info.verb = "deletecollection";
  }
  if (info.verb == "list" || info.verb == "watch" || info.verb == "deletecollection") {
    auto options = decode_list_options(info);
    if (!options) {
      return options.error();
    }
    info.list_options = std::move(*options);
    if (verb_from_path && info.verb == "watch") {
      info.list_options.watch = true;
    }
  }
  // Per-object list/watch (kubelet's configmap and node watches): name from the field selector.
  if (collection_get) {
    if (auto n = info.list_options.field_selector.requires_exact_match("metadata.name");
        n && is_valid_path_segment_name(*n)) {
      info.name = std::move(*n);
    }
  }
  return info;
}

}  // namespace yurt::kube
