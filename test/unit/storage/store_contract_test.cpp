// The Store contract, run against every implementation: MemoryStore must behave like DiskStore so
// hub tests written against it hold for the real cache.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "yurt/storage/disk_store.hpp"
#include "yurt/storage/memory_store.hpp"

#include "test/fakes/temp_dir.hpp"

namespace yurt::storage {
namespace {

std::unique_ptr<Store> make_store(const std::string& kind, const TempDir& dir) {
  if (kind == "MemoryStore") {
    return std::make_unique<MemoryStore>();
  }
  auto store = DiskStore::open(dir / "cache");
  EXPECT_TRUE(store) << store.error().what();
  return store ? std::move(*store) : nullptr;
}

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  TempDir dir_;
  std::unique_ptr<Store> store_ = make_store(GetParam(), dir_);
};

INSTANTIATE_TEST_SUITE_P(Stores,
                         StoreContract,
                         ::testing::Values("MemoryStore", "DiskStore"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

constexpr const char* kPodA = "kubelet/pods.v1.core/default/a";
constexpr const char* kPodB = "kubelet/pods.v1.core/default/b";
constexpr const char* kPodOther = "kubelet/pods.v1.core/kube-system/c";
constexpr const char* kTemplate = "kubelet/podtemplates.v1.core/default/a";
constexpr const char* kNode = "kubelet/nodes.v1.core/_/edge-1";

std::vector<std::string> keys_of(const std::vector<Object>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) {
    out.push_back(o.key);
  }
  return out;
}

TEST_P(StoreContract, PutGetOverwrite) {
  auto& s = *store_;
  ASSERT_TRUE(s.put(kPodA, "v1"));
  EXPECT_EQ(*s.get(kPodA).value(), "v1");
  const Value old = s.get(kPodA).value();
  ASSERT_TRUE(s.put(kPodA, "version-2"));
  EXPECT_EQ(*s.get(kPodA).value(), "version-2");
  EXPECT_EQ(*old, "v1");  // values handed out stay valid and unchanged
  EXPECT_EQ(s.stats().objects, 1U);
  EXPECT_EQ(s.stats().bytes, 9U);
}

TEST_P(StoreContract, MissingAndInvalidKeys) {
  auto& s = *store_;
  auto missing = s.get(kPodA);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::NotFound);
  EXPECT_NE(missing.error().message().find(kPodA), std::string::npos);

  for (const char* bad : {"../../etc/passwd", "a/b/c", "/abs/olu/te/x", "a/b/c/.tmp-x"}) {
    auto put = s.put(bad, "x");
    ASSERT_FALSE(put) << bad;
    EXPECT_EQ(put.error().code(), Errc::InvalidKey);
    EXPECT_EQ(s.get(bad).error().code(), Errc::InvalidKey);
    EXPECT_EQ(s.remove(bad).error().code(), Errc::InvalidKey);
  }
  EXPECT_EQ(s.stats().objects, 0U);
}

TEST_P(StoreContract, TooLarge) {
  auto& s = *store_;
  auto r = s.put(kPodA, std::string(kMaxObjectBytes + 1, 'x'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::TooLarge);
  EXPECT_EQ(s.stats().objects, 0U);
}

TEST_P(StoreContract, Remove) {
  auto& s = *store_;
  ASSERT_TRUE(s.put(kPodA, "a"));
  ASSERT_TRUE(s.remove(kPodA));
  EXPECT_EQ(s.get(kPodA).error().code(), Errc::NotFound);
  EXPECT_EQ(s.remove(kPodA).error().code(), Errc::NotFound);
  EXPECT_EQ(s.stats().objects, 0U);
  EXPECT_EQ(s.stats().bytes, 0U);
}

TEST_P(StoreContract, ListAndKeysAreSortedAndPrefixed) {
  auto& s = *store_;
  for (const char* k : {kTemplate, kPodOther, kPodB, kNode, kPodA}) {
    ASSERT_TRUE(s.put(k, k));
  }
  const auto pods = s.list("kubelet/pods.v1.core/");
  EXPECT_EQ(keys_of(pods), (std::vector<std::string>{kPodA, kPodB, kPodOther}));
  EXPECT_EQ(*pods[0].value, kPodA);
  EXPECT_EQ(s.keys("kubelet/pods.v1.core/default/"), (std::vector<std::string>{kPodA, kPodB}));
  EXPECT_EQ(s.keys("").size(), 5U);
  EXPECT_TRUE(s.list("kube-proxy/").empty());
  EXPECT_TRUE(s.list("zzz").empty());
}

TEST_P(StoreContract, PutIfSeesCurrentValue) {
  auto& s = *store_;
  // A resourceVersion-style guard: write only when newer than what is stored.
  auto newer_than_stored = [](int rv) {
    return [rv](const Value& current) { return current == nullptr || std::stoi(*current) < rv; };
  };
  EXPECT_TRUE(s.put_if(kPodA, "5", newer_than_stored(5)).value());
  EXPECT_FALSE(s.put_if(kPodA, "3", newer_than_stored(3)).value());
  EXPECT_EQ(*s.get(kPodA).value(), "5");
  EXPECT_TRUE(s.put_if(kPodA, "7", newer_than_stored(7)).value());
  EXPECT_EQ(*s.get(kPodA).value(), "7");
  EXPECT_EQ(s.put_if("bad", "x", newer_than_stored(1)).error().code(), Errc::InvalidKey);
}

TEST_P(StoreContract, ReplacePrefixWritesRemovesAndKeeps) {
  auto& s = *store_;
  ASSERT_TRUE(s.put(kPodA, "a1"));
  ASSERT_TRUE(s.put(kPodB, "b1"));
  ASSERT_TRUE(s.put(kTemplate, "t"));  // "kubelet/pod…" but another resource: untouched
  ASSERT_TRUE(s.put(kNode, "n"));

  auto summary =
      s.replace_prefix("kubelet/pods.v1.core/", {{kPodA, "a1"}, {kPodOther, "c1"}});  // b is stale
  ASSERT_TRUE(summary) << summary.error().what();
  EXPECT_EQ(summary->written, 1U);
  EXPECT_EQ(summary->unchanged, 1U);
  EXPECT_EQ(summary->removed, 1U);
  EXPECT_EQ(s.keys(""), (std::vector<std::string>{kNode, kPodA, kPodOther, kTemplate}));
  EXPECT_EQ(*s.get(kPodOther).value(), "c1");

  auto emptied = s.replace_prefix("kubelet/pods.v1.core/", {});
  ASSERT_TRUE(emptied);
  EXPECT_EQ(emptied->removed, 2U);
  EXPECT_EQ(s.keys(""), (std::vector<std::string>{kNode, kTemplate}));
}

TEST_P(StoreContract, ReplacePrefixRejectsBadInputWithoutChanges) {
  auto& s = *store_;
  ASSERT_TRUE(s.put(kPodA, "a"));
  auto outside = s.replace_prefix("kubelet/pods.v1.core/default/", {{kPodOther, "x"}});
  ASSERT_FALSE(outside);
  EXPECT_EQ(outside.error().code(), Errc::InvalidKey);
  auto partial = s.replace_prefix("kubelet/pod", {});
  ASSERT_FALSE(partial);
  EXPECT_EQ(partial.error().code(), Errc::InvalidKey);
  auto bad_key = s.replace_prefix("kubelet/", {{"kubelet/x/../y", "x"}});
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().code(), Errc::InvalidKey);
  auto too_big = s.replace_prefix(
      "kubelet/", {{kPodB, "b"}, {kPodOther, std::string(kMaxObjectBytes + 1, 'x')}});
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code(), Errc::TooLarge);
  EXPECT_EQ(s.keys(""), std::vector<std::string>{kPodA});
}

