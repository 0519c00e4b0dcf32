#pragma once

// Rewrites selected objects of a JSON response while it streams, holding at most one object in
// memory: the items of a LIST (`{"items":[{…},{…}]}`), each event of a watch (one JSON object
// after another), or the single object of a GET. Bytes outside those objects pass through as
// they arrive. Used by the masterservice filter (docs/yurthub.md).

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yurt::hub {

class JsonRewriter {
 public:
  enum class Mode {
    ListItems,  ///< each element of the top-level object's "items" array
    TopLevel,   ///< each top-level value (watch events; a GET's object)
  };
  /// Given one complete object's text, returns its replacement, or nullopt to keep it.
  using Transform = std::function<std::optional<std::string>(std::string_view object)>;

  /// Objects larger than `max_object` bytes (and anything nested deeper than kMaxDepth) are
  /// passed through untransformed: the bound on what is buffered.
  JsonRewriter(Mode mode, Transform transform, std::size_t max_object);

  static constexpr std::size_t kMaxDepth = 512;

  /// Feeds the next piece; returns the bytes that can be sent now (possibly empty).
  [[nodiscard]] std::string feed(std::string_view piece);
  /// At the end of the body: whatever is still held, untransformed (an incomplete object).
  [[nodiscard]] std::string finish();

  /// Objects given to the transform / replaced by it.
  [[nodiscard]] std::size_t seen() const noexcept { return seen_; }
  [[nodiscard]] std::size_t rewritten() const noexcept { return rewritten_; }

 private:
  void complete_object(std::string& out);

  Mode mode_;
  Transform transform_;
  std::size_t max_object_;
  std::vector<char> stack_;  // '{' or '['
  bool in_string_ = false;
  bool escaped_ = false;
  bool broken_ = false;  // too deep: pass everything through from here on
  // Keys of the top-level object ("items"), for ListItems.
  bool expect_key_ = false;
  bool capturing_key_ = false;
  std::string key_;
  std::string last_key_;
  std::size_t items_depth_ = 0;  // stack size inside the "items" array, 0 = not inside
  // The object being collected.
  bool collecting_ = false;
  bool oversized_ = false;  // collecting, but past max_object: flushed, passing through
  std::size_t object_depth_ = 0;
  std::string object_;
  std::size_t seen_ = 0;
  std::size_t rewritten_ = 0;
};

/// The masterservice filter: when `object` (a Service, or a watch event carrying one) is the
/// `default/kubernetes` Service, points it at the hub's secure proxy — clusterIP(s) = `host`,
/// the port named "https" = `port` — so that the kubelet gives pods
/// `KUBERNETES_SERVICE_HOST/PORT` of the hub. Other objects: nullopt (unchanged).
[[nodiscard]] std::optional<std::string> rewrite_master_service(std::string_view object,
                                                                std::string_view host,
                                                                int port);

}  // namespace yurt::hub
