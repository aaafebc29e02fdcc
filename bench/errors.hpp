// Failed system calls become exceptions: a benchmark cannot go on without
// the objects it measures.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace kqfs::bench {

// Throws std::system_error with the current errno and `what` failed.
[[noreturn]] inline void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// Throws std::system_error with an errno returned rather than set.
[[noreturn]] inline void throw_error(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

}  // namespace kqfs::bench
