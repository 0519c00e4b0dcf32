#include "yurt/tunnel/frame_decoder.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "yurt/tunnel/errc.hpp"

namespace yurt::tunnel {
namespace {

void put32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}
void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

// A raw frame: header with the given fields, then `payload` as is (the length may lie).
std::string raw(int type,
                int flags,
                std::uint32_t stream,
                std::uint32_t length,
                const std::string& payload = {}) {
  std::string out;
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  put32(out, stream);
  put32(out, length);
  return out + payload;
}
std::string raw(FrameType type, std::uint32_t stream, const std::string& payload) {
  return raw(static_cast<int>(type), 0, stream, static_cast<std::uint32_t>(payload.size()),
             payload);
}

std::string reason_payload(std::uint32_t code, std::uint16_t claimed, const std::string& text) {
  std::string p;
  put32(p, code);
  put16(p, claimed);
  return p + text;
}

// Decodes everything in `wire`; returns the frames or the first error.
struct Outcome {
  std::vector<Frame> frames;
  std::optional<Error> error;
};
Outcome decode_all(FrameDecoder& decoder, std::string_view wire) {
  Outcome out;
  for (;;) {
    auto r = decoder.next(wire);
    if (!r) {
      out.error = r.error();
      return out;
    }
    if (!*r) {
      return out;
    }
    out.frames.push_back(std::move(**r));
  }
}

Error expect_error(Role sender, const std::string& wire, Errc code, bool preface = false) {
  FrameDecoder decoder(sender, preface);
  auto out = decode_all(decoder, wire);
  EXPECT_TRUE(out.error.has_value()) << "no error for " << ::testing::PrintToString(wire);
  if (!out.error) {
    return {};
  }
  EXPECT_EQ(out.error->code(), make_error_code(code)) << out.error->what();
  return *out.error;
}

std::string sample_stream() {
  std::string wire(preface());
  for (const Frame& f : std::vector<Frame>{
           Ping{{1, 2, 3, 4, 5, 6, 7, 8}}, Open{1, 4096, "edge-1:10250"}, OpenAck{2, 9000},
           Data{1, "GET / HTTP/1.1\r\n\r\n"}, WindowUpdate{1, 18}, Fin{1},
           Reset{3, WireCode::Timeout, "dial timeout"}, OpenFail{4, WireCode::NotAllowed, "no"},
           Pong{{0, 0, 0, 0, 0, 0, 0, 1}}, GoAway{2, WireCode::NoError, "bye"}}) {
    EXPECT_TRUE(encode(f, wire));
  }
  return wire;
}

TEST(FrameDecoder, PrefaceThenFrames) {
  FrameDecoder decoder(Role::Server);
  auto out = decode_all(decoder, sample_stream());
  ASSERT_FALSE(out.error) << out.error->what();
  ASSERT_EQ(out.frames.size(), 10U);
  EXPECT_EQ(out.frames[1], Frame(Open{1, 4096, "edge-1:10250"}));
  EXPECT_EQ(out.frames[9], Frame(GoAway{2, WireCode::NoError, "bye"}));
  EXPECT_EQ(decoder.buffered(), 0U);
}

TEST(FrameDecoder, SplitAtEveryByteBoundaryGivesTheSameFrames) {
  const std::string wire = sample_stream();
  FrameDecoder whole(Role::Server);
  const auto expected = decode_all(whole, wire).frames;
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    FrameDecoder decoder(Role::Server);
    auto first = decode_all(decoder, std::string_view(wire).substr(0, cut));
    ASSERT_FALSE(first.error) << "cut " << cut << ": " << first.error->what();
    EXPECT_EQ(decoder.consumed(), cut);
    auto second = decode_all(decoder, std::string_view(wire).substr(cut));
    ASSERT_FALSE(second.error) << "cut " << cut << ": " << second.error->what();
    first.frames.insert(first.frames.end(), second.frames.begin(), second.frames.end());
    EXPECT_EQ(first.frames, expected) << "cut " << cut;
    EXPECT_EQ(decoder.buffered(), 0U);
  }
}

TEST(FrameDecoder, ByteByByteBuffersAtMostOneFrame) {
  std::string wire(preface());
  ASSERT_TRUE(encode(Data{5, std::string(kMaxPayload, 'z')}, wire));
  ASSERT_TRUE(encode(Fin{5}, wire));
  FrameDecoder decoder(Role::Agent);
  std::vector<Frame> frames;
  std::size_t most = 0;
  for (char c : wire) {
    std::string_view one(&c, 1);
    auto r = decoder.next(one);
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_TRUE(one.empty());
    if (*r) {
      frames.push_back(std::move(**r));
    }
    most = std::max(most, decoder.buffered());
  }
  ASSERT_EQ(frames.size(), 2U);
  EXPECT_EQ(std::get<Data>(frames[0]).bytes.size(), kMaxPayload);
  EXPECT_LE(most, kMaxPayload);
  EXPECT_EQ(decoder.consumed(), wire.size());
}

