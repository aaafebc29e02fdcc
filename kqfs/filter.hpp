// The filter operations table, after BSD's struct filterops.
//
// Each filter is an object per queue (it may own kernel objects shared by
// all its knotes: one timerfd, one inotify instance). The queue calls it at
// the same points where BSD's kqueue_register and kqueue_scan call filterops.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kqfs/knote.hpp"
#include "kqfs/linux/resolver.hpp"
#include "kqfs/ownership.hpp"
#include "kqfs/result.hpp"

namespace kqfs {

// A kernel object in the queue's epoll set; told when it becomes ready.
class Source {
 public:
  virtual void on_ready(uint32_t epoll_events) = 0;

 protected:
  ~Source() = default;
};

// What a filter may ask of the queue that owns it.
class FilterHost {
 public:
  // The knote's source posted (BSD's KNOTE()): re-run its filter's event
  // and queue it if the condition holds and it is enabled.
  virtual void post(Knote& kn) = 0;
  // Take a knote off the ready list and forget that it fired.
  virtual void deactivate(Knote& kn) = 0;

  // Add or remove a kernel object to or from the queue's epoll set. Adding
  // returns 0 or the errno (ENOMEM, ENOSPC: the kernel's epoll limits).
  [[nodiscard]] virtual int add_source(int fd, uint32_t epoll_events, Source& source) = 0;
  virtual void remove_source(int fd) = 0;

  // Says why the change being applied is refused, in words (for status).
  virtual void explain(std::string reason) = 0;
  // Adds a knote the filter made itself (NOTE_TRACK children). False when
  // its (ident, filter) is taken or the queue is full.
  virtual bool insert(std::unique_ptr<Knote> kn) = 0;

  // The queue's own descriptors (so a queue can refuse to watch itself).
  virtual int queue_fd() const = 0;
  virtual int queue_readiness_fd() const = 0;
  // Changes each time the queue starts applying a change or collecting:
  // within one epoch, filters share one probe of a kernel object.
  virtual uint64_t probe_epoch() const = 0;

 protected:
  ~FilterHost() = default;
};

class Filter {
 public:
  virtual ~Filter() = default;

  // Non-null when knotes belong to the process that registered them, and
  // go when it exits (descriptors, signals): the rules for that.
  virtual Ownership* ownership() { return nullptr; }
  // True when attach or touch asks anything of the caller beyond what its
  // ownership does (EVFILT_PROC: what it may see).
  virtual bool uses_caller() const { return false; }

  // f_attach: make the knote for a new registration and bind it to its
  // source. Returns EINVAL, EBADF, ... without side effects on failure.
  virtual Result<std::unique_ptr<Knote>> attach(const Kevent& change, const Caller& caller) = 0;

  // f_detach: unbind the knote from its source before it is destroyed.
  virtual void detach(Knote& kn) = 0;

  // f_touch(EVENT_REGISTER): a change to an existing knote. The default saves
  // fflags and data, as FreeBSD does for filters without f_touch.
  virtual int touch(Knote& kn, const Kevent& change) {
    kn.sfflags = change.fflags;
    kn.sdata = change.data;
    return 0;
  }

  // f_event: whether the condition holds now; sets kn.data/fflags/EV_EOF.
  virtual bool event(Knote& kn) = 0;

  // f_touch(EVENT_PROCESS): the event to deliver, resetting state for
  // EV_CLEAR knotes.
  virtual Kevent deliver(Knote& kn) {
    const Kevent out = kn.as_event();
    if (kn.flags & EV_CLEAR) {
      kn.data = 0;
      kn.fflags = 0;
    }
    return out;
  }
};

}  // namespace kqfs
