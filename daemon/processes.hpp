// Who writes a change: the client process behind a FUSE request, and the
// way to its descriptors (pidfd_getfd), for descriptor idents.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "kqfs/resolver.hpp"

namespace kqfsd {

// The descriptor table of one client process, reached through its pidfd.
// Files on kqfs's own mount are refused: looking at them (fstat, poll,
// close) would send this single-threaded daemon a request to itself.
class ProcessResolver final : public kqfs::DescriptorResolver {
 public:
  ProcessResolver(pid_t pid, kqfs::UniqueFd pidfd, uint64_t own_mount_id)
      : pid_(pid), pidfd_(std::move(pidfd)), own_mount_id_(own_mount_id) {}

  kqfs::Result<kqfs::BorrowedFd> borrow(int fd) override;
  bool names_registered(int fd, int epfd, int registered_as) override;
  int process_id() const override { return pid_; }
  // Pids are the daemon's: a process in another pid namespace sees none.
  bool sees_process(int pid) const override;

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }

 private:
  kqfs::Result<kqfs::BorrowedFd> reopen(int fd, const std::string& fdinfo);

  const pid_t pid_;
  const kqfs::UniqueFd pidfd_;
  const uint64_t own_mount_id_;
  // Without ptrace access pidfd_getfd is refused; then /proc/PID/fd/N is
  // reopened (not for sockets), and identity falls back to the inode.
  bool reopening_ = false;
  std::map<int, std::pair<long long, long long>> reopened_;  // fd -> (mount, inode)
};

// The client processes seen so far, by process id.
class Processes {
 public:
  explicit Processes(uint64_t own_mount_id) : own_mount_id_(own_mount_id) {}

  // The process of thread `tid` (FUSE gives the thread, not the process).
  // `created` tells whether it is new, so the caller can watch its pidfd.
  kqfs::Result<std::shared_ptr<ProcessResolver>> of_thread(pid_t tid, bool& created);
  std::shared_ptr<ProcessResolver> find(pid_t pid) const {
    const auto found = processes_.find(pid);
    return found == processes_.end() ? nullptr : found->second;
  }
  void erase(pid_t pid) { processes_.erase(pid); }

 private:
  const uint64_t own_mount_id_;
  std::unordered_map<pid_t, std::shared_ptr<ProcessResolver>> processes_;
};

// The process (thread group) a thread belongs to, or -1.
pid_t process_of_thread(pid_t tid);

}  // namespace kqfsd
