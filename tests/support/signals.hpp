// Signal state for the scope of a test or a benchmark case: a disposition
// (caught, ignored) or a signal blocked in the calling thread. Shared by the
// unit tests, the client tests and the benchmark.
#pragma once

#include <pthread.h>
#include <signal.h>

namespace kqfs::test_support {

// A signal's disposition, restored at the end of the scope.
class ScopedSignalAction {
 public:
  ScopedSignalAction(int signal, const struct sigaction& action) : signal_(signal) {
    ::sigaction(signal_, &action, &previous_);
  }
  // `handler` (or SIG_IGN, SIG_DFL) with an empty mask and `flags`.
  ScopedSignalAction(int signal, void (*handler)(int), int flags = SA_RESTART)
      : ScopedSignalAction(signal, action_for(handler, flags)) {}
  ~ScopedSignalAction() { ::sigaction(signal_, &previous_, nullptr); }
  ScopedSignalAction(const ScopedSignalAction&) = delete;
  ScopedSignalAction& operator=(const ScopedSignalAction&) = delete;

 private:
  static struct sigaction action_for(void (*handler)(int), int flags) {
    struct sigaction action {};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = flags;
    return action;
  }

  int signal_;
  struct sigaction previous_ {};
};

// A signal blocked in this thread, the thread's mask restored at the end of
// the scope.
class BlockedSignal {
 public:
  explicit BlockedSignal(int signal) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    ::pthread_sigmask(SIG_BLOCK, &set, &saved_);
  }
  ~BlockedSignal() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  BlockedSignal(const BlockedSignal&) = delete;
  BlockedSignal& operator=(const BlockedSignal&) = delete;

 private:
  sigset_t saved_;
};

}  // namespace kqfs::test_support
