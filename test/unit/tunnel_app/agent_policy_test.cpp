// The agent's side of "never an open proxy", and its reconnect delays.

#include <gtest/gtest.h>

#include "src/apps/tunnel/agent.hpp"
#include "src/apps/tunnel/errc.hpp"
#include "test/fakes/fake_clock.hpp"

namespace yurt::tunnel_app {
namespace {

namespace asio = boost::asio;

class LocalTarget : public ::testing::Test {
 protected:
  LocalTarget() {
    settings.node_name = "edge-1";
    settings.kubelet_address = "127.0.0.1";
  }
  Result<asio::ip::tcp::endpoint> target(std::string_view destination) {
    return local_target(destination, settings, ports, addresses);
  }
  AgentSettings settings;
  PortPolicy ports{{9100}};
  std::vector<asio::ip::address> addresses{asio::ip::make_address("10.0.0.11"),
                                           asio::ip::make_address("fd00::11")};
};

TEST_F(LocalTarget, ThisNodesAddressesAndNameReachLocalPorts) {
  EXPECT_EQ(*target("10.0.0.11:10250"),
            asio::ip::tcp::endpoint(asio::ip::make_address("10.0.0.11"), 10250));
  EXPECT_EQ(*target("[fd00::11]:10255"),
            asio::ip::tcp::endpoint(asio::ip::make_address("fd00::11"), 10255));
  EXPECT_EQ(*target("edge-1:10250"),
            asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 10250));
  EXPECT_EQ(*target("127.0.0.1:9100"),
            asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 9100));
}

TEST_F(LocalTarget, AnythingElseIsRefused) {
  for (const auto* d : {"10.0.0.12:10250",  // another node
                        "10.96.0.1:443",    // a service
                        "edge-2:10250",     // another name
                        "10.0.0.11:22",     // a port outside the policy
                        "edge-1:6443", "not a destination", "10.0.0.11:0"}) {
    auto r = target(d);
    ASSERT_FALSE(r) << d;
    EXPECT_EQ(r.error().code(), Errc::NotAllowed) << d;
  }
  EXPECT_NE(target("10.0.0.11:22").error().message().find("port 22 is not allowed"),
            std::string::npos);
}

TEST(InterfaceAddresses, IncludesLoopback) {
  auto all = interface_addresses();
  EXPECT_NE(std::find(all.begin(), all.end(), asio::ip::make_address("127.0.0.1")), all.end());
}

TEST(ReconnectDelay, FirstRetryUnderASecondCappedAndFastWhenRefused) {
  AgentSettings s;  // 500 ms, 10 s, refused 2 s
  FakeClock clock;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    ReconnectDelay d(s, clock, seed);
    auto first = d.next(false);
    EXPECT_LT(first, std::chrono::seconds(1));
    EXPECT_GE(first, std::chrono::milliseconds(250));
    std::chrono::milliseconds last{};
    for (int i = 0; i < 12; ++i) {
      last = d.next(false);
      EXPECT_LE(last, std::chrono::seconds(10));
    }
    EXPECT_GE(last, std::chrono::seconds(5));  // at the cap, still jittered
    auto refused = d.next(true);
    EXPECT_LE(refused, std::chrono::seconds(2));
    EXPECT_GE(refused, std::chrono::seconds(1));
    d.reset();
    EXPECT_LT(d.next(false), std::chrono::seconds(1));
  }
}

}  // namespace
}  // namespace yurt::tunnel_app
