#include "kqfs/kevent_call.hpp"

#include <poll.h>

#include <cerrno>
#include <cstdint>

#include "kqfs/timeouts.hpp"

namespace kqfs {
namespace {

template <class Apply>
int run(Kqueue& kq, std::span<const Kevent> changes, std::span<Kevent> events,
        const timespec* timeout, Apply apply) {
  if (!valid_timeout(timeout)) {
    errno = EINVAL;
    return -1;
  }
  const ChangelistOutcome changed = apply_changelist(changes, events, apply);
  if (changed.error != 0) {
    errno = changed.error;
    return -1;
  }
  if (changed.entries > 0 || events.empty()) return static_cast<int>(changed.entries);

  const bool forever = waits_forever(timeout);
  const int64_t deadline =
      forever ? 0 : monotonic_ns() + timeout->tv_sec * 1'000'000'000 + timeout->tv_nsec;
  for (;;) {
    if (const size_t collected = kq.collect(events); collected > 0) {
      return static_cast<int>(collected);
    }
    int wait_ms = -1;
    if (!forever) {
      const int64_t left = deadline - monotonic_ns();
      if (left <= 0) return 0;
      wait_ms = static_cast<int>(std::min<int64_t>((left + 999'999) / 1'000'000, INT32_MAX));
    }
    pollfd queue{kq.fd(), POLLIN, 0};
    if (::poll(&queue, 1, wait_ms) < 0) {
      // Events that are there win over the signal; the changes stay applied.
      const int interrupted = errno;
      if (const size_t collected = kq.collect(events); collected > 0) {
        return static_cast<int>(collected);
      }
      errno = interrupted;
      return -1;
    }
  }
}

}  // namespace

int kevent(Kqueue& kq, std::span<const Kevent> changes, std::span<Kevent> events,
           const timespec* timeout) {
  return run(kq, changes, events, timeout, [&](const Kevent& c) { return kq.apply(c); });
}

int kevent(Kqueue& kq, std::span<const Kevent> changes, std::span<Kevent> events,
           const timespec* timeout, const Caller& caller) {
  return run(kq, changes, events, timeout, [&](const Kevent& c) { return kq.apply(c, caller); });
}

}  // namespace kqfs
