// Failed system calls become exceptions: a benchmark cannot go on without
// the objects it measures.
#pragma once

#include <sys/epoll.h>

#include <cerrno>
#include <cstdint>
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

// Adds `fd` to `epoll` for `events`, `data` its tag; throws if it cannot.
inline void epoll_add(int epoll, int fd, uint32_t events, uint64_t data = 0) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = data;
  if (::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) != 0) throw_errno("epoll_ctl");
}

}  // namespace kqfs::bench
