// The DNAT entry's system pieces: SO_ORIGINAL_DST decoding and the iptables rules and commands.

#include "src/apps/tunnel/netfilter.hpp"

#include <cstring>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "src/apps/tunnel/errc.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace yurt::tunnel_app {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST(EndpointFromSockaddr, DecodesIpv4AndIpv6) {
  sockaddr_storage s{};
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(10250);
  ::inet_pton(AF_INET, "10.0.0.11", &in.sin_addr);
  std::memcpy(&s, &in, sizeof in);
  auto v4 = endpoint_from_sockaddr(s, sizeof in);
  ASSERT_TRUE(v4) << v4.error().what();
  EXPECT_EQ(v4->address().to_string(), "10.0.0.11");
  EXPECT_EQ(v4->port(), 10250);

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(10255);
  ::inet_pton(AF_INET6, "fd00::12", &in6.sin6_addr);
  std::memcpy(&s, &in6, sizeof in6);
  auto v6 = endpoint_from_sockaddr(s, sizeof in6);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->address().to_string(), "fd00::12");
  EXPECT_EQ(v6->port(), 10255);
}

TEST(EndpointFromSockaddr, RefusesOtherFamiliesAndShortLengths) {
  sockaddr_storage s{};
  s.ss_family = AF_UNIX;
  EXPECT_EQ(endpoint_from_sockaddr(s, sizeof s).error().code(), Errc::NotRedirected);
  s.ss_family = AF_INET;
  EXPECT_EQ(endpoint_from_sockaddr(s, 4).error().code(), Errc::NotRedirected);
}

TEST(OriginalDestination, AConnectionNobodyRedirectedIsNotMistakenForOne) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  auto accepted = acceptor.accept();
  auto original = original_destination(accepted.native_handle(), false);
  // Without conntrack there is no answer; with it the answer is the address dialled, which the
  // server compares with its own and refuses.
  if (original) {
    EXPECT_EQ(*original, accepted.local_endpoint());
  } else {
    EXPECT_EQ(original.error().code(), Errc::NotRedirected);
    EXPECT_NE(original.error().message().find("SO_ORIGINAL_DST"), std::string::npos);
  }
  EXPECT_FALSE(original_destination(-1, false));
}

