#include "yurt/storage/errc.hpp"

#include <string>

namespace yurt::storage {
namespace {

class Category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "yurt.storage"; }
  [[nodiscard]] std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
      case Errc::NotFound:
        return "object not found";
      case Errc::InvalidKey:
        return "invalid key";
      case Errc::TooLarge:
        return "object too large";
      case Errc::Io:
        return "storage I/O error";
      case Errc::Corrupt:
        return "corrupt object";
      case Errc::Locked:
        return "store in use by another process";
    }
    return "unknown storage error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace yurt::storage
