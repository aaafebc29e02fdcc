// Waiting for something another process, a thread or the kernel does in its
// own time: poll a condition until it holds or a deadline passes. Shared by
// the unit, client and stress tests (one copy, one clock).
#pragma once

#include <chrono>
#include <thread>

namespace kqfs::testkit {

using Clock = std::chrono::steady_clock;

// Calls `done` every `step` until it holds or `limit` passes; whether it held
// (checked once more at the deadline).
template <class Done>
bool poll_until(Done&& done, std::chrono::milliseconds limit,
                std::chrono::milliseconds step = std::chrono::milliseconds(10)) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return done();
    std::this_thread::sleep_for(step);
  }
  return true;
}

// Time passed since `start`, on the same clock.
inline std::chrono::nanoseconds since(Clock::time_point start) {
  return Clock::now() - start;
}

}  // namespace kqfs::testkit
