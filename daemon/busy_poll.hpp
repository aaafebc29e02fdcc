// Adaptive busy-poll of the FUSE device: after the last request is
// answered, kqfsd may keep reading the device for a short window instead
// of going back to sleep, so that a client that asks again at once is
// answered without waking the daemon (docs/performance.md). The window is
// spun only while requests have been coming quickly.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

namespace kqfsd {

class BusyPoll {
 public:
  using Clock = std::chrono::steady_clock;

  // `window`: the longest spin (zero: never spin).
  explicit BusyPoll(std::chrono::microseconds window) : window_(window) {}

  // The loop woke the daemon for the device at `now`. The gap since the
  // device was found empty (the daemon slept in between) says whether
  // requests come quickly; it holds the daemon's own wake-up, which a spin
  // saves, so up to twice the window counts as quick.
  void woken(Clock::time_point now) {
    if (empty_since_ && backoff_ == 0) spin_ = now - *empty_since_ <= 2 * window_;
    if (backoff_ > 0) --backoff_;
    empty_since_.reset();
  }
  // The device was found empty at `now`: how long to spin before sleeping
  // (zero: sleep now).
  std::chrono::microseconds found_empty(Clock::time_point now) {
    empty_since_ = now;
    return spin_ ? window_ : std::chrono::microseconds::zero();
  }
  // The spin ended, with a request (`caught`) or at the end of the window.
  // A window that caught nothing is not spun again for a while, twice as
  // long after each miss in a row: a client that asks a little slower than
  // the window costs a wasted window now and then, not at every request.
  void spun(bool caught) {
    empty_since_.reset();
    spin_ = caught;
    if (caught) {
      misses_ = 0;
      return;
    }
    misses_ = std::min(misses_ + 1, kMostMisses);
    backoff_ = 1u << misses_;
  }

  std::chrono::microseconds window() const { return window_; }
  // Whether the next empty device is spun (for the tests).
  bool spinning() const { return spin_; }

 private:
  static constexpr unsigned kMostMisses = 6;  // backs off at most 64 sleeps

  const std::chrono::microseconds window_;
  bool spin_ = false;
  unsigned misses_ = 0;   // spins in a row that caught nothing
  unsigned backoff_ = 0;  // sleeps left before the gap counts again
  std::optional<Clock::time_point> empty_since_;
};

}  // namespace kqfsd
