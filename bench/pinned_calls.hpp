// The round-trip cases (noop, kevent-one-change, kevent-loop): calls made
// back to back, timed with the client and the daemon that serves them
// pinned as each CPU placement says, and their rows and ratios.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/pinning.hpp"
#include "bench/report.hpp"

namespace kqfs::bench {

// One kind of call, measured on its own.
struct PinnedCall {
  std::string name;   // in the ratio lines: "kqfsd", "floor", "epoll"
  std::string what;   // the table's row
  pid_t daemon = -1;  // pinned with the client; -1: no daemon
  std::function<void()> call;
};

// Each kind of call timed in every placement of client_daemon_placements(),
// seconds per call, one value per repetition.
class PinnedCalls {
 public:
  // How the calls were placed, for a case's setup text.
  static constexpr const char* kSetupText =
      "The client thread and every thread of the daemon pinned (sched_setaffinity) to one\n"
      "CPU, then the daemon to another.\n";

  // Makes count / 10 untimed calls of each kind, then per repetition, in
  // every placement, `count` timed calls of each kind (all interleaved).
  PinnedCalls(std::vector<PinnedCall> calls, int count, int repetitions);

  // The rows: per placement, the time per call of each kind, and with
  // `as_rates` its calls per second too (`unit` names a call).
  void report_rows(Report& report, bool as_rates, const std::string& unit) const;

  // Per placement, the ratio of call `numerator` to call `denominator`,
  // time per call over time per call, named `<figure>_<placement>.<a>/<b>`.
  void report_ratios(Report& report, const std::string& figure, size_t numerator,
                     size_t denominator, std::optional<Target> target) const;

  // Notes on what could not be placed: a second CPU, or kqfsd (pid unknown).
  void note_placement(Report& report, pid_t kqfsd) const;

 private:
  std::vector<PinnedCall> calls_;
  std::vector<CpuPlacement> placements_;
  std::vector<std::vector<std::vector<double>>> seconds_;  // [placement][call][repetition]
};

}  // namespace kqfs::bench
