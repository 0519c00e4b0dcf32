#include "src/apps/tunnel/netfilter.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <optional>
#include <tuple>
#include <utility>

#include <boost/asio/ip/address.hpp>

#include "yurt/base/strings.hpp"

#include "src/apps/tunnel/errc.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;  // NOLINT(readability-redundant-declaration): posix_spawn needs it

namespace yurt::tunnel_app {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// linux/netfilter_ipv4.h SO_ORIGINAL_DST and linux/netfilter_ipv6/ip6_tables.h
// IP6T_SO_ORIGINAL_DST (both 80). The kernel headers clash with glibc's netinet/in.h, so the
// values are restated here.
constexpr int kSoOriginalDst = 80;

std::string system_message(int err) {
  return std::make_error_code(static_cast<std::errc>(err)).message();
}

/// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd_ = std::exchange(o.fd_, -1);
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_ = -1;
};

Result<std::pair<Fd, Fd>> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    return Error(std::error_code(errno, std::generic_category()), "pipe");
  }
  return std::pair<Fd, Fd>{Fd(fds[0]), Fd(fds[1])};
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) {
      out += ' ';
    }
    out += a.find(' ') == std::string::npos ? a : "'" + a + "'";
  }
  return out;
}

}  // namespace

Result<tcp::endpoint> endpoint_from_sockaddr(const sockaddr_storage& address, socklen_t length) {
  if (address.ss_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in{};
    std::memcpy(&in, &address, sizeof in);
    asio::ip::address_v4::bytes_type bytes{};
    std::memcpy(bytes.data(), &in.sin_addr, bytes.size());
    return tcp::endpoint(asio::ip::address_v4(bytes), ntohs(in.sin_port));
  }
  if (address.ss_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, &address, sizeof in6);
    asio::ip::address_v6::bytes_type bytes{};
    std::memcpy(bytes.data(), &in6.sin6_addr, bytes.size());
    return tcp::endpoint(asio::ip::address_v6(bytes), ntohs(in6.sin6_port));
  }
  return fail(Errc::NotRedirected, "original destination has address family " +
                                       std::to_string(address.ss_family) + " and length " +
                                       std::to_string(length));
}

Result<tcp::endpoint> original_destination(int fd, bool ipv6) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  const int level = ipv6 ? IPPROTO_IPV6 : IPPROTO_IP;
  if (::getsockopt(fd, level, kSoOriginalDst, &address, &length) != 0) {
    return fail(Errc::NotRedirected, "getsockopt SO_ORIGINAL_DST: " + system_message(errno));
  }
  return endpoint_from_sockaddr(address, length);
}

namespace {

/// The order of the chain: by address, then port.
void sort_rules(std::vector<DnatRule>& rules) {
  std::sort(rules.begin(), rules.end(), [](const DnatRule& a, const DnatRule& b) {
    return std::tie(a.ip, a.port, a.node) < std::tie(b.ip, b.port, b.node);
  });
}

}  // namespace

std::vector<DnatRule> plan_dnat(const NodeTable& nodes,
                                const std::vector<std::string>& agent_nodes,
                                const PortPolicy& ports,
                                std::uint16_t secure_port,
                                std::uint16_t insecure_port) {
  std::vector<DnatRule> rules;
  for (const auto& name : agent_nodes) {
    const auto* node = nodes.find(name);
    if (node == nullptr) {
      continue;
    }
    for (const auto& ip : node->ipv4) {
      // An address two nodes claim routes nowhere; redirecting it would only break it.
      if (nodes.owners(ip).size() != 1) {
        continue;
      }
      for (auto port : ports.ports()) {
        rules.push_back({name, ip, port, port == kKubeletPort ? secure_port : insecure_port});
      }
    }
  }
  sort_rules(rules);
  return rules;
}

std::string restore_input(const std::vector<DnatRule>& rules, std::string_view to_address) {
  std::string out = "*nat\n:" + std::string(kDnatChain) + " - [0:0]\n";
  for (const auto& r : rules) {
    out += "-A " + std::string(kDnatChain) + " -d " + r.ip + "/32 -p tcp -m tcp --dport " +
           std::to_string(r.port) + " -m comment --comment \"yurt-tunnel " + r.node +
           "\" -j DNAT --to-destination " + std::string(to_address) + ":" +
           std::to_string(r.to_port) + "\n";
  }
  out += "COMMIT\n";
  return out;
}

