// The wake-up harness of the latency case: one thread writes a byte to a
// pipe while another is blocked waiting for its event, one event in flight
// at a time; the one-way time from just before write() to just after the
// wait returns (CLOCK_MONOTONIC, passed through memory).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "kqfs/unique_fd.hpp"

namespace kqfs::bench {

// The pipe whose writes are the events; its read end is non-blocking so the
// reader can drain it.
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;

  Pipe();
  // Empties the pipe, so that the next write is a new edge.
  void drain() const;
};

// Where the writer and the reader run: two different CPUs when the process
// may use two, so that every variant measures a wake-up across CPUs (left
// to the scheduler, the two threads land on one CPU or on two from run to
// run, and a cross-CPU wake-up costs several times a same-CPU one).
struct Placement {
  int writer_cpu = 0;
  int reader_cpu = 0;

  static Placement choose();
  std::string text() const;  // for the report
};

// Measures `iterations` one-way wake-ups and returns them in seconds.
// Before each write the writer waits until the reader, and the daemon if
// `daemon` is given, are asleep: the reader is really blocked, and the
// daemon has taken its read request in. `wait_for_event` runs in the
// reader thread and returns once the pipe's event was seen there.
std::vector<double> measure_wakeups(Pipe& pipe, int iterations, pid_t daemon,
                                    const Placement& placement,
                                    const std::function<void()>& wait_for_event);

}  // namespace kqfs::bench
