#include "yurt/base/memory.hpp"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace yurt {
namespace {

[[maybe_unused]] long rss_kib() {  // unused where the test is skipped
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

// Free heap in the middle of the heap (pinned by a live block above it) is what malloc keeps as
// RSS: only release_free_heap() gives it back.
TEST(ReleaseFreeHeap, GivesFreedHeapPagesBackToTheSystem) {
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
  GTEST_SKIP() << "only glibc's allocator keeps free heap this way (ASan has its own)";
#else
  constexpr std::size_t kBlock = 16 * 1024;  // below the mmap threshold: from the heap
  constexpr std::size_t kBlocks = 2048;      // 32 MiB
  std::vector<char*> blocks;
  blocks.reserve(kBlocks);
  for (std::size_t i = 0; i < kBlocks; ++i) {
    blocks.push_back(static_cast<char*>(std::malloc(kBlock)));
    std::memset(blocks.back(), 1, kBlock);  // resident
  }
  char* pin = blocks.back();  // the highest block stays: the others cannot be trimmed off the top
  blocks.pop_back();
  for (char* block : blocks) {
    std::free(block);
  }
  const long kept = rss_kib();
  release_free_heap();
  const long released = rss_kib();
  std::free(pin);
  EXPECT_GT(kept - released, 16 * 1024)
      << "RSS " << kept << " KiB before, " << released << " KiB after";
#endif
}

}  // namespace
}  // namespace yurt