namespace {

/// The words of one `iptables -S` line; a double-quoted word (a comment) is one word.
std::vector<std::string> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    std::string word;
    if (line[i] == '"') {
      const auto end = line.find('"', i + 1);
      word = std::string(line.substr(i + 1, end == std::string_view::npos ? end : end - i - 1));
      i = end == std::string_view::npos ? line.size() : end + 1;
    } else {
      const auto end = std::min(line.find(' ', i), line.size());
      word = std::string(line.substr(i, end - i));
      i = end;
    }
    words.push_back(std::move(word));
  }
  return words;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::vector<DnatRule> parse_listed_rules(std::string_view listing, std::string_view to_address) {
  constexpr std::string_view kCommentPrefix = "yurt-tunnel ";
  std::vector<DnatRule> rules;
  std::size_t start = 0;
  while (start < listing.size()) {
    auto end = std::min(listing.find('\n', start), listing.size());
    const auto words = split_words(listing.substr(start, end - start));
    start = end + 1;
    if (words.size() < 2 || words[0] != "-A" || words[1] != kDnatChain) {
      continue;
    }
    DnatRule rule;
    std::optional<std::uint16_t> port;
    std::optional<std::uint16_t> to_port;
    for (std::size_t i = 2; i + 1 < words.size(); ++i) {
      const auto& flag = words[i];
      const auto& value = words[i + 1];
      if (flag == "-d" && value.ends_with("/32")) {
        rule.ip = value.substr(0, value.size() - 3);
      } else if (flag == "--dport") {
        port = parse_port(value);
      } else if (flag == "--comment" && value.starts_with(kCommentPrefix)) {
        rule.node = value.substr(kCommentPrefix.size());
      } else if (flag == "--to-destination") {
        const auto colon = value.rfind(':');
        if (colon != std::string::npos && value.substr(0, colon) == to_address) {
          to_port = parse_port(std::string_view(value).substr(colon + 1));
        }
      }
    }
    if (rule.ip.empty() || rule.node.empty() || !port || !to_port) {
      continue;
    }
    rule.port = *port;
    rule.to_port = *to_port;
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::vector<DnatRule> with_inherited(std::vector<DnatRule> wanted,
                                     const std::vector<DnatRule>& inherited) {
  const auto target = [](const DnatRule& r) { return std::tie(r.ip, r.port); };
  wanted.insert(wanted.end(), inherited.begin(), inherited.end());
  // Stable: for one address and port the wanted rule, ahead of the inherited ones, is kept.
  std::stable_sort(wanted.begin(), wanted.end(),
                   [&](const DnatRule& a, const DnatRule& b) { return target(a) < target(b); });
  wanted.erase(
      std::unique(wanted.begin(), wanted.end(),
                  [&](const DnatRule& a, const DnatRule& b) { return target(a) == target(b); }),
      wanted.end());
  return wanted;
}

// ---- ProcessRunner ----

Result<std::string> ProcessRunner::run(const std::vector<std::string>& argv,
                                       std::string_view input) {
  const auto what = command_line(argv);
  auto in = make_pipe();
  auto out = make_pipe();
  auto err = make_pipe();
  if (!in || !out || !err) {
    return fail(Errc::Iptables, what + ": cannot create pipes");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in->first.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out->second.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err->second.get(), 2);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: posix_spawn's signature
  }
  args.push_back(nullptr);
  // A child that exits before reading its input must not kill us with SIGPIPE: block it in
  // this (helper) thread, where the write then fails with EPIPE; the child gets a clean mask.
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    return fail(Errc::Iptables, what + ": " + system_message(rc));
  }
  in->first.reset();
  out->second.reset();
  err->second.reset();

  std::string stdout_text;
  std::string stderr_text;
  std::size_t written = 0;
  if (input.empty()) {
    in->second.reset();
  } else {
    ::fcntl(in->second.get(), F_SETFL, O_NONBLOCK);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool timed_out = false;
  while (out->first.get() >= 0 || err->first.get() >= 0) {
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    auto add = [&](const Fd& fd, short events) {
      if (fd.get() >= 0) {
        fds[n++] = pollfd{fd.get(), events, 0};
      }
    };
    add(out->first, POLLIN);
    add(err->first, POLLIN);
    add(in->second, POLLOUT);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (::poll(fds.data(), n, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      if (fds[i].fd == in->second.get()) {
        auto w = ::write(fds[i].fd, input.data() + written, input.size() - written);
        if (w > 0) {
          written += static_cast<std::size_t>(w);
        }
        if (w < 0 || written == input.size()) {
          in->second.reset();
        }
        continue;
      }
      std::array<char, 4096> buf{};
      auto r = ::read(fds[i].fd, buf.data(), buf.size());
      auto& text = fds[i].fd == out->first.get() ? stdout_text : stderr_text;
      if (r > 0) {
        text.append(buf.data(), static_cast<std::size_t>(r));
      } else {
        (fds[i].fd == out->first.get() ? out->first : err->first).reset();
      }
    }
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return fail(Errc::Iptables, what + ": killed after 30 s");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    auto code = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                  : "signal " + std::to_string(WTERMSIG(status));
    return fail(Errc::Iptables, what + ": " + code + ": " + std::string(trim(stderr_text)));
  }
  return stdout_text;
}

// ---- IptablesManager ----

IptablesManager::IptablesManager(IptablesSettings settings,
                                 std::string to_address,
                                 CommandRunner& runner)
    : settings_(std::move(settings)), to_address_(std::move(to_address)), runner_(runner) {}

std::vector<std::string> IptablesManager::jump_spec(std::string_view op) const {
  // -w: wait for the xtables lock rather than fail when kube-proxy or a CNI holds it.
  return {settings_.iptables,
          "-w",
          "5",
          "-t",
          "nat",
          std::string(op),
          "OUTPUT",
          "-p",
          "tcp",
          "-m",
          "comment",
          "--comment",
          "yurt-tunnel-server",
          "-j",
          std::string(kDnatChain)};
}

Result<void> IptablesManager::apply(const std::vector<DnatRule>& rules) {
  auto restored = runner_.run({settings_.iptables_restore, "-w", "5", "--noflush"},
                              restore_input(rules, to_address_));
  if (!restored) {
    return restored.error();
  }
  if (runner_.run(jump_spec("-C"), {})) {
    return {};
  }
  if (auto inserted = runner_.run(jump_spec("-I"), {}); !inserted) {
    return inserted.error();
  }
  return {};
}

Result<std::vector<DnatRule>> IptablesManager::current() {
  const std::string chain(kDnatChain);
  if (!runner_.run({settings_.iptables, "-w", "5", "-t", "nat", "-L", chain, "-n"}, {})) {
    return std::vector<DnatRule>{};  // no chain: no rules
  }
  auto listing = runner_.run({settings_.iptables, "-w", "5", "-t", "nat", "-S", chain}, {});
  if (!listing) {
    return listing.error();
  }
  return parse_listed_rules(*listing, to_address_);
}

Result<void> IptablesManager::remove() {
  // Every copy of the jump (a crashed predecessor may have left one), then the chain.
  for (int i = 0; i < 16 && runner_.run(jump_spec("-D"), {}); ++i) {
  }
  const std::string chain(kDnatChain);
  if (!runner_.run({settings_.iptables, "-w", "5", "-t", "nat", "-L", chain, "-n"}, {})) {
    return {};  // no chain: nothing to remove
  }
  if (auto r = runner_.run({settings_.iptables, "-w", "5", "-t", "nat", "-F", chain}, {}); !r) {
    return r.error();
  }
  if (auto r = runner_.run({settings_.iptables, "-w", "5", "-t", "nat", "-X", chain}, {}); !r) {
    return r.error();
  }
  return {};
}

}  // namespace yurt::tunnel_app
