// The wake-up harness of the latency cases (latency, kevent-wakeup): one
// thread writes a byte (to a pipe, or to the FUSE floor's file) while
// another is blocked waiting for its event, one event in flight at a time;
// the one-way time from just before write() to just after the wait returns
// (CLOCK_MONOTONIC, passed through memory). Also what those cases share:
// the raw epoll reader of a pipe, and p50 and p99 over the repetitions.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "kqfs/unique_fd.hpp"

namespace kqfs::bench {

// What makes one event: the writer rings, the reader clears once it has
// seen the event; abandon() wakes the reader for good when the writer fails.
class Doorbell {
 public:
  virtual ~Doorbell() = default;
  virtual void ring() = 0;
  virtual void clear() = 0;
  virtual void abandon() noexcept = 0;
};

// The pipe whose writes are the events; its read end is non-blocking so the
// reader can drain it.
struct Pipe final : Doorbell {
  UniqueFd read_end;
  UniqueFd write_end;

  Pipe();
  // Writes one byte.
  void ring() override;
  // Empties the pipe, so that the next write is a new edge.
  void clear() override { drain(); }
  // Closes the write end: the reader sees the end of file.
  void abandon() noexcept override { write_end.reset(); }
  void drain() const;
};

// Waits in epoll_wait (EPOLLIN, EPOLLET) for the pipe's read end.
class EpollPipeReader {
 public:
  explicit EpollPipeReader(const Pipe& pipe);
  void wait_for_event();

 private:
  UniqueFd epoll_;
};

// One variant's latencies over the repetitions: p50 and p99 of each.
struct Percentiles {
  std::vector<double> p50, p99;

  void add(const std::vector<double>& latencies);
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
// Before each ring the writer waits until the reader, and the daemon if
// `daemon` is given, are asleep: the reader is really blocked, and the
// daemon has taken its read request in. `wait_for_event` runs in the
// reader thread and returns once the doorbell's event was seen there.
std::vector<double> measure_wakeups(Doorbell& doorbell, int iterations, pid_t daemon,
                                    const Placement& placement,
                                    const std::function<void()>& wait_for_event);

// One way of waiting for a doorbell's events, measured by
// measure_wakeup_variants.
struct WakeupVariant {
  Doorbell& doorbell;
  pid_t daemon;  // waited for to sleep before each ring; -1: none
  std::function<void()> wait_for_event;
};

// `warm_up` untimed wake-ups of each variant, then per repetition
// `iterations` of each, interleaved: the p50 and p99 of each variant.
std::vector<Percentiles> measure_wakeup_variants(const std::vector<WakeupVariant>& variants,
                                                 const Placement& placement, int iterations,
                                                 int warm_up, int repetitions);

// The end of a wake-up case's setup text: what is timed, where the threads
// ran, how often.
std::string wakeup_setup_text(const Placement& placement, int iterations, int repetitions);

}  // namespace kqfs::bench
