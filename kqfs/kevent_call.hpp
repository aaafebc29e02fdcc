// kevent(2) over an in-process queue: the call contract of docs/design.md#the-kevent-call.
#pragma once

#include <time.h>

#include <cerrno>
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
// The changelist half of kevent(2), shared with the daemon's one-request
// calls: what `apply` made of the changes, as entries in `entries`.
struct ChangelistOutcome {
  size_t entries = 0;    // error and receipt entries written
  size_t processed = 0;  // changes taken (applied or reported)
  int error = 0;         // a change failed with no room: kevent() fails with it
};

// Applies `changes` in order with `apply` (0 or an errno). A change that
// fails, or carries EV_RECEIPT, becomes an entry while there is room; a
// failure with no room ends with `error`, a receipt with no room ends
// processing (FreeBSD). The lists may be one array.
template <class Apply>
ChangelistOutcome apply_changelist(std::span<const Kevent> changes, std::span<Kevent> entries,
                                   Apply&& apply) {
  ChangelistOutcome outcome;
  for (; outcome.processed < changes.size(); ++outcome.processed) {
    // Read the change before writing: the two lists may be one array.
    const Kevent change = changes[outcome.processed];
    const int error = apply(change);
    if (error == 0 && !(change.flags & EV_RECEIPT)) continue;
    if (outcome.entries == entries.size()) {
      outcome.error = error;
      if (error != 0) ++outcome.processed;
      break;
    }
    Kevent entry = change;
    entry.flags |= EV_ERROR;
    entry.data = error;
    entries[outcome.entries++] = entry;
  }
  return outcome;
}

int kevent(Kqueue& kq, std::span<const Kevent> changes, std::span<Kevent> events,
           const timespec* timeout);
int kevent(Kqueue& kq, std::span<const Kevent> changes, std::span<Kevent> events,
           const timespec* timeout, const Caller& caller);

}  // namespace kqfs
