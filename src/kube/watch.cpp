#include "yurt/kube/watch.hpp"

#include <utility>

#include "src/kube/json_util.hpp"
#include "src/kube/text.hpp"

namespace yurt::kube {
namespace {

bool is_blank(std::string_view s) noexcept {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::string event_name(std::size_t ordinal) {
  return "watch event " + std::to_string(ordinal);
}

Result<WatchEvent> decode_event(nlohmann::json event, std::size_t ordinal) {
  if (!event.is_object()) {
    return fail(Errc::Malformed, event_name(ordinal) + ": expected a JSON object, got " +
                                     std::string(json_util::type_name(event)));
  }
  auto type = event.find("type");
  if (type == event.end() || !type->is_string()) {
    return fail(Errc::Malformed, event_name(ordinal) + ": no string \"type\"");
  }
  auto object = event.find("object");
  if (object == event.end() || !object->is_object()) {
    return fail(Errc::Malformed, event_name(ordinal) + ": no object \"object\"");
  }
  const auto& t = type->get_ref<const std::string&>();
  WatchEvent out;
  if (t == "ADDED") {
    out.type = EventType::Added;
  } else if (t == "MODIFIED") {
    out.type = EventType::Modified;
  } else if (t == "DELETED") {
    out.type = EventType::Deleted;
  } else if (t == "BOOKMARK") {
    out.type = EventType::Bookmark;
  } else if (t == "ERROR") {
    auto status = parse_status_object(*object);
    if (!status) {
      return fail(Errc::Malformed,
                  event_name(ordinal) + ": ERROR event without a Status: " + status.error().what());
    }
    return to_error(*status);
  } else {
    return fail(Errc::Malformed, event_name(ordinal) + ": unknown type " + text::quote(t));
  }
  out.object = std::move(*object);
  return out;
}

Result<WatchEvent> decode_line(std::string_view line, std::size_t ordinal) {
  auto event = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (event.is_discarded()) {
    return fail(Errc::Malformed,
                event_name(ordinal) + ": not JSON: " + text::quote(text::excerpt(line, 128)));
  }
  return decode_event(std::move(event), ordinal);
}

}  // namespace

std::string_view to_string(EventType type) noexcept {
  switch (type) {
    case EventType::Added:
      return "ADDED";
    case EventType::Modified:
      return "MODIFIED";
    case EventType::Deleted:
      return "DELETED";
    case EventType::Bookmark:
      return "BOOKMARK";
  }
  return "UNKNOWN";
}

Result<WatchEvent> parse_watch_event(std::string_view line) {
  return decode_line(line, 1);
}

Result<WatchEvent> parse_watch_event_json(nlohmann::json event) {
  return decode_event(std::move(event), 1);
}

Result<std::optional<WatchEvent>> WatchDecoder::decode(std::string_view line) {
  ++events_;
  auto event = decode_line(line, events_);
  if (!event) {
    return event.error();
  }
  return std::optional<WatchEvent>(std::move(*event));
}

Result<std::optional<WatchEvent>> WatchDecoder::next() {
  for (;;) {
    const std::string_view pending = std::string_view(buffer_).substr(begin_);
    const auto newline = pending.find('\n', scanned_);
    if (newline == std::string_view::npos) {
      if (finished_ && !is_blank(pending)) {
        // finish() accepted a complete last event without its newline.
        auto line = std::string(pending);
        begin_ = buffer_.size();
        scanned_ = 0;
        return decode(line);
      }
      if (pending.size() > max_event_bytes_) {
        return fail(Errc::RequestEntityTooLarge, event_name(events_ + 1) + ": larger than " +
                                                     std::to_string(max_event_bytes_) + " bytes");
      }
      scanned_ = pending.size();
      // Keep memory bounded by the pending event: drop consumed bytes once they dominate.
      if (begin_ > 0 && begin_ >= buffer_.size() / 2) {
        buffer_.erase(0, begin_);
        begin_ = 0;
      }
      return std::optional<WatchEvent>();
    }
    const std::string_view line = pending.substr(0, newline);
    if (line.size() > max_event_bytes_) {
      return fail(Errc::RequestEntityTooLarge, event_name(events_ + 1) + ": larger than " +
                                                   std::to_string(max_event_bytes_) + " bytes");
    }
    begin_ += newline + 1;
    scanned_ = 0;
    if (is_blank(line)) {
      continue;
    }
    return decode(line);
  }
}

Result<void> WatchDecoder::finish() {
  const std::string_view pending = std::string_view(buffer_).substr(begin_);
  if (pending.find('\n', scanned_) == std::string_view::npos && !is_blank(pending)) {
    // No newline left: the tail must be one complete event.
    if (!nlohmann::json::accept(pending)) {
      return fail(Errc::Malformed, "watch stream ended inside event " +
                                       std::to_string(events_ + 1) + " (" +
                                       std::to_string(pending.size()) + " bytes pending)");
    }
  }
  finished_ = true;
  return {};
}

}  // namespace yurt::kube
