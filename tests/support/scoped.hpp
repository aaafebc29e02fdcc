// Kernel state a test, the stress tool or the benchmark holds for a scope:
// a signal's disposition, a pipe. Shared so that each exists once.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "kqfs/unique_fd.hpp"

namespace kqfs::testkit {

// A handler (or SIG_IGN, SIG_DFL) as a sigaction with an empty mask.
inline struct sigaction action_of(void (*handler)(int), int flags = 0) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = flags;
  return action;
}

// A signal's disposition for the life of the object; the previous one after.
class ScopedSignalAction {
 public:
  ScopedSignalAction(int signal, const struct sigaction& action) : signal_(signal) {
    ::sigaction(signal_, &action, &previous_);
  }
  ~ScopedSignalAction() { ::sigaction(signal_, &previous_, nullptr); }
  ScopedSignalAction(const ScopedSignalAction&) = delete;
  ScopedSignalAction& operator=(const ScopedSignalAction&) = delete;

 private:
  int signal_;
  struct sigaction previous_ {};
};

// Both ends of a non-blocking, close-on-exec pipe.
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
  int r() const { return read_end.get(); }
  int w() const { return write_end.get(); }
};

}  // namespace kqfs::testkit
