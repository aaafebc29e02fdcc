// Kernel descriptors the tests and the benchmark make again and again: a
// non-blocking pipe, and reading what a descriptor has.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "kqfs/unique_fd.hpp"

namespace kqfs::test_support {

// A non-blocking, close-on-exec pipe; both ends empty if pipe2 failed.
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      read_end.reset(fds[0]);
      write_end.reset(fds[1]);
    }
  }
  bool ok() const { return static_cast<bool>(read_end); }
  int r() const { return read_end.get(); }
  int w() const { return write_end.get(); }
};

// Everything `fd` gives until end of file, an error or (non-blocking) no
// more data.
inline std::string read_all(int fd) {
  std::string text;
  char buffer[8192];
  ssize_t length;
  while ((length = ::read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<size_t>(length));
  return text;
}

}  // namespace kqfs::test_support
