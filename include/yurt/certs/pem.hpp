#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "yurt/base/result.hpp"
#include "yurt/certs/errc.hpp"

namespace yurt::certs {

/// One PEM block: `-----BEGIN <type>-----`, base64 lines, `-----END <type>-----`.
struct PemBlock {
  std::string type;  ///< "CERTIFICATE", "PRIVATE KEY", …
  std::string der;   ///< the decoded body
  int line = 0;      ///< 1-based line of the BEGIN marker, for error messages
  /// RFC 1421 headers ("Proc-Type: 4,ENCRYPTED") make a block encrypted; we refuse those, so
  /// only their presence is recorded.
  bool has_headers = false;
};

/// Parses a PEM text strictly: only blocks and whitespace between them. Text before, between
/// or after blocks (also "junk appended"), a BEGIN without END (a truncated file), an END of a
/// different type, bad base64, or an empty body are errors (Malformed) naming the line. An empty
/// text yields no blocks. CRLF line ends are accepted.
[[nodiscard]] Result<std::vector<PemBlock>> parse_pem(std::string_view text);

/// Encodes DER as PEM with 64-character lines and a final newline.
[[nodiscard]] std::string pem_encode(std::string_view type, std::string_view der);

}  // namespace yurt::certs
