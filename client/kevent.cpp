// kqueue(2) and kevent(2) over a kqfs mount. The changelist is written to
// the kq/clone handle as binary records; the daemon applies them in order
// and stops at the first that fails (a short write, or -1 with its errno),
// which is all kevent() needs to build EV_ERROR and EV_RECEIPT entries.
// Events are read as binary records; waiting is poll(2) on the handle.
#include <fcntl.h>
#include <poll.h>
#include <sys/event.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kqfs/mount_point.hpp"
#include "kqfs/timeouts.hpp"
#include "kqfs/unique_fd.hpp"

namespace {

static_assert(sizeof(struct kevent) == 32, "struct kevent must be the 32-byte binary record");

// How long one wait lasts before checking that the kqueue is still there:
// close(2) does not wake a poll(2) on the closed descriptor.
constexpr int kWaitSliceMs = 100;

// Whether `kq` is an open kq/clone handle (its path shows it; a handle
// whose name was looked up again shows " (deleted)").
bool is_kqueue(int kq) {
  char path[32];
  char target[4096];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", kq);
  const ssize_t length = ::readlink(path, target, sizeof target - 1);
  if (length <= 0) return false;
  const std::string_view name(target, static_cast<size_t>(length));
  return name.ends_with("/kq/clone") || name.ends_with("/kq/clone (deleted)");
}

// The handle's inode: every kq/clone open has its own, so a descriptor
// number reused for another kqueue shows as a different one.
long long inode_of(int kq) {
  char path[40];
  std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", kq);
  const kqfs::UniqueFd info(::open(path, O_RDONLY | O_CLOEXEC));
  if (!info) return -1;
  char text[512];
  const ssize_t length = ::read(info.get(), text, sizeof text - 1);
  if (length <= 0) return -1;
  text[length] = '\0';
  const char* field = std::strstr(text, "\nino:");
  return field != nullptr ? std::atoll(field + 5) : -1;
}

// The errno for which the whole call fails when a write of changes failed
// because of the handle, 0 when a change failed. The daemon answers EBADF
// to a process that did not open the handle (a forked child), but EBADF is
// also a change's errno (an ident that is no open descriptor); FUSE shows
// the failed poll of such a process, or of a dead daemon, as POLLERR. A
// removed queue polls POLLHUP and is EBADF, as when waiting.
int handle_error(int kq, int write_error) {
  pollfd handle{kq, 0, 0};  // only the error bits matter
  int polled;
  do {
    polled = ::poll(&handle, 1, 0);
  } while (polled < 0 && errno == EINTR);
  if (polled <= 0) return 0;
  if (handle.revents & (POLLERR | POLLNVAL)) return write_error;
  if (handle.revents & POLLHUP) return EBADF;
  return 0;
}

// The change as an error (or receipt) entry: EV_ERROR added, data = errno.
struct kevent error_entry(const struct kevent& change, int error) {
  struct kevent entry = change;
  entry.flags |= EV_ERROR;
  entry.data = error;
  return entry;
}

// Applies the changelist; returns the number of entries written, or -1
// with errno when a change failed with no room to report it or the handle
// is unusable.
int apply_changes(int kq, const struct kevent* changes, int nchanges, struct kevent* events,
                  int nevents) {
  int written = 0;
  int next = 0;
  while (next < nchanges) {
    // One write for as much as possible: up to a receipt that finds no
    // room, after which FreeBSD processes no further change.
    int batch_end = next;
    bool receipt_without_room = false;
    for (int room = nevents - written; batch_end < nchanges && !receipt_without_room;) {
      if (changes[batch_end++].flags & EV_RECEIPT) {
        if (room == 0) receipt_without_room = true;
        --room;
      }
    }
    const size_t bytes = static_cast<size_t>(batch_end - next) * sizeof(struct kevent);
    const ssize_t accepted = ::write(kq, changes + next, bytes);
    if (accepted < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    const int error = accepted < 0 ? errno : 0;
    if (accepted == 0) {
      errno = EIO;  // the daemon took nothing and said nothing: do not spin
      return -1;
    }
    const int applied = accepted > 0 ? static_cast<int>(accepted / sizeof(struct kevent)) : 0;

    // Receipts for what was applied. Each change gives at most one entry,
    // at an index no later than its own, so the lists may be one array.
    for (int i = next; i < next + applied; ++i) {
      const struct kevent change = changes[i];
      if ((change.flags & EV_RECEIPT) && written < nevents) {
        events[written++] = error_entry(change, 0);
      }
    }
    next += applied;
    if (error != 0) {  // the change at `next` failed, or the handle did
      if (const int unusable = handle_error(kq, error); unusable != 0) {
        errno = unusable;  // the call fails as a whole, with no entries
        return -1;
      }
      const struct kevent change = changes[next];
      if (written == nevents) {
        errno = error;
        return -1;
      }
      events[written++] = error_entry(change, error);
      ++next;
    } else if (next == batch_end && receipt_without_room) {
      return written;
    }
    // A short write: the next write starts with the failed change and
    // returns its errno.
  }
  return written;
}

// Reads whatever events are pending into `events`: a count, 0, or -1.
int read_events(int kq, struct kevent* events, int nevents) {
  const ssize_t length = ::read(kq, events, static_cast<size_t>(nevents) * sizeof(struct kevent));
  if (length > 0) return static_cast<int>(length / sizeof(struct kevent));
  if (length == 0) {
    errno = EBADF;  // the queue is gone
    return -1;
  }
  return errno == EAGAIN ? 0 : -1;
}

int wait_for_events(int kq, struct kevent* events, int nevents, const timespec* timeout) {
  // Above INT32_MAX seconds is for ever (FreeBSD), which also keeps the
  // deadline in nanoseconds from overflowing.
  const bool forever = timeout == nullptr || static_cast<int64_t>(timeout->tv_sec) > INT32_MAX;
  const int64_t deadline =
      forever ? 0 : kqfs::monotonic_ns() + timeout->tv_sec * 1'000'000'000LL + timeout->tv_nsec;
  const long long inode = inode_of(kq);
  for (;;) {
    const int ready = read_events(kq, events, nevents);
    if (ready != 0) return ready;
    int slice = kWaitSliceMs;
    if (!forever) {
      const int64_t left = deadline - kqfs::monotonic_ns();
      if (left <= 0) return 0;
      slice = static_cast<int>(std::min<int64_t>((left + 999'999) / 1'000'000, kWaitSliceMs));
    }
    pollfd handle{kq, POLLIN, 0};
    const int polled = ::poll(&handle, 1, slice);
    if (polled < 0) {
      // Events that are there win over the signal.
      const int interrupted = errno;
      const int got = read_events(kq, events, nevents);
      if (got > 0) return got;
      errno = interrupted;
      return -1;
    }
    // Another thread may have closed the kqueue (or reused its number).
    if (polled == 0 && inode_of(kq) != inode) {
      errno = EBADF;
      return -1;
    }
    if (handle.revents & (POLLNVAL | POLLHUP)) {
      errno = EBADF;
      return -1;
    }
  }
}

}  // namespace

extern "C" int kqueuex(unsigned int flags) {
  if (flags & ~static_cast<unsigned int>(KQUEUE_CLOEXEC)) {
    errno = EINVAL;
    return -1;
  }
  const std::string clone = kqfs::default_mount_point() + "/kq/clone";
  // Not blocking: kevent() waits in poll(2), where close(2) can be noticed.
  return ::open(clone.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
}

extern "C" int kqueue(void) {
  return kqueuex(KQUEUE_CLOEXEC);
}

extern "C" int kevent(int kq, const struct kevent* changelist, int nchanges,
                      struct kevent* eventlist, int nevents, const struct timespec* timeout) {
  if (nchanges < 0 || nevents < 0 || !kqfs::valid_timeout(timeout)) {
    errno = EINVAL;
    return -1;
  }
  if (!is_kqueue(kq)) {
    errno = EBADF;
    return -1;
  }
  const int written = apply_changes(kq, changelist, nchanges, eventlist, nevents);
  if (written != 0 || nevents == 0) return written;  // written < 0: errno is set
  return wait_for_events(kq, eventlist, nevents, timeout);
}
