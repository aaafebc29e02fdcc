// The monotonic clock and kevent(2)'s timeout argument, shared by the
// engine's in-process kevent() (kqfs/kevent_call.cpp), the client
// library's (client/kevent.cpp) and the benchmark.
#pragma once

#include <time.h>

#include <cstdint>

namespace kqfs {

inline int64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// A timeout kevent(2) takes: none (for ever), or a time that is not
// negative with its nanoseconds below a second.
inline bool valid_timeout(const timespec* timeout) {
  return timeout == nullptr ||
         (timeout->tv_sec >= 0 && timeout->tv_nsec >= 0 && timeout->tv_nsec < 1'000'000'000);
}

// Whether a valid timeout means no limit: none, or more than INT32_MAX
// seconds (FreeBSD), which also keeps a deadline in nanoseconds from
// overflowing.
inline bool waits_forever(const timespec* timeout) {
  return timeout == nullptr || static_cast<int64_t>(timeout->tv_sec) > INT32_MAX;
}

}  // namespace kqfs