TEST(FrameDecoder, FrameCompleteInInputIsNotBuffered) {
  auto wire = *encode(Data{1, std::string(1000, 'a')});
  FrameDecoder decoder(Role::Agent, false);
  std::string_view input = wire;
  auto r = decoder.next(input);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(decoder.buffered(), 0U);
  EXPECT_TRUE(input.empty());
}

TEST(FrameDecoder, StopsAtTheEndOfEachFrame) {
  std::string wire = *encode(Fin{1}) + *encode(Fin{3});
  FrameDecoder decoder(Role::Agent, false);
  std::string_view input = wire;
  auto r = decoder.next(input);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(input.size(), kHeaderSize);  // the second frame is left for the next call
}

TEST(FrameDecoder, BadPreface) {
  auto e = expect_error(Role::Agent, "GET / HTTP/1.1\r\n", Errc::BadPreface, true);
  EXPECT_NE(e.message().find("\"GET \""), std::string::npos) << e.message();
  expect_error(Role::Agent, std::string("YTUN\0\1\0\1", 8), Errc::BadPreface, true);
}

TEST(FrameDecoder, UnsupportedVersion) {
  auto e =
      expect_error(Role::Agent, std::string("YTUN\0\2\0\0", 8), Errc::UnsupportedVersion, true);
  EXPECT_NE(e.message().find("version 2"), std::string::npos) << e.message();
}

TEST(FrameDecoder, UnknownType) {
  for (int type : {0x00, 0x0D, 0x7f, 0xff}) {
    auto e = expect_error(Role::Agent, raw(type, 0, 1, 0), Errc::UnknownFrameType);
    EXPECT_NE(e.message().find("frame at byte 0"), std::string::npos) << e.message();
  }
}

TEST(FrameDecoder, ReservedFlags) {
  auto e = expect_error(Role::Agent, raw(0x06, 0x01, 1, 1, "x"), Errc::ReservedFlags);
  EXPECT_NE(e.message().find("0x01"), std::string::npos) << e.message();
  expect_error(Role::Agent, raw(0x0A, 0x80, 0, 8, std::string(8, 0)), Errc::ReservedFlags);
}

TEST(FrameDecoder, OversizedLengthIsRejectedOnTheHeader) {
  for (std::uint32_t length : {kMaxPayload + 1, 0xffff'ffffU}) {
    FrameDecoder decoder(Role::Agent, false);
    std::string header = raw(0x06, 0, 1, length);
    std::string_view input = header;
    auto r = decoder.next(input);  // the header alone decides
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), make_error_code(Errc::FrameTooLarge));
    EXPECT_EQ(decoder.buffered(), 0U);
  }
}

TEST(FrameDecoder, LengthOutsideTheTypesBounds) {
  expect_error(Role::Agent, raw(0x0A, 0, 0, 9, std::string(9, 0)), Errc::MalformedFrame);   // PING
  expect_error(Role::Agent, raw(0x0B, 0, 0, 7, std::string(7, 0)), Errc::MalformedFrame);   // PONG
  expect_error(Role::Agent, raw(0x08, 0, 1, 1, "x"), Errc::MalformedFrame);                 // FIN
  expect_error(Role::Agent, raw(0x06, 0, 1, 0), Errc::MalformedFrame);                      // DATA
  expect_error(Role::Agent, raw(0x07, 0, 1, 5, std::string(5, 1)), Errc::MalformedFrame);   // WU
  expect_error(Role::Server, raw(0x02, 0, 0, 4, std::string(4, 1)), Errc::MalformedFrame);  // ACK
  expect_error(Role::Agent, raw(0x09, 0, 1, 5, std::string(5, 0)), Errc::MalformedFrame);   // RESET
  // Below max payload but above the type's maximum: malformed, not "too large".
  expect_error(Role::Agent, raw(0x05, 0, 1, 2000, std::string(2000, 0)), Errc::MalformedFrame);
}

