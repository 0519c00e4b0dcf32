#pragma once

namespace yurt {

/// Gives the allocator's free heap pages back to the system (glibc `malloc_trim`; a no-op with
/// other C libraries). For the moment after a burst of transient allocations — a large body
/// parsed, a thousand TLS handshakes — whose freed pages glibc would otherwise keep as RSS until
/// a similar burst comes. Costs a walk of the heap: call it after bursts, not per request.
void release_free_heap() noexcept;

}  // namespace yurt