// Readers must see a replace entirely or not at all.
TEST_P(StoreContract, ReplaceIsAtomicForReaders) {
  auto& s = *store_;
  const std::string prefix = "kubelet/configmaps.v1.core/ns/";
  auto generation = [&](char tag) {
    std::map<std::string, std::string> objects;
    for (int i = 0; i < 8; ++i) {
      // Different key sets too: tag 'a' uses even names, 'b' odd ones.
      objects[prefix + "cm-" + std::to_string(2 * i + (tag == 'a' ? 0 : 1))] = std::string(1, tag);
    }
    return objects;
  };
  ASSERT_TRUE(s.replace_prefix(prefix, generation('a')));
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!done.load()) {
      const auto objects = s.list(prefix);
      if (objects.size() != 8) {
        ++torn;
      }
      for (const auto& o : objects) {
        if (*o.value != *objects.front().value) {
          ++torn;
        }
      }
      ++reads;
    }
  });
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(s.replace_prefix(prefix, generation(round % 2 == 0 ? 'b' : 'a')));
  }
  while (reads.load() < 10) {
    std::this_thread::yield();  // make sure the reader actually ran
  }
  done = true;
  reader.join();
  EXPECT_EQ(torn.load(), 0);
}

TEST_P(StoreContract, ConcurrentWritersAndReaders) {
  auto& s = *store_;
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 25;
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&s, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const auto key = "c" + std::to_string(w) + "/pods.v1.core/ns/p" + std::to_string(i);
        EXPECT_TRUE(s.put(key, std::to_string(i)));
        EXPECT_TRUE(s.get(key));
        (void)s.list("c");
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(s.stats().objects, static_cast<std::size_t>(kWriters * kPerWriter));
}

}  // namespace
}  // namespace yurt::storage