TEST(FrameDecoder, TruncatedOrTrailingFields) {
  // HELLO claims a 10-byte name but carries 5.
  std::string hello;
  put32(hello, 0);
  put32(hello, 10);
  hello.push_back(10);
  hello += "edge1";
  auto e = expect_error(Role::Agent, raw(FrameType::Hello, 0, hello), Errc::MalformedFrame);
  EXPECT_NE(e.message().find("node name length 10"), std::string::npos) << e.message();
  // OPEN destination length shorter and longer than the payload.
  for (std::uint16_t claimed : {std::uint16_t{3}, std::uint16_t{30}}) {
    std::string open;
    put32(open, 100);
    put16(open, claimed);
    open += "edge-1:10250";
    expect_error(Role::Server, raw(FrameType::Open, 1, open), Errc::MalformedFrame);
  }
  expect_error(Role::Agent, raw(FrameType::OpenFail, 1, reason_payload(6, 9, "short")),
               Errc::MalformedFrame);
  expect_error(Role::Agent, raw(FrameType::Reset, 1, reason_payload(5, 1, "abc")),
               Errc::MalformedFrame);
  std::string goaway;
  put32(goaway, 0);
  goaway += reason_payload(0, 4, "by");
  expect_error(Role::Agent, raw(FrameType::GoAway, 0, goaway), Errc::MalformedFrame);
}

TEST(FrameDecoder, FieldsOutOfRange) {
  std::string p;
  put32(p, 0);
  put16(p, 3);
  p += "a:1";
  expect_error(Role::Server, raw(FrameType::Open, 1, p), Errc::MalformedFrame);  // window 0
  std::string w;
  put32(w, 0x8000'0000);
  expect_error(Role::Agent, raw(FrameType::OpenAck, 1, w), Errc::MalformedFrame);
  expect_error(Role::Agent, raw(FrameType::WindowUpdate, 1, std::string(4, 0)),
               Errc::MalformedFrame);
  std::string ack;
  put32(ack, 0);
  put32(ack, 0);
  expect_error(Role::Server, raw(FrameType::HelloAck, 0, ack), Errc::MalformedFrame);
  std::string goaway;
  put32(goaway, 0x8000'0000);
  goaway += reason_payload(0, 0, "");
  expect_error(Role::Server, raw(FrameType::GoAway, 0, goaway), Errc::MalformedFrame);
}

TEST(FrameDecoder, StreamIdRules) {
  expect_error(Role::Agent, raw(FrameType::Data, 0, "x"), Errc::InvalidStreamId);
  expect_error(Role::Agent, raw(FrameType::Ping, 1, std::string(8, 0)), Errc::InvalidStreamId);
  expect_error(Role::Agent, raw(FrameType::GoAway, 3, reason_payload(0, 0, "") + "\0\0\0\0"),
               Errc::InvalidStreamId);
  expect_error(Role::Agent, raw(FrameType::Data, 0x8000'0001, "x"), Errc::InvalidStreamId);
  std::string open;
  put32(open, 100);
  put16(open, 3);
  open += "a:1";
  auto e = expect_error(Role::Server, raw(FrameType::Open, 2, open), Errc::InvalidStreamId);
  EXPECT_NE(e.message().find("odd"), std::string::npos) << e.message();
  expect_error(Role::Agent, raw(FrameType::Open, 3, open), Errc::InvalidStreamId);
}

TEST(FrameDecoder, BadDestinationOrNodeName) {
  std::string open;
  put32(open, 100);
  put16(open, 6);
  open += "nohost";
  auto e = expect_error(Role::Server, raw(FrameType::Open, 1, open), Errc::InvalidDestination);
  EXPECT_NE(e.message().find("no port"), std::string::npos) << e.message();
  std::string hello;
  put32(hello, 0);
  put32(hello, 10);
  hello.push_back(4);
  hello += "EDGE";
  expect_error(Role::Agent, raw(FrameType::Hello, 0, hello), Errc::InvalidNodeName);
}

TEST(FrameDecoder, FramesOnlyOneSideSends) {
  auto hello = *encode(Hello{0, 1, "edge"});
  expect_error(Role::Server, hello, Errc::WrongDirection);
  auto ack = *encode(HelloAck{0, 1});
  expect_error(Role::Agent, ack, Errc::WrongDirection);
}

TEST(FrameDecoder, ErrorNamesTheFrameOffsetAndIsSticky) {
  std::string wire = *encode(Fin{1}) + raw(0x06, 0, 1, kMaxPayload + 1);
  FrameDecoder decoder(Role::Agent, false);
  auto out = decode_all(decoder, wire);
  ASSERT_TRUE(out.error);
  EXPECT_EQ(out.frames.size(), 1U);
  EXPECT_NE(out.error->message().find("frame at byte 10 (DATA, stream 1)"), std::string::npos)
      << out.error->message();
  std::string more = *encode(Fin{3});
  std::string_view input = more;
  auto again = decoder.next(input);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message(), out.error->message());
  EXPECT_EQ(input.size(), more.size());  // consumed nothing
  EXPECT_TRUE(decoder.failed());
}

}  // namespace
}  // namespace yurt::tunnel
