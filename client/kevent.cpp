// kqueue(2) and kevent(2) over a kqfs mount. A kqueue is an open kq/clone
// handle; one kevent() is one ioctl on it, whatever it carries (changes, a
// wait, or both): the daemon applies the changes, builds the EV_ERROR and
// EV_RECEIPT entries, waits and collects, and answers with kevent()'s
// result (kqfs/call_ioctl.h, docs/design.md#one-kevent-call-one-request).
// Nothing else is asked of the kernel per call.
#include <fcntl.h>
#include <kqfs/call_ioctl.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "kqfs/mount_point.hpp"
#include "kqfs/timeouts.hpp"

namespace {

static_assert(sizeof(struct kevent) == KQFS_CALL_SLOT,
              "struct kevent must be the 32-byte binary record");

// One request's buffer: the header slot (the call in, its result out),
// then records. On the stack: a call is one thread's.
struct CallBuffer {
  union {
    kqfs_call call;
    kqfs_call_result result;
  } head;
  struct kevent records[KQFS_CALL_MAX_RECORDS];
};
static_assert(sizeof(CallBuffer) == KQFS_CALL_MAX_SLOTS * KQFS_CALL_SLOT);

constexpr int kMaxRecords = KQFS_CALL_MAX_RECORDS;

// What the caller waits for: for ever, or until a deadline.
struct Wait {
  bool forever = true;
  int64_t deadline_ns = 0;

