#pragma once

#include <system_error>

namespace yurt::hub {

/// Error codes of yurthub; the Error message says what and why.
enum class Errc {
  InvalidConfig = 1,  ///< flags that parse but cannot be used
  NoCertificate,      ///< no usable client or serving certificate (yet)
  Bootstrap,          ///< the bootstrap flow failed (cluster-info, CSR denied, …)
  NoUpstream,         ///< no healthy apiserver endpoint
};

[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace yurt::hub

template <>
struct std::is_error_code_enum<yurt::hub::Errc> : std::true_type {};
