#pragma once

#include <system_error>

namespace yurt::storage {

/// Error codes of the storage module; the Error message says which key or path and why.
enum class Errc {
  NotFound = 1,  ///< no object under that key
  InvalidKey,    ///< the key or prefix breaks the key rules (key.hpp); nothing was touched
  TooLarge,      ///< the object exceeds kMaxObjectBytes
  Io,            ///< the disk refused (message carries the path and errno text)
  Corrupt,       ///< stored bytes failed validation (reported at open, never served)
  Locked,        ///< another process has the store open
};

[[nodiscard]] const std::error_category& error_category() noexcept;

[[nodiscard]] inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace yurt::storage

template <>
struct std::is_error_code_enum<yurt::storage::Errc> : std::true_type {};
