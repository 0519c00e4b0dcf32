// The version-1 codec: encoder, FrameDecoder and field syntax. Pure: no I/O, no Asio.

#include "yurt/tunnel/frame.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "yurt/base/strings.hpp"
#include "yurt/tunnel/errc.hpp"
#include "yurt/tunnel/frame_decoder.hpp"

#include <arpa/inet.h>

namespace yurt::tunnel {
namespace {

constexpr std::array<char, kPrefaceSize> kPreface = {'Y', 'T', 'U', 'N', 0, 1, 0, 0};
static_assert(kProtocolVersion == 1, "kPreface spells the version");

constexpr std::uint8_t kFirstType = 0x01;
constexpr std::uint8_t kLastType = 0x0C;

// Fixed parts of the variable-size payloads.
constexpr std::size_t kHelloFixed = 4 + 4 + 1;          // capabilities, max_streams, name length
constexpr std::size_t kOpenFixed = 4 + 2;               // window, destination length
constexpr std::size_t kReasonFixed = 4 + 2;             // code, message length
constexpr std::size_t kGoAwayFixed = 4 + kReasonFixed;  // last stream id, code, message length

struct Bounds {
  std::uint32_t min;
  std::uint32_t max;
};

// Payload length bounds per type, checked on the header before anything is buffered.
Bounds payload_bounds(FrameType type) {
  switch (type) {
    case FrameType::Hello:
      return {kHelloFixed + 1, kHelloFixed + kMaxNodeName};
    case FrameType::HelloAck:
      return {8, 8};
    case FrameType::Open:
      return {kOpenFixed + 1, kOpenFixed + kMaxDestination};
    case FrameType::OpenAck:
    case FrameType::WindowUpdate:
      return {4, 4};
    case FrameType::OpenFail:
    case FrameType::Reset:
      return {kReasonFixed, kReasonFixed + kMaxMessage};
    case FrameType::Data:
      return {1, kMaxPayload};
    case FrameType::Fin:
      return {0, 0};
    case FrameType::Ping:
    case FrameType::Pong:
      return {8, 8};
    case FrameType::GoAway:
      return {kGoAwayFixed, kGoAwayFixed + kMaxMessage};
  }
  return {0, 0};
}

bool is_connection_level(FrameType type) {
  return type == FrameType::Hello || type == FrameType::HelloAck || type == FrameType::Ping ||
         type == FrameType::Pong || type == FrameType::GoAway;
}

void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}
void put_u16(std::string& out, std::uint16_t v) {
  put_u8(out, static_cast<std::uint8_t>(v >> 8));
  put_u8(out, static_cast<std::uint8_t>(v));
}
void put_u32(std::string& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v));
}

void put_header(std::string& out, FrameType type, std::uint32_t stream, std::size_t length) {
  put_u8(out, static_cast<std::uint8_t>(type));
  put_u8(out, 0);  // flags: all reserved in version 1
  put_u32(out, stream);
  put_u32(out, static_cast<std::uint32_t>(length));
}

// Reads big-endian fields from a payload whose length was already checked against its bounds;
// `ok()` turns false (and reads yield 0) when a field would run past the end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  std::uint32_t u8() { return take(1); }
  std::uint32_t u16() { return take(2); }
  std::uint32_t u32() { return take(4); }
  std::string_view bytes(std::size_t n) {
    if (!ok_ || bytes_.size() - pos_ < n) {
      ok_ = false;
      return {};
    }
    auto v = bytes_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] std::size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::uint32_t take(std::size_t n) {
    if (!ok_ || bytes_.size() - pos_ < n) {
      ok_ = false;
      return 0;
    }
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      v = (v << 8) | static_cast<std::uint8_t>(bytes_[pos_ + i]);
    }
    pos_ += n;
    return v;
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

Error bad_destination(std::string_view destination, const std::string& why) {
  return fail(Errc::InvalidDestination, "destination " + quote(destination) + ": " + why);
}

// A DNS host name: labels of 1..63 letters, digits and '-', not starting or ending with '-'.
bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  std::size_t start = 0;
  while (start <= host.size()) {
    auto dot = host.find('.', start);
    auto end = dot == std::string_view::npos ? host.size() : dot;
    auto label = host.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) { return is_alnum(c) || c == '-'; })) {
      return false;
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return true;
}

