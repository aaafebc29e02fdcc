// The change records the cases register: user events and idle timers, as
// 32-byte kevents (the binary layout of changes.bin, written as they are).
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

#include "kqfs/constants.h"
#include "kqfs/kevent.hpp"

namespace kqfs::bench {

static_assert(std::endian::native == std::endian::little,
              "changes.bin records are little-endian: Kevent arrays are written as they are");

// A timer period no measurement lasts: these timers never fire.
inline constexpr int64_t kIdleTimerSeconds = 24 * 3600;

inline Kevent user_event_add(uint64_t ident) {
  return Kevent{ident, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, ident};
}

inline Kevent user_event_trigger(uint64_t ident) {
  return Kevent{ident, EVFILT_USER, 0, NOTE_TRIGGER, 0, ident};
}

// Periodic (no EV_ONESHOT), with a period of kIdleTimerSeconds.
inline Kevent idle_timer_add(uint64_t ident) {
  return Kevent{ident, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, kIdleTimerSeconds, ident};
}

inline Kevent read_add_clear(int fd) {
  return Kevent{static_cast<uint64_t>(fd), EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, 0};
}

// `count` records made by `make(ident)`, idents first, first + 1, ...
template <class Make>
std::vector<Kevent> records_for(uint64_t first, size_t count, Make make) {
  std::vector<Kevent> records;
  records.reserve(count);
  for (uint64_t ident = first; ident < first + count; ++ident)
    records.push_back(make(ident));
  return records;
}

}  // namespace kqfs::bench
