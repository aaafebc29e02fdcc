#include "daemon/memory_reserve.hpp"

#include <cstring>
#include <new>

namespace kqfsd {

void MemoryReserve::refill() noexcept {
  if (block_) return;
  // Only once memory is plentiful again: a reserve taken back at once would
  // leave the next request (status, rmdir) as short as the one that failed.
  if (const std::unique_ptr<char[]> probe(new (std::nothrow) char[2 * kBytes]); !probe) return;
  block_.reset(new (std::nothrow) char[kBytes]);
  // Touched, so that it is memory and not only address space.
  if (block_) std::memset(block_.get(), 0, kBytes);
}

}  // namespace kqfsd
