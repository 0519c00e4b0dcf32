#include "yurt/tunnel/frame.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "yurt/tunnel/errc.hpp"
#include "yurt/tunnel/frame_decoder.hpp"

namespace yurt::tunnel {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) {
    out.push_back(static_cast<char>(v));
  }
  return out;
}

// One frame of every type, as a role may send it.
std::vector<std::pair<Role, Frame>> samples() {
  return {
      {Role::Agent, Hello{0x8000'0001, 256, "edge-node-1.example"}},
      {Role::Server, HelloAck{0, 65536}},
      {Role::Server, Open{7, 256 * 1024, "10.0.0.12:10250"}},
      {Role::Agent, Open{8, 1, "[fd00::12]:10250"}},
      {Role::Agent, OpenAck{7, kMaxWindow}},
      {Role::Agent, OpenFail{7, WireCode::ConnectFailed, "dial tcp 127.0.0.1:10250: refused"}},
      {Role::Agent, OpenFail{9, static_cast<WireCode>(4242), ""}},
      {Role::Server, Data{1, std::string("hello\0world", 11)}},
      {Role::Server, Data{kMaxStreamId, std::string(kMaxPayload, 'x')}},
      {Role::Agent, WindowUpdate{3, 65536}},
      {Role::Agent, Fin{3}},
      {Role::Server, Reset{5, WireCode::Cancelled, std::string(kMaxMessage, 'm')}},
      {Role::Server, Ping{{1, 2, 3, 4, 5, 6, 7, 8}}},
      {Role::Agent, Pong{{8, 7, 6, 5, 4, 3, 2, 1}}},
      {Role::Server, GoAway{41, WireCode::NoError, "server shutting down"}},
  };
}

TEST(Frame, EveryTypeRoundTrips) {
  for (const auto& [role, frame] : samples()) {
    auto wire = encode(frame);
    ASSERT_TRUE(wire) << wire.error().what();
    FrameDecoder decoder(role, /*expect_preface=*/false);
    std::string_view input = *wire;
    auto decoded = decoder.next(input);
    ASSERT_TRUE(decoded) << to_string(type_of(frame)) << ": " << decoded.error().what();
    ASSERT_TRUE(decoded->has_value()) << to_string(type_of(frame));
    EXPECT_EQ(**decoded, frame) << to_string(type_of(frame));
    EXPECT_TRUE(input.empty());
    EXPECT_EQ(decoder.consumed(), wire->size());
  }
}

TEST(Frame, WireLayoutIsBigEndianHeaderThenPayload) {
  EXPECT_EQ(*encode(WindowUpdate{3, 4096}),
            bytes({0x07, 0x00, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0x10, 0x00}));
  EXPECT_EQ(*encode(Fin{0x01020304}), bytes({0x08, 0x00, 1, 2, 3, 4, 0, 0, 0, 0}));
  EXPECT_EQ(*encode(Open{1, 2, "a:1"}),
            bytes({0x03, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 2, 0, 3, 'a', ':', '1'}));
  EXPECT_EQ(*encode(GoAway{5, WireCode::Protocol, "x"}),
            bytes({0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 5, 0, 0, 0, 1, 0, 1, 'x'}));
  EXPECT_EQ(preface(), bytes({'Y', 'T', 'U', 'N', 0, 1, 0, 0}));
}

TEST(Frame, EncodeDataMatchesEncode) {
  std::string out;
  encode_data(9, "payload", out);
  EXPECT_EQ(out, *encode(Data{9, "payload"}));
}

TEST(Frame, EncodeRejectsWhatADecoderMustReject) {
  struct Case {
    Frame frame;
    std::string expect;  // part of the message
  };
  std::vector<Case> cases = {
      {Hello{0, 1, "Upper"}, "node name"},
      {Hello{0, 0, "ok"}, "max_streams 0"},
      {HelloAck{0, kMaxStreamsLimit + 1}, "max_streams 65537"},
      {Open{1, 1, "no-port"}, "no port"},
      {Open{1, 0, "a:1"}, "initial window 0"},
      {Open{0, 1, "a:1"}, "OPEN with stream id 0"},
      {OpenAck{1, kMaxWindow + 1}, "initial window"},
      {Data{1, ""}, "DATA payload of 0 bytes"},
      {Data{1, std::string(kMaxPayload + 1, 'x')}, "65537 bytes"},
      {Data{kMaxStreamId + 1, "x"}, "above 2^31-1"},
      {WindowUpdate{1, 0}, "credit 0"},
      {Reset{1, WireCode::Cancelled, std::string(kMaxMessage + 1, 'm')}, "longer than 1024"},
      {GoAway{kMaxStreamId + 1, WireCode::NoError, ""}, "last stream id"},
  };
  for (const auto& c : cases) {
    std::string out = "keep";
    auto r = encode(c.frame, out);
    ASSERT_FALSE(r) << c.expect;
    EXPECT_EQ(r.error().code(), make_error_code(Errc::InvalidArgument));
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << r.error().message();
    EXPECT_EQ(out, "keep");
  }
}

TEST(Destination, AcceptsHostNamesAndAddresses) {
  struct Case {
    std::string in;
    std::string host;
    std::uint16_t port;
  };
  for (const auto& c : std::vector<Case>{{"edge-1:10250", "edge-1", 10250},
                                         {"10.0.0.12:10250", "10.0.0.12", 10250},
                                         {"[fd00::12]:10250", "fd00::12", 10250},
                                         {"Node.Example.COM:1", "Node.Example.COM", 1},
                                         {"a:65535", "a", 65535},
                                         {"x1.y-2.z3:443", "x1.y-2.z3", 443}}) {
    auto d = parse_destination(c.in);
    ASSERT_TRUE(d) << c.in << ": " << d.error().what();
    EXPECT_EQ(d->host, c.host);
    EXPECT_EQ(d->port, c.port);
  }
}

TEST(Destination, RejectsEverythingElse) {
  const std::string long_label(64, 'a');
  std::string too_long;
  while (too_long.size() < kMaxDestination) {
    too_long += "abcdefghi.";
  }
  too_long += "x:1";
  for (const std::string& in : {std::string(),
                                std::string("host"),
                                std::string("host:"),
                                std::string("host:0"),
                                std::string("host:65536"),
                                std::string("host:010"),
                                std::string("host:12a"),
                                std::string("host:123456"),
                                std::string(":80"),
                                std::string("fd00::1:80"),
                                std::string("[fd00::1:80"),
                                std::string("[zz::1]:80"),
                                std::string("[]:80"),
                                std::string("[fe80::1%eth0]:80"),
                                std::string("999.1.1.1:80"),
                                std::string("1.2.3:80"),
                                std::string("-bad:80"),
                                std::string("bad-:80"),
                                std::string("a..b:80"),
                                std::string(".a:80"),
                                std::string("a.:80"),
                                std::string("under_score:80"),
                                std::string("has space:80"),
                                std::string("nul\0x:80", 8),
                                long_label + ":80",
                                too_long}) {
    auto d = parse_destination(in);
    ASSERT_FALSE(d) << in;
    EXPECT_EQ(d.error().code(), make_error_code(Errc::InvalidDestination)) << in;
  }
}

TEST(NodeName, FollowsRfc1123Subdomains) {
  for (const std::string& ok :
       {std::string("a"), std::string("edge-1"), std::string("node.example.com"),
        std::string("0-9"), std::string(253, 'a')}) {
    EXPECT_TRUE(check_node_name(ok)) << ok;
  }
  for (const std::string& bad :
       {std::string(), std::string("Edge"), std::string("-a"), std::string("a-"),
        std::string("a..b"), std::string(".a"), std::string("a."), std::string("a_b"),
        std::string("a b"), std::string(254, 'a')}) {
    auto r = check_node_name(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), make_error_code(Errc::InvalidNodeName));
  }
}

TEST(Frame, NamesForLogs) {
  EXPECT_EQ(to_string(FrameType::WindowUpdate), "WINDOW_UPDATE");
  EXPECT_EQ(to_string(static_cast<FrameType>(0x47)), "0x47");
  EXPECT_EQ(to_string(WireCode::ConnectFailed), "connect failed");
  EXPECT_EQ(to_string(static_cast<WireCode>(42)), "code 42");
  EXPECT_TRUE(is_protocol_error(make_error_code(Errc::FlowControl)));
  EXPECT_FALSE(is_protocol_error(make_error_code(Errc::StreamReset)));
}

}  // namespace
}  // namespace yurt::tunnel