template <class T>
std::string u32_text(T v) {
  return std::to_string(static_cast<std::uint32_t>(v));
}

Error invalid(const std::string& what) {
  return fail(Errc::InvalidArgument, "encode: " + what);
}

}  // namespace

std::string to_string(FrameType type) {
  switch (type) {
    case FrameType::Hello:
      return "HELLO";
    case FrameType::HelloAck:
      return "HELLO_ACK";
    case FrameType::Open:
      return "OPEN";
    case FrameType::OpenAck:
      return "OPEN_ACK";
    case FrameType::OpenFail:
      return "OPEN_FAIL";
    case FrameType::Data:
      return "DATA";
    case FrameType::WindowUpdate:
      return "WINDOW_UPDATE";
    case FrameType::Fin:
      return "FIN";
    case FrameType::Reset:
      return "RESET";
    case FrameType::Ping:
      return "PING";
    case FrameType::Pong:
      return "PONG";
    case FrameType::GoAway:
      return "GOAWAY";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  auto v = static_cast<std::uint8_t>(type);
  return std::string("0x") + kHex[v >> 4] + kHex[v & 0xf];
}

std::string to_string(WireCode code) {
  switch (code) {
    case WireCode::NoError:
      return "no error";
    case WireCode::Protocol:
      return "protocol error";
    case WireCode::Internal:
      return "internal error";
    case WireCode::FlowControl:
      return "flow control error";
    case WireCode::Refused:
      return "refused";
    case WireCode::Cancelled:
      return "cancelled";
    case WireCode::ConnectFailed:
      return "connect failed";
    case WireCode::NotAllowed:
      return "not allowed";
    case WireCode::Timeout:
      return "timeout";
    case WireCode::UnsupportedVersion:
      return "unsupported version";
    case WireCode::Unauthorized:
      return "unauthorized";
  }
  return "code " + u32_text(code);
}

FrameType type_of(const Frame& frame) noexcept {
  // The variant's alternatives are declared in FrameType order, starting at 1.
  return static_cast<FrameType>(frame.index() + 1);
}

std::uint32_t stream_id_of(const Frame& frame) noexcept {
  return std::visit(
      [](const auto& f) -> std::uint32_t {
        if constexpr (requires { f.stream_id; }) {
          return f.stream_id;
        } else {
          return 0;
        }
      },
      frame);
}

std::string_view preface() noexcept {
  return {kPreface.data(), kPreface.size()};
}

// ---- field syntax ----

Result<Destination> parse_destination(std::string_view destination) {
  if (destination.empty()) {
    return bad_destination(destination, "empty");
  }
  if (destination.size() > kMaxDestination) {
    return bad_destination(destination, "longer than " + std::to_string(kMaxDestination) +
                                            " bytes (" + std::to_string(destination.size()) + ")");
  }
  auto colon = destination.rfind(':');
  if (colon == std::string_view::npos) {
    return bad_destination(destination, "no port (want host:port)");
  }
  auto host = destination.substr(0, colon);
  auto port_text = destination.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), is_digit) || port_text.front() == '0') {
    return bad_destination(destination, "port must be a number 1..65535");
  }
  std::uint32_t port = 0;
  for (char c : port_text) {
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (port > 65535) {
    return bad_destination(destination, "port must be a number 1..65535");
  }
  Destination out;
  out.port = static_cast<std::uint16_t>(port);
  if (host.empty()) {
    return bad_destination(destination, "empty host");
  }
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      return bad_destination(destination, "unterminated IPv6 literal");
    }
    std::string literal(host.substr(1, host.size() - 2));
    in6_addr addr{};
    if (inet_pton(AF_INET6, literal.c_str(), &addr) != 1) {
      return bad_destination(destination, "invalid IPv6 address");
    }
    out.host = std::move(literal);
    return out;
  }
  if (host.find(':') != std::string_view::npos) {
    return bad_destination(destination, "IPv6 addresses must be in brackets");
  }
  if (std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; })) {
    std::string literal(host);
    in_addr addr{};
    if (inet_pton(AF_INET, literal.c_str(), &addr) != 1) {
      return bad_destination(destination, "invalid IPv4 address");
    }
    out.host = std::move(literal);
    return out;
  }
  if (!is_dns_name(host)) {
    return bad_destination(destination,
                           "host is not a DNS name (labels of letters, digits and '-'), an IPv4 "
                           "address or a bracketed IPv6 address");
  }
  out.host = std::string(host);
  return out;
}

