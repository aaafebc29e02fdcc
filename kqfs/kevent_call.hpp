// kevent(2) over an in-process queue: the call contract of docs/design.md#the-kevent-call.
#pragma once

#include <time.h>

#include <span>

#include "kqfs/kevent.hpp"
#include "kqfs/kqueue.hpp"

namespace kqfs {

// Applies `changes` in order. A change that fails, or carries EV_RECEIPT,
// becomes an entry in `events` (the change with EV_ERROR added to its flags
// and data = the errno, 0 for a receipt) while there is room; a failure with
// no room returns -1 with that errno and leaves later changes unapplied.
// After any such entry, or with no room for events, it returns at once.
// Otherwise it waits up to `timeout` (nullptr: forever; zero: poll) and
// collects events. Returns the number of entries, or -1 with errno set
// (EINVAL for a malformed timeout, EINTR when a signal interrupted the wait).
int kevent(Kqueue& kq, std::span<const Kevent> changes, std::span<Kevent> events,
           const timespec* timeout);
int kevent(Kqueue& kq, std::span<const Kevent> changes, std::span<Kevent> events,
           const timespec* timeout, const Caller& caller);

}  // namespace kqfs
