#pragma once

#include <string>
#include <string_view>

#include "yurt/base/result.hpp"
#include "yurt/kube/errors.hpp"

namespace yurt::kube {

/// Standard base64 with padding (RFC 4648 §4): how Kubernetes JSON carries `[]byte` fields
/// (Secret data, CSR request/certificate) and how kubeconfigs carry `*-data`.
[[nodiscard]] std::string base64_encode(std::string_view bytes);

/// Decodes standard padded base64 as Go's `base64.StdEncoding`: '\r' and '\n' are skipped;
/// any other character outside the alphabet, or missing or misplaced padding, is an error
/// (Errc::Malformed, with the offset of the bad byte). Like Go (non-strict), non-zero bits in
/// the last character's unused low bits are ignored.
[[nodiscard]] Result<std::string> base64_decode(std::string_view text);

}  // namespace yurt::kube