Result<void> check_node_name(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return fail(Errc::InvalidNodeName, "node name " + quote(name) + ": " + why);
  };
  if (name.empty()) {
    return bad("empty");
  }
  if (name.size() > kMaxNodeName) {
    return bad("longer than 253 bytes");
  }
  auto lower_alnum = [](char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); };
  for (auto label : split(name, '.')) {
    if (label.empty() || !lower_alnum(label.front()) || !lower_alnum(label.back()) ||
        !std::all_of(label.begin(), label.end(),
                     [&](char c) { return lower_alnum(c) || c == '-'; })) {
      return bad(
          "not an RFC 1123 subdomain (labels of lower-case letters, digits and '-', "
          "alphanumeric at both ends)");
    }
  }
  return {};
}

// ---- encoder ----

Result<void> encode(const Frame& frame, std::string& out) {
  std::string payload;
  const auto type = type_of(frame);
  const auto stream = stream_id_of(frame);
  if (stream > kMaxStreamId) {
    return invalid("stream id " + std::to_string(stream) + " above 2^31-1");
  }
  if (is_connection_level(type) != (stream == 0)) {
    return invalid(to_string(type) + " with stream id " + std::to_string(stream));
  }
  auto check_window = [](std::uint32_t w, const char* what) -> Result<void> {
    if (w == 0 || w > kMaxWindow) {
      return invalid(std::string(what) + " " + std::to_string(w) + " outside 1..2^31-1");
    }
    return {};
  };
  auto check_streams = [](std::uint32_t n) -> Result<void> {
    if (n == 0 || n > kMaxStreamsLimit) {
      return invalid("max_streams " + std::to_string(n) + " outside 1..65536");
    }
    return {};
  };
  auto reason = [&](WireCode code, const std::string& message) -> Result<void> {
    if (message.size() > kMaxMessage) {
      return invalid("message longer than 1024 bytes");
    }
    put_u32(payload, static_cast<std::uint32_t>(code));
    put_u16(payload, static_cast<std::uint16_t>(message.size()));
    payload += message;
    return {};
  };
  Result<void> ok = std::visit(
      [&](const auto& f) -> Result<void> {
        using T = std::decay_t<decltype(f)>;
        if constexpr (std::is_same_v<T, Hello>) {
          if (auto r = check_node_name(f.node_name); !r) {
            return invalid(r.error().message());
          }
          if (auto r = check_streams(f.max_streams); !r) {
            return r;
          }
          put_u32(payload, f.capabilities);
          put_u32(payload, f.max_streams);
          put_u8(payload, static_cast<std::uint8_t>(f.node_name.size()));
          payload += f.node_name;
        } else if constexpr (std::is_same_v<T, HelloAck>) {
          if (auto r = check_streams(f.max_streams); !r) {
            return r;
          }
          put_u32(payload, f.capabilities);
          put_u32(payload, f.max_streams);
        } else if constexpr (std::is_same_v<T, Open>) {
          if (auto r = parse_destination(f.destination); !r) {
            return invalid(r.error().message());
          }
          if (auto r = check_window(f.initial_window, "initial window"); !r) {
            return r;
          }
          put_u32(payload, f.initial_window);
          put_u16(payload, static_cast<std::uint16_t>(f.destination.size()));
          payload += f.destination;
        } else if constexpr (std::is_same_v<T, OpenAck>) {
          if (auto r = check_window(f.initial_window, "initial window"); !r) {
            return r;
          }
          put_u32(payload, f.initial_window);
        } else if constexpr (std::is_same_v<T, OpenFail> || std::is_same_v<T, Reset>) {
          return reason(f.code, f.message);
        } else if constexpr (std::is_same_v<T, Data>) {
          if (f.bytes.empty() || f.bytes.size() > kMaxPayload) {
            return invalid("DATA payload of " + std::to_string(f.bytes.size()) +
                           " bytes outside 1..65536");
          }
          payload = f.bytes;
        } else if constexpr (std::is_same_v<T, WindowUpdate>) {
          if (auto r = check_window(f.credit, "credit"); !r) {
            return r;
          }
          put_u32(payload, f.credit);
        } else if constexpr (std::is_same_v<T, Fin>) {
          // no payload
        } else if constexpr (std::is_same_v<T, Ping> || std::is_same_v<T, Pong>) {
          payload.append(reinterpret_cast<const char*>(f.opaque.data()), f.opaque.size());
        } else if constexpr (std::is_same_v<T, GoAway>) {
          if (f.last_stream_id > kMaxStreamId) {
            return invalid("GOAWAY last stream id above 2^31-1");
          }
          put_u32(payload, f.last_stream_id);
          return reason(f.code, f.message);
        }
        return {};
      },
      frame);
  if (!ok) {
    return ok;
  }
  put_header(out, type, stream, payload.size());
  out += payload;
  return {};
}

