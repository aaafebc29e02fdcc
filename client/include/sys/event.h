/*
 * <sys/event.h> for Linux, through kqfs: BSD's kqueue(2) and kevent(2)
 * with FreeBSD's constants, for programs written for FreeBSD or macOS.
 *
 * A kqueue is an open kq/clone handle on the kqfs mount ($KQFS_MOUNT, else
 * $XDG_RUNTIME_DIR/kqfs, else /run/kqfs), so kqfsd must be running. The
 * descriptor polls readable while events are pending, and can be watched
 * with EVFILT_READ in another kqueue.
 */
#ifndef KQFS_SYS_EVENT_H
#define KQFS_SYS_EVENT_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <kqfs/constants.h>

#define LIBKQFS 1 /* like libkqueue's LIBKQUEUE: this is not a BSD kernel */

/*
 * 32 bytes: the layout of kqfs's binary records, of macOS's struct kevent
 * and of libkqueue's. FreeBSD 12+ adds ext[4]; programs that set it through
 * EV_SET are fine, programs that read ext are not supported.
 */
struct kevent {
  uintptr_t ident;      /* what is watched: fd, pid, signal, timer id... */
  short filter;         /* EVFILT_* */
  unsigned short flags; /* EV_* */
  unsigned int fflags;  /* NOTE_* */
  int64_t data;         /* filter-specific value */
  void* udata;          /* opaque, returned as given */
};

#define EV_SET(kevp_, a, b, c, d, e, f)    \
  do {                                     \
    struct kevent* kevp__ = (kevp_);       \
    kevp__->ident = (a);                   \
    kevp__->filter = (b);                  \
    kevp__->flags = (c);                   \
    kevp__->fflags = (d);                  \
    kevp__->data = (e);                    \
    kevp__->udata = (void*)(uintptr_t)(f); \
  } while (0)

/* FreeBSD 14's kqueuex(2) flag; kqueue() is always close-on-exec here. */
#define KQUEUE_CLOEXEC 0x00000001

/* Declared here too: strict C (no POSIX feature macros) may not have it. */
struct timespec;

#ifdef __cplusplus
extern "C" {
#endif

/* A new kqueue; -1 with errno ENOENT when kqfs is not mounted, ENOTCONN
 * when its daemon is gone, ENOSPC past the daemon's queue limit. */
int kqueue(void);
int kqueuex(unsigned int flags);

/* Not in BSD: why kqueue() failed with `error` (its errno), in one sentence
 * naming the mount it looked at and what to do, e.g. "no kqfs mount at
 * /run/kqfs: start kqfsd /run/kqfs, or set KQFS_MOUNT to its mount point".
 * Like strerror(3): the text stays valid until this thread calls it again.
 * Prints nothing and leaves errno alone. */
const char* kqfs_explain(int error);

/* kevent(2) as on FreeBSD: changes applied in order; a failed change (and
 * every EV_RECEIPT) becomes an EV_ERROR entry while there is room, else -1
 * and errno; after any such entry it returns at once; timeout NULL waits
 * forever, zero polls. EBADF for a descriptor that is not a kqueue of this
 * process; EINTR when a signal interrupts the wait. */
int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
           int nevents, const struct timespec* timeout);

#ifdef __cplusplus
}
#endif

#endif /* KQFS_SYS_EVENT_H */
