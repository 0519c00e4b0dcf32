#include "yurt/base/memory.hpp"

#include <cstdlib>  // defines __GLIBC__ (through <features.h>) for the test below
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace yurt {

void release_free_heap() noexcept {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace yurt
