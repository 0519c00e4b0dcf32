#pragma once

// Private to yurt_hub_cache: finding a member of a JSON object and the elements of a JSON array
// without building a DOM, so that recording can compare a LIST's items with what it stored before
// and parse only the ones that changed. Structure only: the bytes found are not validated —
// callers parse them, or compare them with bytes they validated earlier.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace yurt::hub {

/// Where one value lies in a text: [begin, end).
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
  [[nodiscard]] std::string_view of(std::string_view text) const {
    return text.substr(begin, end - begin);
  }
};

/// The value of member `key` of the top-level object `text`. nullopt when `text` is not an
/// object, lacks the member, has it twice, or has a key written with escapes (which could spell
/// `key` unseen by this scan).
[[nodiscard]] std::optional<Span> find_member(std::string_view text, std::string_view key);

/// The elements of the array `text` (which must be exactly one array, whitespace around it
/// allowed). nullopt when it is not shaped like one.
[[nodiscard]] std::optional<std::vector<std::string_view>> array_elements(std::string_view text);

}  // namespace yurt::hub
