// One registration, keyed by (ident, filter) within its queue.
#pragma once

#include <boost/intrusive/list_hook.hpp>
#include <cstdint>

#include "kqfs/kevent.hpp"

namespace kqfs {

// Flags that act on a change and are never stored in the knote.
inline constexpr uint16_t kActionFlags =
    EV_DELETE | EV_ENABLE | EV_DISABLE | EV_FORCEONESHOT | EV_KEEPUDATA | EV_SYSFLAGS;

// Filters derive from Knote to keep their own per-registration state.
struct Knote {
  explicit Knote(const Kevent& change)
      : ident(change.ident),
        filter(change.filter),
        flags(static_cast<uint16_t>(change.flags & ~kActionFlags)),
        sfflags(change.fflags),
        sdata(change.data),
        udata(change.udata) {}
  virtual ~Knote() = default;
  Knote(const Knote&) = delete;
  Knote& operator=(const Knote&) = delete;

  // The event as delivered now: the stored flags (EV_ADD, the behaviour flags
  // given at creation, flags the filter set itself, EV_EOF) and the outputs.
  Kevent as_event() const { return Kevent{ident, filter, flags, fflags, data, udata}; }

  // Ordered for size (no padding): a queue may hold millions.
  const uint64_t ident;
  const int16_t filter;
  uint16_t flags;
  uint32_t sfflags;     // fflags saved from the last change
  uint32_t fflags = 0;  // what the next event reports

  bool active = false;  // the condition held and was not yet reported
  bool queued = false;  // on the ready list
  bool disabled = false;
  bool requeue = false;  // set by a filter's deliver(): more to report at once

  int64_t sdata;  // data saved from the last change
  uint64_t udata;
  int64_t data = 0;

  boost::intrusive::list_member_hook<> ready_hook;
};

}  // namespace kqfs
