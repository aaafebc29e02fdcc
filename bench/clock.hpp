// CLOCK_MONOTONIC readings: timestamps passed between threads, and
// stopwatches around the code being measured.
#pragma once

#include <cstdint>

#include "kqfs/timeouts.hpp"

namespace kqfs::bench {

using kqfs::monotonic_ns;

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

// Runs `step` `count` times back to back and returns the seconds per step.
template <class Step>
double seconds_per_step(int count, Step&& step) {
  const Stopwatch stopwatch;
  for (int i = 0; i < count; ++i)
    step();
  return stopwatch.seconds() / count;
}

}  // namespace kqfs::bench
