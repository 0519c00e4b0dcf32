#pragma once

// HTTP/1.1 wire format we write ourselves: status/request lines, header blocks and chunk framing.
// Parsing is Beast's; writing is simple enough that owning it keeps Beast's serializer (and its
// compile cost) out, lets a proxy forward fields verbatim, and lets us refuse fields that would
// split a message (CR/LF injection) with a precise error.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "yurt/base/result.hpp"
#include "yurt/net/http.hpp"

namespace yurt::net::wire {

inline constexpr std::string_view kCrlf = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

/// RFC 9110 token (method, header name).
[[nodiscard]] bool is_token(std::string_view s) noexcept;
/// A field value or reason phrase we may send: no CR, LF or NUL.
[[nodiscard]] bool is_field_value(std::string_view s) noexcept;

/// "GET /x HTTP/1.1\r\n" + fields + "\r\n".
[[nodiscard]] Result<std::string> request_head(std::string_view method,
                                               std::string_view target,
                                               int version,
                                               const Headers& headers);
/// "HTTP/1.1 200 OK\r\n" + fields + "\r\n" (standard reason when `reason` is empty).
[[nodiscard]] Result<std::string> response_head(int status,
                                                std::string_view reason,
                                                int version,
                                                const Headers& headers);

/// "<hex size>\r\n" that precedes a chunk of `size` bytes.
[[nodiscard]] std::string chunk_header(std::size_t size);

/// Parses a Content-Length value (digits only, no overflow).
[[nodiscard]] bool parse_content_length(std::string_view s, std::uint64_t& out) noexcept;

/// Whether a response with this status to this request method can carry a body.
[[nodiscard]] bool response_has_body(int status, std::string_view request_method) noexcept;

}  // namespace yurt::net::wire
