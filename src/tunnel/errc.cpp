#include "yurt/tunnel/errc.hpp"

#include <string>

namespace yurt::tunnel {
namespace {

class Category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "yurt.tunnel"; }
  [[nodiscard]] std::string message(int code) const override {
    switch (static_cast<Errc>(code)) {
      case Errc::BadPreface:
        return "not a tunnel protocol connection";
      case Errc::UnsupportedVersion:
        return "unsupported tunnel protocol version";
      case Errc::UnknownFrameType:
        return "unknown frame type";
      case Errc::ReservedFlags:
        return "reserved frame flags set";
      case Errc::FrameTooLarge:
        return "frame too large";
      case Errc::MalformedFrame:
        return "malformed frame";
      case Errc::InvalidStreamId:
        return "invalid stream id";
      case Errc::InvalidDestination:
        return "invalid destination";
      case Errc::InvalidNodeName:
        return "invalid node name";
      case Errc::WrongDirection:
        return "frame sent by the wrong side";
      case Errc::ProtocolViolation:
        return "tunnel protocol violation";
      case Errc::FlowControl:
        return "flow control window exceeded";
      case Errc::InvalidArgument:
        return "invalid argument";
      case Errc::Refused:
        return "refused by peer";
      case Errc::StreamReset:
        return "stream reset";
      case Errc::SessionClosed:
        return "tunnel session closed";
      case Errc::GoingAway:
        return "tunnel session going away";
      case Errc::TooManyStreams:
        return "too many streams";
      case Errc::Timeout:
        return "timed out";
    }
    return "unknown tunnel error " + std::to_string(code);
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

bool is_protocol_error(const std::error_code& code) noexcept {
  return code.category() == error_category() &&
         code.value() >= static_cast<int>(Errc::BadPreface) &&
         code.value() <= static_cast<int>(Errc::FlowControl);
}

}  // namespace yurt::tunnel