Result<std::string> encode(const Frame& frame) {
  std::string out;
  if (auto r = encode(frame, out); !r) {
    return r.error();
  }
  return out;
}

void encode_data(std::uint32_t stream_id, std::string_view bytes, std::string& out) {
  put_header(out, FrameType::Data, stream_id, bytes.size());
  out.append(bytes);
}

void encode_data_header(std::uint32_t stream_id, std::size_t length, std::string& out) {
  put_header(out, FrameType::Data, stream_id, length);
}

// ---- decoder ----

FrameDecoder::FrameDecoder(Role sender, bool expect_preface)
    : sender_(sender), phase_(expect_preface ? Phase::Preface : Phase::Header) {}

Result<std::optional<Frame>> FrameDecoder::fail(Error error) {
  error_ = std::move(error);
  buffer_.clear();
  buffer_.shrink_to_fit();
  return error_;
}

std::string FrameDecoder::where() const {
  return "frame at byte " + std::to_string(frame_offset_) + " (" +
         to_string(static_cast<FrameType>(type_)) + ", stream " + std::to_string(stream_id_) +
         "): ";
}

Result<void> FrameDecoder::check_preface(std::string_view bytes) const {
  if (bytes.substr(0, 4) != std::string_view(kPreface.data(), 4)) {
    return yurt::fail(Errc::BadPreface,
                      "connection does not start with the tunnel preface \"YTUN\" (got " +
                          quote(bytes.substr(0, 4)) + ")");
  }
  auto version = static_cast<std::uint16_t>((static_cast<std::uint8_t>(bytes[4]) << 8) |
                                            static_cast<std::uint8_t>(bytes[5]));
  if (version != kProtocolVersion) {
    return yurt::fail(Errc::UnsupportedVersion,
                      "peer speaks tunnel protocol version " + std::to_string(version) +
                          ", this build speaks " + std::to_string(kProtocolVersion));
  }
  if (bytes[6] != 0 || bytes[7] != 0) {
    return yurt::fail(Errc::BadPreface, "reserved preface bytes are not zero");
  }
  return {};
}

