// Memory held back from everyday use, as DescriptorReserve holds back
// descriptors: when an allocation fails, the reserve is given back so that
// the refusal can still be told (status, the log) and the next requests
// answered (status, rmdir) even when the failed one found the heap full.
// It is taken again once memory allows.
#pragma once

#include <cstddef>
#include <memory>

namespace kqfsd {

class MemoryReserve {
 public:
  static constexpr size_t kBytes = 1024 * 1024;

  MemoryReserve() { refill(); }

  // Out of memory: the reserve goes back to the heap.
  void release() noexcept { block_.reset(); }
  // Takes the reserve again if it was released and twice its size is free.
  void refill() noexcept;
  bool held() const { return block_ != nullptr; }

 private:
  std::unique_ptr<char[]> block_;
};

}  // namespace kqfsd