nlohmann::json node_json(const std::string& name, const std::string& ip, bool edge) {
  nlohmann::json n = {{"metadata", {{"name", name}}},
                      {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", ip}}}}}}};
  if (edge) {
    n["metadata"]["labels"] = {{"openyurt.io/is-edge-worker", "true"}};
  }
  return n;
}

TEST(PlanDnat, OneRulePerAddressAndPortOfNodesWithAgentsOnly) {
  NodeTable t;
  t.upsert(*node_from_json(node_json("edge-1", "10.0.0.11", true)));
  t.upsert(*node_from_json(node_json("edge-2", "10.0.0.12", true)));
  t.upsert(*node_from_json(node_json("cloud", "10.0.0.10", false)));
  auto rules = plan_dnat(t, {"edge-1", "gone"}, PortPolicy({9100}), 10263, 10264);
  EXPECT_EQ(rules, (std::vector<DnatRule>{{"edge-1", "10.0.0.11", 9100, 10264},
                                          {"edge-1", "10.0.0.11", 10250, 10263},
                                          {"edge-1", "10.0.0.11", 10255, 10264}}));
  EXPECT_TRUE(plan_dnat(t, {}, PortPolicy(), 10263, 10264).empty());
}

TEST(PlanDnat, SkipsAddressesClaimedByTwoNodes) {
  NodeTable t;
  t.upsert(*node_from_json(node_json("a", "10.0.0.9", true)));
  t.upsert(*node_from_json(node_json("b", "10.0.0.9", true)));
  EXPECT_TRUE(plan_dnat(t, {"a", "b"}, PortPolicy(), 10263, 10264).empty());
}

TEST(RestoreInput, ReplacesOurChainAtomically) {
  EXPECT_EQ(restore_input({{"edge-1", "10.0.0.11", 10250, 10263}}, "127.0.0.1"),
            "*nat\n"
            ":YURT-TUNNEL - [0:0]\n"
            "-A YURT-TUNNEL -d 10.0.0.11/32 -p tcp -m tcp --dport 10250 -m comment --comment "
            "\"yurt-tunnel edge-1\" -j DNAT --to-destination 127.0.0.1:10263\n"
            "COMMIT\n");
  EXPECT_EQ(restore_input({}, "127.0.0.1"), "*nat\n:YURT-TUNNEL - [0:0]\nCOMMIT\n");
}

TEST(ParseListedRules, ReadsBackWhatRestoreInputWrote) {
  const std::vector<DnatRule> rules{{"edge-1", "10.0.0.11", 10250, 10263},
                                    {"edge 2", "10.0.0.12", 10255, 10264}};
  // `iptables -S` prints the chain's -N line, then each rule as restore_input wrote it.
  auto listing = "-N YURT-TUNNEL\n" + restore_input(rules, "127.0.0.1");
  EXPECT_EQ(parse_listed_rules(listing, "127.0.0.1"), rules);
}

TEST(ParseListedRules, KeepsOnlyOurRulesToOurAddress) {
  const std::string listing =
      "-N YURT-TUNNEL\n"
      // to another address (a server configured differently): not ours to keep
      "-A YURT-TUNNEL -d 10.0.0.11/32 -p tcp -m tcp --dport 10250 -m comment --comment "
      "\"yurt-tunnel a\" -j DNAT --to-destination 10.9.9.9:10263\n"
      // another chain, a comment of someone else, a port out of range, a cut-off line
      "-A OUTPUT -d 10.0.0.11/32 -p tcp -m tcp --dport 10250 -m comment --comment "
      "\"yurt-tunnel a\" -j DNAT --to-destination 127.0.0.1:10263\n"
      "-A YURT-TUNNEL -d 10.0.0.11/32 -p tcp -m tcp --dport 10250 -m comment --comment "
      "\"kube-proxy\" -j DNAT --to-destination 127.0.0.1:10263\n"
      "-A YURT-TUNNEL -d 10.0.0.11/32 -p tcp -m tcp --dport 70000 -m comment --comment "
      "\"yurt-tunnel a\" -j DNAT --to-destination 127.0.0.1:10263\n"
      "-A YURT-TUNNEL -d 10.0.0.11/32 -p tcp -m tcp --dport 10250 -m comment --comment "
      "\"yurt-tunnel a\n"
      // ours
      "-A YURT-TUNNEL -d 10.0.0.12/32 -p tcp -m tcp --dport 10250 -m comment --comment "
      "\"yurt-tunnel b\" -j DNAT --to-destination 127.0.0.1:10263";
  EXPECT_EQ(parse_listed_rules(listing, "127.0.0.1"),
            (std::vector<DnatRule>{{"b", "10.0.0.12", 10250, 10263}}));
  EXPECT_TRUE(parse_listed_rules("", "127.0.0.1").empty());
}

TEST(WithInherited, AddsWhatIsNotWantedForTheSameAddressAndPortAndSorts) {
  const std::vector<DnatRule> wanted{{"edge-1", "10.0.0.11", 10250, 10263}};
  const std::vector<DnatRule> inherited{{"old-name", "10.0.0.11", 10250, 10263},
                                        {"edge-0", "10.0.0.10", 10250, 10263},
                                        {"edge-0", "10.0.0.10", 10250, 10263}};
  EXPECT_EQ(with_inherited(wanted, inherited),
            (std::vector<DnatRule>{{"edge-0", "10.0.0.10", 10250, 10263},
                                   {"edge-1", "10.0.0.11", 10250, 10263}}));
  EXPECT_EQ(with_inherited(wanted, {}), wanted);
}

/// Records commands; answers from a script keyed by the operation flag.
class FakeRunner final : public CommandRunner {
 public:
  Result<std::string> run(const std::vector<std::string>& argv, std::string_view input) override {
    calls.push_back({argv, std::string(input)});
    for (const auto& a : argv) {
      if (auto it = failing.find(a); it != failing.end()) {
        return fail(Errc::Iptables, it->second);
      }
    }
    return std::string();
  }
  struct Call {
    std::vector<std::string> argv;
    std::string input;
  };
  std::vector<Call> calls;
  std::map<std::string, std::string> failing;  // argv element -> error message
};

std::string op_of(const std::vector<std::string>& argv) {
  for (const auto& a : argv) {
    if (a.size() == 2 && a[0] == '-' && a != "-w" && a != "-t" && a != "-p" && a != "-m" &&
        a != "-j" && a != "-n") {
      return a;
    }
  }
  return argv.front();
}

TEST(IptablesManager, ApplyRestoresTheChainThenAddsTheJumpOnce) {
  FakeRunner runner;
  IptablesSettings s;
  s.iptables = "/sbin/iptables";
  s.iptables_restore = "/sbin/iptables-restore";
  IptablesManager m(s, "127.0.0.1", runner);
  runner.failing["-C"] = "iptables: Bad rule (does a matching rule exist in that chain?)";
  ASSERT_TRUE(m.apply({{"edge-1", "10.0.0.11", 10250, 10263}}));
  ASSERT_EQ(runner.calls.size(), 3U);
  EXPECT_EQ(runner.calls[0].argv,
            (std::vector<std::string>{"/sbin/iptables-restore", "-w", "5", "--noflush"}));
  EXPECT_NE(runner.calls[0].input.find("-d 10.0.0.11/32"), std::string::npos);
  EXPECT_EQ(op_of(runner.calls[1].argv), "-C");
  EXPECT_EQ(op_of(runner.calls[2].argv), "-I");
  EXPECT_EQ(runner.calls[2].argv,
            (std::vector<std::string>{"/sbin/iptables", "-w", "5", "-t", "nat", "-I", "OUTPUT",
                                      "-p", "tcp", "-m", "comment", "--comment",
                                      "yurt-tunnel-server", "-j", "YURT-TUNNEL"}));
  // The jump exists now: a second apply only restores.
  runner.failing.clear();
  runner.calls.clear();
  ASSERT_TRUE(m.apply({}));
  ASSERT_EQ(runner.calls.size(), 2U);
  EXPECT_EQ(op_of(runner.calls[1].argv), "-C");
}

TEST(IptablesManager, FailuresCarryTheCommandsReason) {
  FakeRunner runner;
  IptablesManager m({}, "127.0.0.1", runner);
  runner.failing["--noflush"] = "iptables-restore: line 3 failed";
  auto r = m.apply({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Iptables);
  EXPECT_NE(r.error().message().find("line 3 failed"), std::string::npos);
}

TEST(IptablesManager, RemoveDeletesEveryJumpThenTheChain) {
  FakeRunner runner;
  IptablesManager m({}, "127.0.0.1", runner);
  // Two copies of the jump (a crashed predecessor's and ours), then -D fails.
  int deletes = 0;
  struct Counting final : CommandRunner {
    FakeRunner& inner;
    int& deletes;
    Counting(FakeRunner& r, int& d) : inner(r), deletes(d) {}
    Result<std::string> run(const std::vector<std::string>& argv, std::string_view in) override {
      if (op_of(argv) == "-D" && ++deletes > 2) {
        inner.calls.push_back({argv, std::string(in)});
        return fail(Errc::Iptables, "no such rule");
      }
      return inner.run(argv, in);
    }
  } counting(runner, deletes);
  IptablesManager m2({}, "127.0.0.1", counting);
  ASSERT_TRUE(m2.remove());
  std::vector<std::string> ops;
  for (const auto& c : runner.calls) {
    ops.push_back(op_of(c.argv));
  }
  EXPECT_EQ(ops, (std::vector<std::string>{"-D", "-D", "-D", "-L", "-F", "-X"}));
  // No chain: nothing more to do.
  runner.calls.clear();
  runner.failing["-L"] = "No chain/target/match by that name.";
  runner.failing["-D"] = "no such rule";
  ASSERT_TRUE(m.remove());
  ASSERT_EQ(runner.calls.size(), 2U);
}

TEST(ProcessRunner, RunsWithInputAndReportsFailures) {
  ProcessRunner runner;
  auto out = runner.run({"cat"}, "hello\n");
  ASSERT_TRUE(out) << out.error().what();
  EXPECT_EQ(*out, "hello\n");
  auto failed = runner.run({"sh", "-c", "echo broken >&2; exit 3"}, {});
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message().find("exit status 3: broken"), std::string::npos)
      << failed.error().message();
  auto missing = runner.run({"/nonexistent/iptables"}, {});
  ASSERT_FALSE(missing);
  // A child that exits without reading its input must not kill us (SIGPIPE).
  std::string big(1 << 20, 'x');
  auto quick = runner.run({"true"}, big);
  EXPECT_TRUE(quick) << quick.error().what();
}

}  // namespace
}  // namespace yurt::tunnel_app
