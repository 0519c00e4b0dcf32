#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace yurt::net {

/// One header line as received or to be sent; the name keeps its original spelling.
struct Field {
  std::string name;
  std::string value;
};

/// HTTP header fields in wire order. Names compare case-insensitively (RFC 9110 §5.1); repeated
/// fields are kept as separate entries so a proxy can forward them unchanged.
///
/// @par Thread Safety
/// A value type; distinct objects are independent.
class Headers {
 public:
  using const_iterator = std::vector<Field>::const_iterator;

  /// Appends a field (repeats allowed, e.g. several `Set-Cookie` or `Impersonate-Group`).
  void add(std::string name, std::string value);
  /// Replaces every field called `name` by one field.
  void set(std::string name, std::string value);
  /// Removes every field called `name`; returns how many were removed.
  std::size_t erase(std::string_view name);

  /// The value of the first field called `name`, or "" when there is none.
  [[nodiscard]] std::string_view get(std::string_view name) const;
  [[nodiscard]] bool contains(std::string_view name) const;
  /// The values of every field called `name`, in order.
  [[nodiscard]] std::vector<std::string_view> get_all(std::string_view name) const;

  [[nodiscard]] const_iterator begin() const noexcept { return fields_.begin(); }
  [[nodiscard]] const_iterator end() const noexcept { return fields_.end(); }
  [[nodiscard]] std::size_t size() const noexcept { return fields_.size(); }
  [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }

 private:
  std::vector<Field> fields_;
};

/// True when `a` and `b` are equal ignoring ASCII case (header names, tokens).
[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept;

/// True when the comma-separated header value `list` contains `token` (case-insensitive), as in
/// `Connection: keep-alive, Upgrade`.
[[nodiscard]] bool has_token(std::string_view list, std::string_view token) noexcept;

/// An HTTP request. On the server the handler receives it with an empty body (the body is read
/// as a stream); on the client `body` is sent as is with a Content-Length.
struct Request {
  std::string method = "GET";
  std::string target = "/";  ///< origin form "/api/v1/pods?watch=1", or "host:port" for CONNECT
  Headers headers;
  std::string body;
  int version = 11;  ///< 11 = HTTP/1.1, 10 = HTTP/1.0
};

/// An HTTP response. `reason` empty means the standard phrase for `status`.
struct Response {
  int status = 200;
  std::string reason;
  Headers headers;
  std::string body;
  int version = 11;
};

/// The standard reason phrase of a status code ("Not Found"), or "Unknown".
[[nodiscard]] std::string_view reason_phrase(int status) noexcept;

}  // namespace yurt::net
