#include "daemon/processes.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "kqfs/linux/procfs.hpp"

namespace kqfsd {
namespace {

bool daemon_is_short(int error) {
  return error == EMFILE || error == ENFILE || error == ENOMEM;
}

// Why the daemon could not do its part, for status and the log.
std::string shortage(int error) {
  return error == ENOMEM ? "daemon out of memory" : "daemon out of descriptors";
}

// The kernel lets the daemon at a writer's descriptors only with ptrace
// access: a non-dumpable writer (prctl PR_SET_DUMPABLE 0, setuid programs)
// needs a daemon with CAP_SYS_PTRACE.
constexpr const char* kUnreachable =
    "writer's descriptors out of the daemon's reach: writer not dumpable, or ptrace denied";

// A field of /proc/PID/fdinfo/FD (or status): the number after "name:"
// (octal with a leading 0, as fdinfo's flags), or -1.
long long number_field(std::string_view text, std::string_view name) {
  return kqfs::procfs::number_of(text, name, 0).value_or(-1);
}

// The file's mount and inode, from fdinfo (never from stat, which would ask
// the file's filesystem, maybe this daemon itself).
std::pair<long long, long long> file_identity(std::string_view info) {
  return {number_field(info, "mnt_id:"), number_field(info, "ino:")};
}

// An fdinfo's text, or empty with `error` set: an empty file as ENOENT.
std::string fdinfo_of(pid_t pid, int fd, int& error) {
  auto info = kqfs::procfs::read_file(kqfs::procfs::fdinfo_path(pid, fd));
  error = info ? (info->empty() ? ENOENT : 0) : info.error();
  return info ? std::move(info.value()) : std::string();
}

// A pidfd of one thread (Linux 6.9): readable once that thread exits.
int open_thread_pidfd(pid_t tid) {
  constexpr unsigned kPidfdThread = O_EXCL;  // PIDFD_THREAD, not in older headers
  return static_cast<int>(::syscall(SYS_pidfd_open, tid, kPidfdThread));
}

int take_fd(int pidfd, int fd) {
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, fd, 0));
}

}  // namespace

