// Failed system calls become exceptions: a benchmark cannot go on without
// the objects it measures. Also the calls the cases make most, checked.
#pragma once

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "kqfs/unique_fd.hpp"

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

// Opens `path` close-on-exec; throws if it cannot.
inline UniqueFd open_or_throw(const std::string& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd) throw_errno("open " + path);
  return fd;
}

// One write() of `bytes` (retried on EINTR); throws unless it took them
// all. `what` names the file (a C string: no allocation per call).
inline void write_exactly(int fd, std::string_view bytes, const char* what) {
  ssize_t written;
  do {
    written = ::write(fd, bytes.data(), bytes.size());
  } while (written < 0 && errno == EINTR);
  if (written < 0) throw_errno(std::string("write ") + what);
  if (static_cast<size_t>(written) != bytes.size()) {
    throw std::system_error(EIO, std::generic_category(), std::string("short write to ") + what);
  }
}

}  // namespace kqfs::bench
