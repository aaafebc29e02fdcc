#include "kqfs/linux/resolver.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace kqfs {

Result<BorrowedFd> InProcessResolver::borrow(int fd) {
  if (fd < 0 || ::fcntl(fd, F_GETFD) < 0) return Errno{EBADF};
  return BorrowedFd::unowned(fd);
}

bool InProcessResolver::names_registered(int fd, int epfd, int registered_as) {
  return process_fd_names_registered(own_pid(), fd, epfd, registered_as);
}

int InProcessResolver::process_id() const {
  return own_pid();
}

namespace {

std::atomic<pid_t> cached_pid{0};

void forget_pid() {
  cached_pid.store(0, std::memory_order_relaxed);
}

}  // namespace

pid_t own_pid() {
  static const bool registered = ::pthread_atfork(nullptr, nullptr, forget_pid) == 0;
  pid_t pid = cached_pid.load(std::memory_order_relaxed);
  if (pid == 0 || !registered) {
    pid = ::getpid();
    cached_pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

bool DescriptorResolver::sees_process(int pid) const {
  // EPERM: it exists but may not be signalled, which is still "seen".
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

int check_sees_process(DescriptorResolver& caller, uint64_t pid, std::string& why) {
  if (pid == 0 || pid > INT32_MAX || !caller.sees_process(static_cast<int>(pid))) return ESRCH;
  return caller.may_see(static_cast<int>(pid), why);
}

bool process_fd_names_registered(int pid, int fd, int epfd, int registered_as) {
  kcmp_epoll_slot slot{static_cast<uint32_t>(epfd), static_cast<uint32_t>(registered_as), 0};
  const long same = ::syscall(SYS_kcmp, pid, own_pid(), KCMP_EPOLL_TFD, fd,
                              reinterpret_cast<unsigned long>(&slot));
  return same == 0;
}

bool same_open_file(int a, int b) {
  return ::syscall(SYS_kcmp, own_pid(), own_pid(), KCMP_FILE, a, b) == 0;
}

}  // namespace kqfs
