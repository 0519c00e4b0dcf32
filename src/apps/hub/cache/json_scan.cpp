#include "src/apps/hub/cache/json_scan.hpp"

#include <cstring>

namespace yurt::hub {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::size_t skip_space(std::string_view text, std::size_t at) {
  while (at < text.size() && is_space(text[at])) {
    ++at;
  }
  return at;
}

constexpr std::size_t kNone = std::string_view::npos;

// `at` is on the opening quote; returns the index after the closing one, or kNone.
std::size_t skip_string(std::string_view text, std::size_t at) {
  ++at;
  while (at < text.size()) {
    const void* hit = std::memchr(text.data() + at, '"', text.size() - at);
    if (hit == nullptr) {
      return kNone;
    }
    const std::size_t quote = static_cast<const char*>(hit) - text.data();
    // Escaped when an odd number of backslashes precede it.
    std::size_t backslashes = 0;
    while (quote - backslashes > at && text[quote - backslashes - 1] == '\\') {
      ++backslashes;
    }
    at = quote + 1;
    if (backslashes % 2 == 0) {
      return at;
    }
  }
  return kNone;
}

// `at` is on the first byte of a value; returns the index after it, or kNone.
std::size_t skip_value(std::string_view text, std::size_t at) {
  if (at >= text.size()) {
    return kNone;
  }
  const char first = text[at];
  if (first == '"') {
    return skip_string(text, at);
  }
  if (first != '{' && first != '[') {
    // A number or literal: up to the next delimiter (validated by whoever parses it).
    while (at < text.size() && !is_space(text[at]) && text[at] != ',' && text[at] != '}' &&
           text[at] != ']') {
      ++at;
    }
    return at;
  }
  std::size_t depth = 0;
  while (at < text.size()) {
    const char c = text[at];
    if (c == '"') {
      at = skip_string(text, at);
      if (at == kNone) {
        return kNone;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) {
        return at + 1;
      }
    }
    ++at;
  }
  return kNone;
}

}  // namespace

std::optional<Span> find_member(std::string_view text, std::string_view key) {
  std::size_t at = skip_space(text, 0);
  if (at >= text.size() || text[at] != '{') {
    return std::nullopt;
  }
  at = skip_space(text, at + 1);
  std::optional<Span> found;
  if (at < text.size() && text[at] == '}') {
    return std::nullopt;
  }
  while (at < text.size() && text[at] == '"') {
    const std::size_t key_end = skip_string(text, at);
    if (key_end == kNone) {
      return std::nullopt;
    }
    const std::string_view name = text.substr(at + 1, key_end - at - 2);
    if (name.find('\\') != std::string_view::npos) {
      return std::nullopt;
    }
    at = skip_space(text, key_end);
    if (at >= text.size() || text[at] != ':') {
      return std::nullopt;
    }
    at = skip_space(text, at + 1);
    const std::size_t value_end = skip_value(text, at);
    if (value_end == kNone || value_end == at) {
      return std::nullopt;
    }
    if (name == key) {
      if (found) {
        return std::nullopt;  // twice: which one a reader takes is the reader's choice
      }
      found = Span{at, value_end};
    }
    at = skip_space(text, value_end);
    if (at < text.size() && text[at] == ',') {
      at = skip_space(text, at + 1);
      continue;
    }
    if (at < text.size() && text[at] == '}') {
      return found;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::vector<std::string_view>> array_elements(std::string_view text) {
  std::size_t at = skip_space(text, 0);
  if (at >= text.size() || text[at] != '[') {
    return std::nullopt;
  }
  std::vector<std::string_view> elements;
  at = skip_space(text, at + 1);
  if (at < text.size() && text[at] == ']') {
    return skip_space(text, at + 1) == text.size() ? std::optional(std::move(elements))
                                                   : std::nullopt;
  }
  while (at < text.size()) {
    const std::size_t end = skip_value(text, at);
    if (end == kNone || end == at) {
      return std::nullopt;
    }
    elements.push_back(text.substr(at, end - at));
    at = skip_space(text, end);
    if (at < text.size() && text[at] == ',') {
      at = skip_space(text, at + 1);
      continue;
    }
    if (at < text.size() && text[at] == ']') {
      return skip_space(text, at + 1) == text.size() ? std::optional(std::move(elements))
                                                     : std::nullopt;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace yurt::hub
