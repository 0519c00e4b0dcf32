#include "yurt/net/errc.hpp"

#include <string>

namespace yurt::net {
namespace {

class Category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "yurt.net"; }
  [[nodiscard]] std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
      case Errc::Timeout:
        return "timed out";
      case Errc::Truncated:
        return "connection closed before the message was complete";
      case Errc::Protocol:
        return "malformed HTTP message";
      case Errc::TooLarge:
        return "message exceeds the configured limit";
      case Errc::InvalidArgument:
        return "invalid argument";
      case Errc::Closed:
        return "connection closed";
      case Errc::TlsConfig:
        return "invalid TLS configuration";
    }
    return "unknown net error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace yurt::net