  static Wait of(const timespec* timeout) {
    if (kqfs::waits_forever(timeout)) return {};
    // Zero needs no clock.
    if (timeout->tv_sec == 0 && timeout->tv_nsec == 0) return {false, 0};
    return {false, kqfs::monotonic_ns() + timeout->tv_sec * 1'000'000'000LL + timeout->tv_nsec};
  }
  int64_t left_ns() const {
    return deadline_ns == 0 ? 0 : std::max<int64_t>(deadline_ns - kqfs::monotonic_ns(), 0);
  }
};

// The answer to one request, or -1 with errno when there was none: EBADF
// for a descriptor that is not a kqfs kqueue (its driver knows no such
// ioctl, or answered in no way kqfsd does).
int request(int kq, CallBuffer& buffer, int nchanges, int room, uint32_t flags, const Wait& wait) {
  const int slots = 1 + std::max({nchanges, room, 1});
  kqfs_call& call = buffer.head.call;
  call = kqfs_call{};
  call.magic = KQFS_CALL_MAGIC;
  call.flags = flags;
  call.nchanges = nchanges;
  call.nevents = room;
  if (!wait.forever) {
    const int64_t left = wait.left_ns();
    call.flags |= KQFS_CALL_TIMEOUT;
    call.timeout_sec = left / 1'000'000'000;
    call.timeout_nsec = left % 1'000'000'000;
  }
  // What the kernel copies in beyond the changes: zeros, not stale stack.
  std::memset(buffer.records + nchanges, 0,
              static_cast<size_t>(slots - 1 - nchanges) * sizeof(struct kevent));
  if (::ioctl(kq, KQFS_IOC_CALL(slots), &buffer) < 0) {
    if (errno == ENOTTY || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
      errno = EBADF;
    }
    return -1;
  }
  const kqfs_call_result& result = buffer.head.result;
  if (result.magic != KQFS_CALL_RESULT_MAGIC || result.entries > room ||
      result.processed > nchanges) {
    errno = EBADF;
    return -1;
  }
  return 0;
}

// A waiting call was told that this process closed a descriptor of its
// handle: whether `kq` still names that handle.
bool still_open(int kq, uint64_t handle) {
  struct stat status;
  return ::fstat(kq, &status) == 0 && status.st_ino == handle;
}

// One request for `nchanges` changes (at most kMaxRecords), with room for
// `room` entries at `entries`: kevent()'s result for this part, -1 with
// errno, and the changes taken in `processed`.
int call(int kq, CallBuffer& buffer, const struct kevent* changes, int nchanges,
         struct kevent* entries, int room, uint32_t flags, const Wait& wait, int& processed) {
  room = std::min(room, kMaxRecords);
  // copy_n, not memcpy: the lists may be null when their counts are 0.
  std::copy_n(changes, nchanges, buffer.records);
  for (;;) {
    if (request(kq, buffer, nchanges, room, flags, wait) < 0) return -1;
    const kqfs_call_result& result = buffer.head.result;
    processed = result.processed;
    if (result.status == KQFS_CALL_RECHECK) {
      // Its changes, if any, were all taken before it waited.
      if (!still_open(kq, result.handle)) {
        errno = EBADF;
        return -1;
      }
      if (!wait.forever && wait.left_ns() == 0) return 0;
      nchanges = 0;  // (a changes-only part never waits, so is never told this)
      continue;
    }
    if (result.entries < 0) {
      errno = result.error;
      return -1;
    }
    std::copy_n(buffer.records, result.entries, entries);
    return result.entries;
  }
}

}  // namespace

extern "C" int kqueuex(unsigned int flags) {
  if (flags & ~static_cast<unsigned int>(KQUEUE_CLOEXEC)) {
    errno = EINVAL;
    return -1;
  }
  const std::string clone = kqfs::default_mount_point() + "/kq/clone";
  // Not blocking: a read(2) of the descriptor itself never hangs a program
  // that was not written to read it.
  return ::open(clone.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
}

extern "C" int kqueue(void) {
  return kqueuex(KQUEUE_CLOEXEC);
}

extern "C" const char* kqfs_explain(int error) {
  const int saved_errno = errno;
  const std::string mount = kqfs::default_mount_point();
  thread_local std::string text;
  if (error == ENOENT) {
    text = "no kqfs mount at " + mount + ": start kqfsd " + mount +
           ", or set KQFS_MOUNT to its mount point";
  } else if (error == ENOTCONN) {
    text = "kqfsd of " + mount +
           " is not running (transport endpoint not connected): unmount with fusermount3 -u " +
           mount + " and start it again";
  } else if (error == EACCES) {
    text = mount + ": " + std::strerror(error) +
           " (another user's kqfs mount without allow_other? Run as the user who mounted it, "
           "or have kqfsd mount it with -o allow_other)";
  } else if (error == ENOSPC) {
    text = mount + ": " + std::strerror(error) + " (the limits of its kqfsd: see " + mount +
           "/status)";
  } else {
    text = mount + "/kq/clone: " + std::strerror(error);
  }
  errno = saved_errno;
  return text.c_str();
}

extern "C" int kevent(int kq, const struct kevent* changelist, int nchanges,
                      struct kevent* eventlist, int nevents, const struct timespec* timeout) {
  if (nchanges < 0 || nevents < 0 || !kqfs::valid_timeout(timeout)) {
    errno = EINVAL;
    return -1;
  }
  CallBuffer buffer;
  const Wait wait = Wait::of(timeout);
  int written = 0;
  int next = 0;
  // A changelist longer than one request carries goes in parts that apply
  // and report only; the last part waits, unless an entry was written.
  while (nchanges - next > kMaxRecords) {
    int processed = 0;
    const int got = call(kq, buffer, changelist + next, kMaxRecords, eventlist + written,
                         nevents - written, KQFS_CALL_CHANGES_ONLY, wait, processed);
    if (got < 0) return -1;
    written += got;
    next += processed;
    if (processed < kMaxRecords) return written;  // a receipt found no room: FreeBSD stops
  }
  int processed = 0;
  const uint32_t flags = written > 0 ? KQFS_CALL_CHANGES_ONLY : 0;
  const int got = call(kq, buffer, changelist + next, nchanges - next, eventlist + written,
                       nevents - written, flags, wait, processed);
  if (got < 0) return -1;
  return written + got;
}
