#include "src/apps/hub/errc.hpp"

#include <string>

namespace yurt::hub {
namespace {

class Category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "yurt.hub"; }
  [[nodiscard]] std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
      case Errc::InvalidConfig:
        return "invalid configuration";
      case Errc::NoCertificate:
        return "no usable certificate";
      case Errc::Bootstrap:
        return "bootstrap failed";
      case Errc::NoUpstream:
        return "no healthy apiserver";
    }
    return "unknown hub error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace yurt::hub