Result<void> FrameDecoder::check_header() {
  const auto* h = reinterpret_cast<const std::uint8_t*>(buffer_.data());
  type_ = h[0];
  flags_ = h[1];
  stream_id_ = (std::uint32_t{h[2]} << 24) | (std::uint32_t{h[3]} << 16) |
               (std::uint32_t{h[4]} << 8) | std::uint32_t{h[5]};
  length_ = (std::uint32_t{h[6]} << 24) | (std::uint32_t{h[7]} << 16) | (std::uint32_t{h[8]} << 8) |
            std::uint32_t{h[9]};
  if (type_ < kFirstType || type_ > kLastType) {
    return yurt::fail(Errc::UnknownFrameType, where() + "unknown frame type");
  }
  const auto type = static_cast<FrameType>(type_);
  if (flags_ != 0) {
    return yurt::fail(Errc::ReservedFlags, where() + "reserved flags set (0x" +
                                               std::string(1, "0123456789abcdef"[flags_ >> 4]) +
                                               std::string(1, "0123456789abcdef"[flags_ & 0xf]) +
                                               ")");
  }
  if ((type == FrameType::Hello && sender_ != Role::Agent) ||
      (type == FrameType::HelloAck && sender_ != Role::Server)) {
    return yurt::fail(Errc::WrongDirection, where() + "only the " +
                                                (sender_ == Role::Agent ? "server" : "agent") +
                                                " sends this frame");
  }
  if (stream_id_ > kMaxStreamId) {
    return yurt::fail(Errc::InvalidStreamId, where() + "reserved high bit of the stream id set");
  }
  if (is_connection_level(type) && stream_id_ != 0) {
    return yurt::fail(Errc::InvalidStreamId, where() + "connection-level frame on a stream");
  }
  if (!is_connection_level(type) && stream_id_ == 0) {
    return yurt::fail(Errc::InvalidStreamId, where() + "stream frame with stream id 0");
  }
  if (type == FrameType::Open) {
    const bool odd = (stream_id_ & 1U) != 0;
    if (odd != (sender_ == Role::Server)) {
      return yurt::fail(
          Errc::InvalidStreamId,
          where() + (sender_ == Role::Server ? "the server opens odd-numbered streams"
                                             : "the agent opens even-numbered streams"));
    }
  }
  const auto bounds = payload_bounds(type);
  if (length_ > bounds.max) {
    return yurt::fail(
        length_ > kMaxPayload ? Errc::FrameTooLarge : Errc::MalformedFrame,
        where() + "length " + std::to_string(length_) + " exceeds " + std::to_string(bounds.max));
  }
  if (length_ < bounds.min) {
    return yurt::fail(Errc::MalformedFrame, where() + "length " + std::to_string(length_) +
                                                " below " + std::to_string(bounds.min));
  }
  return {};
}

