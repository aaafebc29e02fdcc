// Who writes a change: the client process behind a FUSE request, and the
// way to its descriptors (pidfd_getfd), for descriptor idents.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "daemon/credentials.hpp"
#include "daemon/foreign_files.hpp"
#include "kqfs/kqueue.hpp"
#include "kqfs/linux/resolver.hpp"

namespace kqfsd {

// The queue behind an inode of kqfs's own tree (a kqueue handle or an
// events file), or null.
using OwnQueues = std::function<const kqfs::Kqueue*(uint64_t inode)>;

// The descriptor table of one client process, reached through its pidfd.
// Files on kqfs's own mount are never borrowed: looking at them (fstat,
// poll, close) would send this single-threaded daemon a request to itself.
// A kqueue handle or events file stands for its queue instead (nesting).
// Files of other FUSE filesystems are not borrowed either: their servers
// could stall the daemon (ENOTSUP, docs/security.md).
class ProcessResolver final : public kqfs::DescriptorResolver {
 public:
  ProcessResolver(pid_t pid, kqfs::UniqueFd pidfd, uint64_t own_mount_id, OwnQueues own_queues,
                  std::shared_ptr<MountTypes> mounts)
      : pid_(pid),
        pidfd_(std::move(pidfd)),
        own_mount_id_(own_mount_id),
        own_queues_(std::move(own_queues)),
        mounts_(std::move(mounts)) {}

  kqfs::Result<kqfs::BorrowedFd> borrow(int fd) override;
  // Skips reading fdinfo: the file was vetted when it was registered, and
  // the duplicate is that file (kcmp), or is vetted again.
  kqfs::Result<kqfs::BorrowedFd> borrow_registered(int fd, int epfd, int registered_as) override;
  bool names_registered(int fd, int epfd, int registered_as) override;
  std::string take_refusal() override { return std::exchange(refusal_, {}); }
  int process_id() const override { return pid_; }
  // Pids are the daemon's: a process in another pid namespace sees none.
  bool sees_process(int pid) const override;

  // The checks of a daemon serving other users, with the credentials of the
  // request being served (set per request: threads may differ).
  int may_read(int borrowed_fd, std::string& why) override {
    return CredentialChecks::may_read(credentials_, borrowed_fd, why);
  }
  int may_see(int pid, std::string& why) override {
    return CredentialChecks::may_see_process(credentials_, pid_, pid, why);
  }
  void serve_as(Credentials credentials) { credentials_ = std::move(credentials); }

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  bool exited() const;

 private:
  // The errno, with why in refusal_ when the errno alone would not say (the
  // daemon out of descriptors, the writer out of reach).
  kqfs::Errno failed(int error, std::string why);
  kqfs::Result<kqfs::BorrowedFd> reopen(int fd, const std::string& fdinfo);
  kqfs::Result<kqfs::BorrowedFd> taken(kqfs::UniqueFd mine, uint64_t vetted_mount);
  // 0, or the errno refusing a file on mount `mount` (reason in refusal_).
  int refused(uint64_t mount, const char* link);

  const pid_t pid_;
  const kqfs::UniqueFd pidfd_;
  bool same_identity(int fd) const;
  // Whether the writer is in the daemon's pid namespace, where the pids it
  // names are the daemon's.
  bool in_our_pid_namespace() const;

  const uint64_t own_mount_id_;
  const OwnQueues own_queues_;
  const std::shared_ptr<MountTypes> mounts_;
  std::string refusal_;  // why the last borrow failed or was refused, for status
  // Without ptrace access pidfd_getfd is refused; then /proc/PID/fd/N is
  // reopened (not for sockets). Reopened files, and kqfs's own, are not the
  // files registered, so they are known by (mount, inode) instead.
  bool reopening_ = false;
  std::map<int, std::pair<long long, long long>> by_inode_;
  Credentials credentials_;
};

// Stands for the writer of a record that asks nothing of it (a timer, a
// user event), so that such a record needs no look at the writer at all.
class NoCaller final : public kqfs::DescriptorResolver {
 public:
  kqfs::Result<kqfs::BorrowedFd> borrow(int) override { return kqfs::Errno{EBADF}; }
  bool names_registered(int, int, int) override { return false; }
  int process_id() const override { return 0; }
  bool sees_process(int) const override { return false; }
};

// The client processes seen so far, by process id.
class ClientProcesses {
 public:
  ClientProcesses(uint64_t own_mount_id, OwnQueues own_queues)
      : own_mount_id_(own_mount_id), own_queues_(std::move(own_queues)) {}

  // The process of thread `tid` (FUSE gives the thread, not the process).
  // `created` tells whether it is new, so the caller can watch its pidfd.
  kqfs::Result<std::shared_ptr<ProcessResolver>> of_thread(pid_t tid, bool& created);
  // Process `pid` itself, named by a writer as the owner of a descriptor:
  // ESRCH when there is none (or `pid` is a thread other than its
  // process's first), with the reason in failure().
  kqfs::Result<std::shared_ptr<ProcessResolver>> of_process(pid_t pid, bool& created);
  std::shared_ptr<ProcessResolver> find(pid_t pid) const {
    const auto found = processes_.find(pid);
    return found == processes_.end() ? nullptr : found->second;
  }
  // The process exited: it and its threads are forgotten.
  void erase(pid_t pid);
  // Why the last of_thread() failed.
  const std::string& failure() const { return failure_; }

  // Threads other than main ones whose process is remembered, at most.
  static constexpr size_t kKnownThreads = 256;

 private:
  // A thread's process: its main thread's id is the process's, and a known
  // process is alive; any other thread is looked up in /proc once, then
  // known while its pidfd (PIDFD_THREAD) says it has not exited, as its id
  // may then name a thread of another process.
  kqfs::Result<pid_t> process_of(pid_t tid);
  // The resolver of process `pid`: the known one, or a new one (`created`)
  // known from now on; the errno of pidfd_open otherwise, with failure_ set.
  kqfs::Result<std::shared_ptr<ProcessResolver>> known_or_new(pid_t pid, bool& created);
  struct KnownThread {
    kqfs::UniqueFd pidfd;
    pid_t pid;
  };

  std::string failure_;
  const uint64_t own_mount_id_;
  const OwnQueues own_queues_;
  const std::shared_ptr<MountTypes> mounts_ = std::make_shared<MountTypes>();
  std::unordered_map<pid_t, std::shared_ptr<ProcessResolver>> processes_;
  std::unordered_map<pid_t, KnownThread> threads_;
  uint64_t lookups_when_full_ = 0;  // past the bound, exited threads go now and then
};

// A pidfd of process `pid` (a thread group's leader), or -1 with errno.
int open_pidfd(pid_t pid);
// Whether the kernel has pidfd_getfd and PIDFD_THREAD, tried on the daemon
// itself: empty, or why not (the mount's status).
std::string pidfd_getfd_probe();
std::string pidfd_thread_probe();
// Whether the process or thread of `pidfd` has exited (its pidfd is readable).
bool has_exited(int pidfd);

// The process (thread group) a thread belongs to, or -1.
pid_t process_of_thread(pid_t tid);
// The same, or ESRCH (thread gone) or EMFILE/ENFILE/ENOMEM with `why` set.
kqfs::Result<pid_t> thread_group_of(pid_t tid, std::string& why);

}  // namespace kqfsd
