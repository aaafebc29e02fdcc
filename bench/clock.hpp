// CLOCK_MONOTONIC readings: timestamps passed between threads, and
// stopwatches around the code being measured.
#pragma once

#include <time.h>

#include <cstdint>

namespace kqfs::bench {

inline int64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// Started when made; reads the time since in seconds.
class Stopwatch {
 public:
  Stopwatch() : started_ns_(monotonic_ns()) {}
  double seconds() const { return static_cast<double>(monotonic_ns() - started_ns_) * 1e-9; }

 private:
  int64_t started_ns_;
};

// Runs `step` until at least `min_seconds` have passed (and at least once)
// and returns the steps per second.
template <class Step>
double steps_per_second(Step&& step, double min_seconds) {
  const Stopwatch stopwatch;
  int64_t steps = 0;
  double elapsed = 0;
  do {
    step();
    ++steps;
    elapsed = stopwatch.seconds();
  } while (elapsed < min_seconds);
  return static_cast<double>(steps) / elapsed;
}

}  // namespace kqfs::bench
