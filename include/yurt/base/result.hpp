#pragma once

#include <string>
#include <system_error>
#include <utility>

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

namespace yurt {

/// An error as a value: a machine-checkable code plus a precise human message ("line 3: unknown
/// key `sever`"). Modules define their own `enum class Errc` with a std::error_category and
/// build Errors from it.
///
/// @par Thread Safety
/// A value type; distinct objects are independent.
class Error {
 public:
  Error() = default;  // "no error"; boost::system::result needs it
  Error(std::error_code code, std::string message = {})  // NOLINT(google-explicit-constructor)
      : code_(code), message_(std::move(message)) {}

  [[nodiscard]] const std::error_code& code() const noexcept { return code_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

  /// "message: code text" (or just the code text when there is no message).
  [[nodiscard]] std::string what() const {
    if (message_.empty()) {
      return code_.message();
    }
    return message_ + ": " + code_.message();
  }

  friend bool operator==(const Error& e, std::error_code c) noexcept { return e.code_ == c; }

 private:
  std::error_code code_;
  std::string message_;
};

/// Thrown by Result<T>::value() on an error; carries the Error.
class ErrorException : public std::system_error {
 public:
  explicit ErrorException(Error e)
      : std::system_error(e.code(), e.message()), error_(std::move(e)) {}
  [[nodiscard]] const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

/// Found by ADL from boost::system::result<T, Error>::value().
[[noreturn]] inline void throw_exception_from_error(const Error& e,
                                                    const boost::source_location& /*loc*/) {
  throw ErrorException(e);
}

/// The return type of anything that touches the environment, the network, the disk or untrusted
/// input. `Result<void>` for operations without a value.
template <class T>
using Result = boost::system::result<T, Error>;

/// Shorthand for building an error result: `return fail(Errc::Gone, "resourceVersion too old");`
template <class E>
requires std::is_error_code_enum_v<E>
[[nodiscard]] Error fail(E code, std::string message = {}) {
  return Error(make_error_code(code), std::move(message));
}

}  // namespace yurt
