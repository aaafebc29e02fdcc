#include "kqfs/ownership.hpp"

#include <limits>

namespace kqfs {

int check_caller_descriptor(uint64_t ident, const Caller& caller) {
  if (ident > static_cast<uint64_t>(std::numeric_limits<int>::max())) return EBADF;
  return caller->borrow(static_cast<int>(ident)).error();
}

}  // namespace kqfs