// glibc 2.36's <sys/pidfd.h> lacks C linkage for C++: call the kernel.
int open_pidfd(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

std::string pidfd_getfd_probe() {
  // Its own pidfd taken from itself: the kernel's answer without ptrace.
  const kqfs::UniqueFd self(open_pidfd(::getpid()));
  if (!self) return std::string("no pidfd: ") + std::strerror(errno);
  const kqfs::UniqueFd taken(take_fd(self.get(), self.get()));
  if (taken) return {};
  return errno == ENOSYS ? "the kernel has no pidfd_getfd (Linux 5.6)"
                         : std::string("pidfd_getfd: ") + std::strerror(errno);
}

std::string pidfd_thread_probe() {
  const kqfs::UniqueFd thread(open_thread_pidfd(::getpid()));
  if (thread) return {};
  return errno == EINVAL ? "the kernel has no PIDFD_THREAD (Linux 6.9)"
                         : std::string("pidfd_open(PIDFD_THREAD): ") + std::strerror(errno);
}

bool has_exited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

kqfs::Result<pid_t> thread_group_of(pid_t tid, std::string& why) {
  const auto status = kqfs::procfs::read_file(kqfs::procfs::path_of(tid, "status"));
  const int error = status ? 0 : status.error();
  const auto pid = static_cast<pid_t>(status ? number_field(*status, "Tgid:") : -1);
  if (pid > 0) return pid;
  if (daemon_is_short(error)) {
    why = shortage(error);
    return kqfs::Errno{error};
  }
  why = "writer " + std::to_string(tid) + " is gone";
  return kqfs::Errno{ESRCH};
}

pid_t process_of_thread(pid_t tid) {
  std::string ignored;
  auto pid = thread_group_of(tid, ignored);
  return pid ? pid.value() : -1;
}

// The reason goes where the engine asks for it (take_refusal).
kqfs::Errno ProcessResolver::failed(int error, std::string why) {
  refusal_ = std::move(why);
  return kqfs::Errno{error};
}

kqfs::Result<kqfs::BorrowedFd> ProcessResolver::borrow(int fd) {
  if (fd < 0) return kqfs::Errno{EBADF};
  // fdinfo is read without touching the file itself.
  int error = 0;
  const std::string info = fdinfo_of(pid_, fd, error);
  if (info.empty()) {
    if (daemon_is_short(error)) return failed(error, shortage(error));
    if (error == EACCES || error == EPERM) return failed(EACCES, kUnreachable);
    return kqfs::Errno{EBADF};
  }
  const auto mount = static_cast<uint64_t>(number_field(info, "mnt_id:"));
  if (mount == own_mount_id_) {
    const kqfs::Kqueue* inner = own_queues_(static_cast<uint64_t>(number_field(info, "ino:")));
    if (inner == nullptr) return kqfs::Errno{EINVAL};  // a changes or status file
    by_inode_[fd] = file_identity(info);
    return kqfs::BorrowedFd::queue(inner->readiness_fd(), static_cast<int64_t>(inner->pending()));
  }
  // Refused before anything is taken: even closing a duplicate of a FUSE
  // file waits on its server.
  const std::string path = kqfs::procfs::fd_path(pid_, fd);
  if (const int error = refused(mount, path.c_str()); error != 0) return kqfs::Errno{error};
  if (!reopening_) {
    const int mine = take_fd(pidfd_.get(), fd);
    if (mine >= 0) return taken(kqfs::UniqueFd(mine), mount);
    if (daemon_is_short(errno)) return failed(errno, shortage(errno));
    if (errno != EPERM) return kqfs::Errno{errno == ESRCH ? EBADF : errno};
    reopening_ = true;
  }
  return reopen(fd, info);
}

kqfs::Result<kqfs::BorrowedFd> ProcessResolver::borrow_registered(int fd, int epfd,
                                                                  int registered_as) {
  if (reopening_ || by_inode_.contains(fd)) return borrow(fd);
  kqfs::UniqueFd mine(take_fd(pidfd_.get(), fd));
  if (!mine) return daemon_is_short(errno) ? failed(errno, shortage(errno)) : kqfs::Errno{EBADF};
  // The number may name another file since it was matched: the duplicate is
  // the registered file, vetted then, or it is looked at again.
  if (kqfs::process_fd_names_registered(kqfs::own_pid(), mine.get(), epfd, registered_as)) {
    return kqfs::BorrowedFd::owned(std::move(mine));
  }
  return taken(std::move(mine), 0);
}

int ProcessResolver::refused(uint64_t mount, const char* link) {
  Refusal refusal = mounts_->vet(mount, pid_, link);
  if (refusal.error != 0) refusal_ = std::move(refusal.why);
  return refusal.error;
}

// The caller may replace its descriptor between the look at its fdinfo and
// the taking (dup2 in another thread): the file taken is vetted again, by
// our own fdinfo. One that may not be touched is closed on another thread.
kqfs::Result<kqfs::BorrowedFd> ProcessResolver::taken(kqfs::UniqueFd mine, uint64_t vetted_mount) {
  errno = 0;
  const uint64_t mount = mount_of_descriptor(0, mine.get());
  if (mount != 0 && mount == vetted_mount) return kqfs::BorrowedFd::owned(std::move(mine));
  if (mount == 0 && daemon_is_short(errno)) {
    // No descriptor left to read our own fdinfo with: the file is unvetted.
    const int error = errno;
    close_elsewhere(std::move(mine));
    return failed(error, shortage(error));
  }
  int error = EBADF;
  if (mount == own_mount_id_) {
    refusal_ = "the descriptor was replaced by a kqfs file while kqfsd looked at it";
    error = EAGAIN;
  } else if (mount != 0) {
    error = refused(mount, kqfs::procfs::fd_path(0, mine.get()).c_str());
    if (error == 0) return kqfs::BorrowedFd::owned(std::move(mine));
  }
  close_elsewhere(std::move(mine));
  return kqfs::Errno{error};
}

// Opened first as a path only (no open request reaches the file's server),
// vetted, then opened for real through that path: the number cannot be
// swapped in between.
kqfs::Result<kqfs::BorrowedFd> ProcessResolver::reopen(int fd, const std::string& info) {
  kqfs::UniqueFd located(::open(kqfs::procfs::fd_path(pid_, fd).c_str(), O_PATH | O_CLOEXEC));
  if (!located) return kqfs::Errno{EACCES};
  const uint64_t mount = mount_of_descriptor(0, located.get());
  const std::string path = kqfs::procfs::fd_path(0, located.get());
  if (mount == own_mount_id_) return kqfs::Errno{EAGAIN};  // swapped for a kqfs file
  if (const int error = refused(mount, path.c_str()); error != 0) return kqfs::Errno{error};
  const int access_mode = static_cast<int>(number_field(info, "flags:")) & O_ACCMODE;
  kqfs::UniqueFd mine(::open(path.c_str(), access_mode | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!mine) {
    if (daemon_is_short(errno)) return failed(errno, shortage(errno));
    if (errno == ENXIO) return failed(ENOTSUP, "a socket cannot be reopened through /proc");
    return failed(EACCES, kUnreachable);
  }
  by_inode_[fd] = file_identity(info);
  return kqfs::BorrowedFd::owned(std::move(mine));
}

bool ProcessResolver::same_identity(int fd) const {
  const auto known = by_inode_.find(fd);
  if (known == by_inode_.end()) return false;
  int error = 0;
  return file_identity(fdinfo_of(pid_, fd, error)) == known->second;
}

// A number once borrowed by inode may since name a file borrowed the
// usual way: the inode is tried first, then kcmp.
bool ProcessResolver::names_registered(int fd, int epfd, int registered_as) {
  return same_identity(fd) ||
         (!reopening_ && kqfs::process_fd_names_registered(pid_, fd, epfd, registered_as));
}

bool ProcessResolver::exited() const {
  return has_exited(pidfd_.get());
}

bool ProcessResolver::in_our_pid_namespace() const {
  struct stat caller_namespace {};
  struct stat own_namespace {};
  if (::stat(kqfs::procfs::path_of(pid_, "ns/pid").c_str(), &caller_namespace) == 0) {
    return ::stat("/proc/self/ns/pid", &own_namespace) == 0 &&
           caller_namespace.st_ino == own_namespace.st_ino &&
           caller_namespace.st_dev == own_namespace.st_dev;
  }
  // The link is shown only to whoever may ptrace the writer: a daemon
  // without CAP_SYS_PTRACE may not, for a writer with capabilities it
  // lacks (a root shell) or another uid's. The depth tells instead: FUSE
  // gives the writer's pid in the daemon's namespace (0 for a process
  // outside it), so the writer's is the daemon's or one nested in it, and
  // the daemon's exactly when it is as deep.
  if (errno != EACCES && errno != EPERM) return false;
  const auto caller_levels = kqfs::procfs::pid_namespace_levels(pid_);
  const auto own_levels = kqfs::procfs::pid_namespace_levels(0);
  return caller_levels && own_levels && *caller_levels == *own_levels;
}

bool ProcessResolver::sees_process(int pid) const {
  return in_our_pid_namespace() && DescriptorResolver::sees_process(pid);
}

kqfs::Result<std::shared_ptr<ProcessResolver>> ClientProcesses::of_thread(pid_t tid,
                                                                          bool& created) {
  created = false;
  failure_.clear();
  // A process's id is its main thread's, held until the whole process is
  // reaped; a known process is alive (its exit, seen on its pidfd, erases
  // it). So a known id names that process: no look at /proc/TID/status.
  if (auto known = processes_.find(tid); known != processes_.end()) return known->second;
  auto group = process_of(tid);
  if (!group) return kqfs::Errno{group.error()};
  return known_or_new(group.value(), created);
}

kqfs::Result<std::shared_ptr<ProcessResolver>> ClientProcesses::of_process(pid_t pid,
                                                                           bool& created) {
  created = false;
  failure_.clear();
  auto adopted = known_or_new(pid, created);
  if (!adopted && !daemon_is_short(adopted.error())) {
    // pidfd_open takes only a process's first thread (EINVAL otherwise, or
    // ENOENT since Linux 6.9): BSD pids name processes.
    const bool thread = adopted.error() == EINVAL || adopted.error() == ENOENT;
    failure_ = thread ? "thread " + std::to_string(pid) + " is not a process (its first thread)"
                      : "no process " + std::to_string(pid);
    return kqfs::Errno{ESRCH};
  }
  return adopted;
}

kqfs::Result<std::shared_ptr<ProcessResolver>> ClientProcesses::known_or_new(pid_t pid,
                                                                             bool& created) {
  if (auto known = processes_.find(pid); known != processes_.end()) return known->second;
  kqfs::UniqueFd pidfd(open_pidfd(pid));
  if (!pidfd) {
    const int error = errno;
    failure_ = daemon_is_short(error)
                   ? shortage(error)
                   : "no pidfd for writer " + std::to_string(pid) + ": " + std::strerror(error);
    return kqfs::Errno{error};
  }
  auto resolver =
      std::make_shared<ProcessResolver>(pid, std::move(pidfd), own_mount_id_, own_queues_, mounts_);
  processes_.emplace(pid, resolver);
  created = true;
  return resolver;
}

kqfs::Result<pid_t> ClientProcesses::process_of(pid_t tid) {
  if (const auto known = threads_.find(tid); known != threads_.end()) {
    if (!has_exited(known->second.pidfd.get())) return known->second.pid;
    threads_.erase(known);
  }
  auto group = thread_group_of(tid, failure_);
  if (!group || group.value() == tid) return group;  // a main thread needs no pidfd of its own
  if (threads_.size() >= kKnownThreads && ++lookups_when_full_ % kKnownThreads == 0) {
    std::erase_if(threads_, [](const auto& known) { return has_exited(known.second.pidfd.get()); });
  }
  if (threads_.size() >= kKnownThreads) return group;
  // Its /proc is read again once a pidfd holds the thread: if the thread has
  // not exited after that, what /proc said is this thread's.
  kqfs::UniqueFd thread(open_thread_pidfd(tid));
  if (!thread) return group;
  std::string ignored;
  const auto again = thread_group_of(tid, ignored);
  if (again && again.value() == group.value() && !has_exited(thread.get())) {
    threads_.emplace(tid, KnownThread{std::move(thread), group.value()});
  }
  return group;
}

void ClientProcesses::erase(pid_t pid) {
  processes_.erase(pid);
  std::erase_if(threads_, [pid](const auto& known) { return known.second.pid == pid; });
}

}  // namespace kqfsd
