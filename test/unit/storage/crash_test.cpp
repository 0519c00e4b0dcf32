// Crash safety of DiskStore (architecture D2): a child process writes objects in a loop and is
// SIGKILLed at random moments; after every kill the store must open cleanly and hold, for every
// object, exactly the version the write sequence implies — never a torn or mixed one.
//
// Sequence design (the child records nothing): write number s (s = 1, 2, …) stores object
// s mod kObjects with content(s), a JSON document whose size and padding derive from s. Writes are
// sequential and a put() returns only after its rename, so if M is the highest sequence number
// found after a crash, every write ≤ M completed and none after it did: object k must hold the
// largest s ≤ M with s ≡ k (mod kObjects), byte for byte — the version before the interrupted
// write, or the one being written if its rename made it. A restarted child resumes at M + 1.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "yurt/storage/disk_store.hpp"

#include "test/fakes/temp_dir.hpp"

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace yurt::storage {
namespace {

constexpr std::uint64_t kObjects = 16;
constexpr int kKills = 200;
constexpr std::uint64_t kDefaultSeed = 20240917;
constexpr std::size_t kMaxPad = 64 * 1024;

std::uint64_t mix(std::uint64_t x) {  // splitmix64 finalizer: sizes spread over the range
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27U)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31U);
}

std::string key_of(std::uint64_t object) {
  return "crash/configmaps.v1.core/ns/obj-" + std::to_string(object);
}

std::string content(std::uint64_t seq) {
  const std::size_t pad = mix(seq) % kMaxPad;
  return R"({"seq":)" + std::to_string(seq) + R"(,"object":)" + std::to_string(seq % kObjects) +
         R"(,"pad":")" + std::string(pad, static_cast<char>('a' + seq % 26)) + "\"}";
}

// The number at the front of content(). Cheap on purpose: parsing 1 MiB of JSON per start in a
// Debug build would eat the child's whole life before its first write. The parent still proves
// every object is JSON (validator) and byte-identical to content(seq).
std::optional<std::uint64_t> leading_seq(const std::string& bytes) {
  constexpr std::string_view kHead = R"({"seq":)";
  if (!std::string_view(bytes).starts_with(kHead)) {
    return std::nullopt;
  }
  return std::strtoull(bytes.c_str() + kHead.size(), nullptr, 10);
}

[[noreturn]] void child_main(const std::filesystem::path& root) {
  auto opened = DiskStore::open(root);
  if (!opened) {
    _exit(2);
  }
  auto& store = **opened;
  std::uint64_t seq = 0;
  for (const auto& o : store.list("")) {
    const auto found = leading_seq(*o.value);
    if (!found) {
      _exit(4);
    }
    seq = std::max(seq, *found);
  }
  for (;;) {
    ++seq;
    if (!store.put(key_of(seq % kObjects), content(seq))) {
      _exit(3);
    }
  }
}

Result<void> must_be_json(std::string_view /*key*/, std::string_view bytes) {
  if (!nlohmann::json::accept(bytes)) {
    return fail(Errc::Corrupt, "not JSON");
  }
  return {};
}

std::uint64_t seed_from_env() {
  const char* env = std::getenv("YURT_CRASH_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : kDefaultSeed;
}

TEST(DiskStoreCrash, EveryObjectIsOldOrNewAfterSigkill) {
  const std::uint64_t seed = seed_from_env();
  std::cout << "crash test seed " << seed << " (set YURT_CRASH_SEED to vary)\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 random(seed);
  // Kill delays log-uniform over 50 µs … 30 ms: early kills land in open(), later ones in the
  // middle of writes, renames and directory fsyncs.
  std::uniform_real_distribution<double> log_delay(std::log(50.0), std::log(30000.0));

  TempDir dir;
  const auto root = dir / "cache";
  std::uint64_t last_max = 0;
  std::size_t interrupted_writes = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    const auto delay = std::chrono::microseconds(static_cast<long>(std::exp(log_delay(random))));
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << "fork failed";
    if (pid == 0) {
      child_main(root);
    }
    std::this_thread::sleep_for(delay);  // the random moment is the point of this test
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "child ended on its own (status " << status
        << "): exit 2 = open failed, 3 = put failed, 4 = foreign content";

    auto opened = DiskStore::open(root, DiskStoreOptions{.validator = must_be_json});
    ASSERT_TRUE(opened) << "kill " << kill << ": " << opened.error().what();
    auto& store = **opened;
    const auto& report = store.open_report();
    for (const auto& j : report.junk) {
      ADD_FAILURE() << "kill " << kill << " after " << delay.count() << "us: junk " << j.path
                    << ": " << j.reason;
    }
    interrupted_writes += report.removed_temp_files.empty() ? 0 : 1;

    std::uint64_t max_seq = 0;
    for (const auto& o : store.list("")) {
      const auto found = leading_seq(*o.value);
      ASSERT_TRUE(found) << "kill " << kill << ": " << o.key << " is not ours";
      max_seq = std::max(max_seq, *found);
    }
    ASSERT_GE(max_seq, last_max) << "kill " << kill << ": a completed write was lost";
    last_max = max_seq;
    for (std::uint64_t k = 0; k < kObjects; ++k) {
      // Largest s <= max_seq with s ≡ k (mod kObjects), s >= 1; none → never written.
      std::uint64_t want = 0;
      if (max_seq >= k) {
        want = max_seq - ((max_seq - k) % kObjects);
      }
      auto got = store.get(key_of(k));
      if (want == 0) {
        EXPECT_FALSE(got) << "kill " << kill << ": object " << k
                          << " exists before its first write";
        continue;
      }
      ASSERT_TRUE(got) << "kill " << kill << ": object " << k << " missing, want seq " << want;
      EXPECT_EQ(**got, content(want))
          << "kill " << kill << ": object " << k << " holds seq " << leading_seq(**got).value_or(0)
          << ", want " << want << " (max " << max_seq << ")";
    }
    if (::testing::Test::HasFailure()) {
      std::cout << "failed at kill " << kill << " with seed " << seed << "\n";
      return;
    }
  }
  std::cout << kKills << " kills; " << last_max << " writes completed; " << interrupted_writes
            << " kills left a temp file (interrupted mid-write)\n";
  EXPECT_GT(last_max, 0U) << "the child never completed a write: the test tested nothing";
}

}  // namespace
}  // namespace yurt::storage