Result<Frame> FrameDecoder::parse_payload(std::string_view payload) const {
  Reader in(payload);
  auto malformed = [&](const std::string& why) -> Error {
    return yurt::fail(Errc::MalformedFrame, where() + why);
  };
  auto take_string = [&](std::size_t n, const char* what) -> Result<std::string> {
    if (in.remaining() != n) {
      return malformed(std::string(what) + " length " + std::to_string(n) + " does not match the " +
                       std::to_string(in.remaining()) + " bytes left in the frame");
    }
    return std::string(in.bytes(n));
  };
  auto window = [&](std::uint32_t w, const char* what) -> Result<std::uint32_t> {
    if (w == 0 || w > kMaxWindow) {
      return malformed(std::string(what) + " " + std::to_string(w) + " outside 1..2^31-1");
    }
    return w;
  };
  auto max_streams = [&](std::uint32_t n) -> Result<std::uint32_t> {
    if (n == 0 || n > kMaxStreamsLimit) {
      return malformed("max_streams " + std::to_string(n) + " outside 1..65536");
    }
    return n;
  };
  // Lengths were checked against the type's bounds, so the fixed fields are present.
  switch (static_cast<FrameType>(type_)) {
    case FrameType::Hello: {
      Hello f;
      f.capabilities = in.u32();
      auto n = max_streams(in.u32());
      if (!n) {
        return n.error();
      }
      f.max_streams = *n;
      auto name = take_string(in.u8(), "node name");
      if (!name) {
        return name.error();
      }
      if (auto ok = check_node_name(*name); !ok) {
        return yurt::fail(Errc::InvalidNodeName, where() + ok.error().message());
      }
      f.node_name = std::move(*name);
      return Frame(std::move(f));
    }
    case FrameType::HelloAck: {
      HelloAck f;
      f.capabilities = in.u32();
      auto n = max_streams(in.u32());
      if (!n) {
        return n.error();
      }
      f.max_streams = *n;
      return Frame(f);
    }
    case FrameType::Open: {
      Open f;
      f.stream_id = stream_id_;
      auto w = window(in.u32(), "initial window");
      if (!w) {
        return w.error();
      }
      f.initial_window = *w;
      auto dest = take_string(in.u16(), "destination");
      if (!dest) {
        return dest.error();
      }
      if (auto ok = parse_destination(*dest); !ok) {
        return yurt::fail(Errc::InvalidDestination, where() + ok.error().message());
      }
      f.destination = std::move(*dest);
      return Frame(std::move(f));
    }
    case FrameType::OpenAck: {
      auto w = window(in.u32(), "initial window");
      if (!w) {
        return w.error();
      }
      return Frame(OpenAck{stream_id_, *w});
    }
    case FrameType::OpenFail:
    case FrameType::Reset: {
      auto code = static_cast<WireCode>(in.u32());
      auto message = take_string(in.u16(), "message");
      if (!message) {
        return message.error();
      }
      if (type_ == static_cast<std::uint8_t>(FrameType::OpenFail)) {
        return Frame(OpenFail{stream_id_, code, std::move(*message)});
      }
      return Frame(Reset{stream_id_, code, std::move(*message)});
    }
    case FrameType::Data:
      return Frame(Data{stream_id_, std::string(payload)});
    case FrameType::WindowUpdate: {
      auto credit = window(in.u32(), "credit");
      if (!credit) {
        return credit.error();
      }
      return Frame(WindowUpdate{stream_id_, *credit});
    }
    case FrameType::Fin:
      return Frame(Fin{stream_id_});
    case FrameType::Ping:
    case FrameType::Pong: {
      std::array<std::uint8_t, 8> opaque{};
      std::memcpy(opaque.data(), payload.data(), opaque.size());
      if (type_ == static_cast<std::uint8_t>(FrameType::Ping)) {
        return Frame(Ping{opaque});
      }
      return Frame(Pong{opaque});
    }
    case FrameType::GoAway: {
      GoAway f;
      f.last_stream_id = in.u32();
      if (f.last_stream_id > kMaxStreamId) {
        return malformed("GOAWAY last stream id has the reserved high bit set");
      }
      f.code = static_cast<WireCode>(in.u32());
      auto message = take_string(in.u16(), "message");
      if (!message) {
        return message.error();
      }
      f.message = std::move(*message);
      return Frame(std::move(f));
    }
  }
  return malformed("unknown frame type");  // unreachable: check_header() vetted the type
}

Result<std::optional<Frame>> FrameDecoder::next(std::string_view& input) {
  if (failed()) {
    return error_;
  }
  // Moves up to `want - buffer_.size()` bytes from input into buffer_; true once complete.
  auto fill = [&](std::size_t want) {
    auto n = std::min(want - buffer_.size(), input.size());
    buffer_.append(input.data(), n);
    input.remove_prefix(n);
    consumed_ += n;
    return buffer_.size() == want;
  };
  for (;;) {
    switch (phase_) {
      case Phase::Preface:
        if (!fill(kPrefaceSize)) {
          return std::optional<Frame>();
        }
        if (auto ok = check_preface(buffer_); !ok) {
          return fail(ok.error());
        }
        buffer_.clear();
        frame_offset_ = consumed_;
        phase_ = Phase::Header;
        break;
      case Phase::Header: {
        if (!fill(kHeaderSize)) {
          return std::optional<Frame>();
        }
        if (auto ok = check_header(); !ok) {
          return fail(ok.error());
        }
        buffer_.clear();
        phase_ = Phase::Payload;
        break;
      }
      case Phase::Payload: {
        Result<Frame> frame = Frame{};
        if (buffer_.empty() && input.size() >= length_) {
          // Whole payload in the input: decode in place.
          frame = parse_payload(input.substr(0, length_));
          input.remove_prefix(length_);
          consumed_ += length_;
        } else {
          if (!fill(length_)) {
            return std::optional<Frame>();
          }
          frame = parse_payload(buffer_);
          buffer_.clear();
        }
        if (!frame) {
          return fail(frame.error());
        }
        frame_offset_ = consumed_;
        phase_ = Phase::Header;
        return std::optional<Frame>(std::move(*frame));
      }
    }
  }
}

}  // namespace yurt::tunnel
