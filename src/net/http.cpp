#include "yurt/net/http.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#include <boost/beast/http/status.hpp>

#include "yurt/net/errc.hpp"

#include "src/net/wire.hpp"

namespace yurt::net {
namespace {

char lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = trim(list.substr(0, comma));
    if (iequals(item, token)) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    list.remove_prefix(comma + 1);
  }
  return false;
}

void Headers::add(std::string name, std::string value) {
  fields_.push_back(Field{std::move(name), std::move(value)});
}

void Headers::set(std::string name, std::string value) {
  erase(name);
  add(std::move(name), std::move(value));
}

std::size_t Headers::erase(std::string_view name) {
  auto removed = std::erase_if(fields_, [&](const Field& f) { return iequals(f.name, name); });
  return static_cast<std::size_t>(removed);
}

std::string_view Headers::get(std::string_view name) const {
  for (const auto& f : fields_) {
    if (iequals(f.name, name)) {
      return f.value;
    }
  }
  return {};
}

bool Headers::contains(std::string_view name) const {
  return std::any_of(fields_.begin(), fields_.end(),
                     [&](const Field& f) { return iequals(f.name, name); });
}

std::vector<std::string_view> Headers::get_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields_) {
    if (iequals(f.name, name)) {
      out.emplace_back(f.value);
    }
  }
  return out;
}

std::string_view reason_phrase(int status) noexcept {
  if (status < 100 || status > 999) {
    return "Unknown";
  }
  auto s = boost::beast::http::obsolete_reason(static_cast<boost::beast::http::status>(status));
  return {s.data(), s.size()};
}

namespace wire {
namespace {

bool is_tchar(char c) noexcept {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Request targets are sent as given (already escaped by the caller); control characters and
// spaces would change the message's framing.
bool is_target(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
  });
}

std::string_view version_text(int version) noexcept {
  return version == 10 ? "HTTP/1.0" : "HTTP/1.1";
}

Result<void> append_fields(std::string& out, const Headers& headers) {
  for (const auto& f : headers) {
    if (!is_token(f.name)) {
      return fail(Errc::InvalidArgument, "header name \"" + f.name + "\" is not a token");
    }
    if (!is_field_value(f.value)) {
      return fail(Errc::InvalidArgument, "header " + f.name + " has CR, LF or NUL in its value");
    }
    out.append(f.name).append(": ").append(f.value).append(kCrlf);
  }
  out.append(kCrlf);
  return {};
}

}  // namespace

bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

bool is_field_value(std::string_view s) noexcept {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

Result<std::string> request_head(std::string_view method,
                                 std::string_view target,
                                 int version,
                                 const Headers& headers) {
  if (!is_token(method)) {
    return fail(Errc::InvalidArgument, "method \"" + std::string(method) + "\" is not a token");
  }
  if (!is_target(target)) {
    return fail(Errc::InvalidArgument,
                "request target \"" + std::string(target) + "\" is empty or has spaces/controls");
  }
  std::string out;
  out.reserve(256);
  out.append(method).append(" ").append(target).append(" ").append(version_text(version));
  out.append(kCrlf);
  if (auto r = append_fields(out, headers); !r) {
    return r.error();
  }
  return out;
}

Result<std::string> response_head(int status,
                                  std::string_view reason,
                                  int version,
                                  const Headers& headers) {
  if (status < 100 || status > 999) {
    return fail(Errc::InvalidArgument, "status " + std::to_string(status) + " is not 3 digits");
  }
  if (!is_field_value(reason)) {
    return fail(Errc::InvalidArgument, "reason phrase has CR, LF or NUL");
  }
  std::string out;
  out.reserve(256);
  out.append(version_text(version)).append(" ").append(std::to_string(status)).append(" ");
  out.append(reason.empty() ? reason_phrase(status) : reason).append(kCrlf);
  if (auto r = append_fields(out, headers); !r) {
    return r.error();
  }
  return out;
}

std::string chunk_header(std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), kHex[size & 0xf]);
    size >>= 4;
  } while (size != 0);
  return digits.append(kCrlf);
}

bool parse_content_length(std::string_view s, std::uint64_t& out) noexcept {
  s = trim(s);
  if (s.empty() || s.size() > 19) {  // 19 digits always fit in 64 bits
    return false;
  }
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

bool response_has_body(int status, std::string_view request_method) noexcept {
  if (request_method == "HEAD") {
    return false;
  }
  return !((status >= 100 && status < 200) || status == 204 || status == 304);
}

}  // namespace wire
}  // namespace yurt::net
