// How the engine reaches the descriptors of the process that wrote a change.
//
// A knote on a descriptor must never keep the caller's open file alive: a
// pipe's write end held by kqfs would hide EOF from the reader, a socket would
// not send its FIN. So the engine holds only a weak reference (an epoll
// registration, which the kernel drops with the file) and borrows the file
// for the moment it needs to look at it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "kqfs/result.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs {

// A descriptor of this process naming the caller's open file, for as long as
// this object lives. Owned when it had to be duplicated, borrowed otherwise.
class BorrowedFd {
 public:
  static BorrowedFd owned(UniqueFd fd) {
    BorrowedFd b;
    b.fd_ = fd.get();
    b.owned_ = std::move(fd);
    return b;
  }
  static BorrowedFd unowned(int fd) {
    BorrowedFd b;
    b.fd_ = fd;
    return b;
  }
  // The caller's descriptor is a kqueue; `readiness` is readable while it
  // has events pending (Kqueue::readiness_fd()), `pending` of them now.
  static BorrowedFd queue(int readiness, int64_t pending) {
    BorrowedFd b = unowned(readiness);
    b.queue_ = true;
    b.queue_pending_ = pending;
    return b;
  }
  int get() const { return fd_; }
  bool is_queue() const { return queue_; }
  int64_t queue_pending() const { return queue_pending_; }

 private:
  int fd_ = -1;
  bool queue_ = false;
  int64_t queue_pending_ = 0;
  UniqueFd owned_;
};

class DescriptorResolver {
 public:
  virtual ~DescriptorResolver() = default;

  // The caller's descriptor `fd` as one of ours; EBADF when it is not open.
  virtual Result<BorrowedFd> borrow(int fd) = 0;
  // The same, for a descriptor names_registered() has just matched to the
  // file registered in `epfd` under `registered_as`: what was checked at
  // registration need not be again, once the duplicate is that file.
  virtual Result<BorrowedFd> borrow_registered(int fd, int /*epfd*/, int /*registered_as*/) {
    return borrow(fd);
  }

  // Whether the caller's descriptor `fd` still names the open file that was
  // registered in the epoll instance `epfd` under the number `registered_as`.
  // False once the caller closed (or replaced) that descriptor, or the file
  // is gone.
  virtual bool names_registered(int fd, int epfd, int registered_as) = 0;

  // Why the last borrow() was refused, in words (empty when it said
  // nothing more than its errno); reading it clears it.
  virtual std::string take_refusal() { return {}; }

  // The process whose descriptors these are: EVFILT_SIGNAL counts signals
  // sent to it.
  virtual int process_id() const = 0;

  // Whether that process may watch process `pid` (EVFILT_PROC): the pid
  // names a process in its view.
  virtual bool sees_process(int pid) const;

  // Checks for a daemon that serves other users: what the kernel would let
  // the caller do itself. Each returns 0 or an errno, the reason in `why`.
  // In process they pass, as the kernel already applies the process's own
  // rights to it.
  // EVFILT_VNODE: may the caller read the file our descriptor `borrowed_fd`
  // names (as inotify requires)? EACCES otherwise.
  virtual int may_read(int /*borrowed_fd*/, std::string& /*why*/) { return 0; }
  // EVFILT_PROC: does the caller see process `pid` in its own /proc
  // (hidepid)? ESRCH otherwise.
  virtual int may_see(int /*pid*/, std::string& /*why*/) { return 0; }
};

using Caller = std::shared_ptr<DescriptorResolver>;

// EVFILT_PROC's rule for naming process `pid` (any 64-bit ident): 0 when
// `caller` sees it, else ESRCH (no such process, or one it cannot see), or
// the errno of a check that could not be made; `why` says more when the
// errno alone would not.
int check_sees_process(DescriptorResolver& caller, uint64_t pid, std::string& why);

// The process's own descriptor table: for the engine used in process.
class InProcessResolver final : public DescriptorResolver {
 public:
  Result<BorrowedFd> borrow(int fd) override;
  bool names_registered(int fd, int epfd, int registered_as) override;
  int process_id() const override;
};

// This process's id, asked of the kernel once (and again after a fork):
// kcmp names both processes on every look at a descriptor.
pid_t own_pid();

// kcmp(KCMP_EPOLL_TFD): does descriptor `fd` of process `pid` name the file
// registered in our epoll `epfd` under `registered_as`?
bool process_fd_names_registered(int pid, int fd, int epfd, int registered_as);

// kcmp(KCMP_FILE): do our descriptors `a` and `b` name one open file?
bool same_open_file(int a, int b);

}  // namespace kqfs
