#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "yurt/base/result.hpp"
#include "yurt/kube/errors.hpp"

namespace yurt::kube {

/// The event types of a watch stream that carry an object. `ERROR` events are not events here:
/// they end the stream as an Error built from their Status (410 → Errc::Gone).
enum class EventType { Added, Modified, Deleted, Bookmark };

/// "ADDED", "MODIFIED", "DELETED", "BOOKMARK" (the wire spelling).
[[nodiscard]] std::string_view to_string(EventType type) noexcept;

/// One watch event. For Bookmark the object carries only `metadata.resourceVersion` (and maybe
/// annotations); for Deleted it is the object's last state.
struct WatchEvent {
  EventType type = EventType::Added;
  nlohmann::json object;
};

/// Incremental decoder of the JSON watch framing the apiserver writes: one JSON object per
/// event, each followed by '\n' (k8s-protocols.md §2.3). Bytes arrive in arbitrary pieces (a
/// line may span many chunks, a chunk may hold many lines); feed() them as they come and take
/// events with next() until it returns nullopt.
///
/// Work is linear in the bytes received: a newline is searched for only in bytes not yet scanned,
/// so an event of many megabytes arriving in 64 KiB pieces is not rescanned per piece.
///
/// @par Thread Safety
/// Not thread-safe; one decoder per stream.
/// @par Errors
/// next() returns: the Error of an `ERROR` event (`to_error(Status)`, so 410 → Errc::Gone);
/// Errc::Malformed for a line that is not JSON, not an object, lacks a string `type` or an
/// object `object`, or has an unknown type; Errc::RequestEntityTooLarge once a pending event
/// exceeds `max_event_bytes`. Errors name the event by its ordinal. After an error the decoder
/// should be discarded (the stream is broken).
class WatchDecoder {
 public:
  /// Limit of one encoded event. The apiserver stores objects of at most ~1.5 MiB (etcd request
  /// limit), so 64 MiB is far beyond anything legitimate yet bounds memory against a broken peer.
  static constexpr std::size_t kDefaultMaxEventBytes = std::size_t{64} << 20;

  explicit WatchDecoder(std::size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  /// Appends received bytes.
  void feed(std::string_view bytes) { buffer_.append(bytes); }

  /// The next complete event, or nullopt when more bytes are needed. Blank lines are skipped.
  [[nodiscard]] Result<std::optional<WatchEvent>> next();

  /// At the clean end of the stream: an error (Malformed) if an incomplete event is left over
  /// (whitespace is fine). A last event without its '\n' is accepted if it is complete JSON;
  /// call next() once more after finish() to take it.
  [[nodiscard]] Result<void> finish();

  /// Bytes received but not yet returned as events.
  [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size() - begin_; }
  /// Events returned so far (ERROR included).
  [[nodiscard]] std::size_t events() const noexcept { return events_; }

 private:
  [[nodiscard]] Result<std::optional<WatchEvent>> decode(std::string_view line);

  std::size_t max_event_bytes_;
  std::string buffer_;
  std::size_t begin_ = 0;    // start of the first unreturned line
  std::size_t scanned_ = 0;  // bytes from begin_ known to hold no '\n'
  std::size_t events_ = 0;
  bool finished_ = false;
};

/// Parses one watch event line (a complete JSON object `{"type":…,"object":…}`); errors as
/// WatchDecoder::next(). Exposed for callers that frame events themselves.
[[nodiscard]] Result<WatchEvent> parse_watch_event(std::string_view line);
/// Same, from parsed JSON.
[[nodiscard]] Result<WatchEvent> parse_watch_event_json(nlohmann::json event);

/// An open watch: events as they arrive.
///
/// @par Thread Safety
/// Use from the executor that created it; one next() at a time.
/// @par Lifetime
/// Destroying it closes the watch (and its connection).
class WatchStream {
 public:
  virtual ~WatchStream() = default;

  /// The next event. nullopt when the server ended the watch normally (its timeoutSeconds
  /// passed): watch again from the last resourceVersion seen. Errors: the Status of an ERROR
  /// event (Errc::Gone for 410: relist), transport failures, Malformed/RequestEntityTooLarge
  /// from decoding. After an error or nullopt the stream is finished. Supports per-operation
  /// cancellation (terminal, partial and total).
  virtual boost::asio::awaitable<Result<std::optional<WatchEvent>>> next() = 0;
};

using WatchStreamPtr = std::unique_ptr<WatchStream>;

}  // namespace yurt::kube
