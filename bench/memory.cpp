// Case 6, memory given back: the daemon's resident memory (VmRSS) before a
// queue is made, while it holds a million idle timer knotes, and after its
// rmdir; the target is after/before within 10 %. A fresh daemon per
// repetition (unless --mount), warmed up first by a queue given one 1 MiB
// write, so that "before" includes what any daemon keeps once it has
// served one (libfuse's request buffer, as large as the largest write).
#include <fcntl.h>

#include <algorithm>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/cases.hpp"
#include "bench/clock.hpp"
#include "bench/queue.hpp"
#include "bench/records.hpp"

namespace kqfs::bench {
namespace {

constexpr size_t kRecordsPerWrite = 32 * 1024;  // 1 MiB writes

void register_timers(const MountQueue& queue, const std::vector<Kevent>& timers) {
  const UniqueFd changes = queue.open("changes.bin", O_WRONLY);
  const std::span<const Kevent> all(timers);
  for (size_t first = 0; first < all.size(); first += kRecordsPerWrite) {
    write_records(changes.get(),
                  all.subspan(first, std::min(kRecordsPerWrite, all.size() - first)));
  }
}

int64_t resident(pid_t daemon) {
  const auto bytes = resident_bytes(daemon);
  if (!bytes) throw std::runtime_error("memory: cannot read the daemon's VmRSS");
  return *bytes;
}

struct Repetition {
  double before = 0;  // bytes
  double holding = 0;
  double after = 0;
  double rmdir_seconds = 0;
};

// Nothing when the daemon's pid is unknown (--mount).
std::optional<Repetition> measure_once(Context& context, const std::vector<Kevent>& timers) {
  const Mounts::Lease lease = context.mounts.dedicated();
  const MountView& mount = lease.view();
  if (mount.daemon <= 0) return std::nullopt;
  {
    const MountQueue warm_up(mount.path, "bench-memory-warm-up");
    register_timers(warm_up, records_for(1, kRecordsPerWrite, idle_timer_add));
  }
  Repetition result;
  result.before = static_cast<double>(resident(mount.daemon));
  std::optional<MountQueue> queue(std::in_place, mount.path, "bench-memory");
  register_timers(*queue, timers);
  result.holding = static_cast<double>(resident(mount.daemon));
  const Stopwatch stopwatch;
  queue.reset();  // rmdir
  result.rmdir_seconds = stopwatch.seconds();
  result.after = static_cast<double>(resident(mount.daemon));
  return result;
}

}  // namespace

void run_memory(Context& context) {
  const size_t count = context.size<size_t>(1'000'000, 100'000);
  const int repetitions = context.settings.repetitions;
  Report& report = context.report;
  const std::vector<Kevent> timers = records_for(1, count, idle_timer_add);

  std::vector<double> before, holding, after, rmdir_seconds, after_over_before;
  for (int repetition = 0; repetition < repetitions; ++repetition) {
    const auto measured = measure_once(context, timers);
    if (!measured) break;
    const Repetition& result = *measured;
    before.push_back(result.before);
    holding.push_back(result.holding);
    after.push_back(result.after);
    rmdir_seconds.push_back(result.rmdir_seconds);
    after_over_before.push_back(result.after / result.before);
  }

  report.begin_case("6. Memory given back",
                    "The daemon's VmRSS before a queue, with " + std::to_string(count) +
                        " idle EV_ADD timers in it (1 MiB writes to\nchanges.bin), and after "
                        "its rmdir; a fresh daemon per repetition, warmed up by a queue\ngiven "
                        "one 1 MiB write. " +
                        std::to_string(repetitions) + " repetitions.");
  if (before.empty()) {
    report.note("the daemon's pid is unknown: no memory figures");
    report.end_case();
    return;
  }
  report.row("daemon VmRSS before the queue", summarize(before), Quantity::bytes, Better::lower);
  report.row("daemon VmRSS holding " + std::to_string(count) + " knotes", summarize(holding),
             Quantity::bytes, Better::lower);
  report.row("daemon VmRSS after its rmdir", summarize(after), Quantity::bytes, Better::lower);
  report.row("rmdir of the queue", summarize(rmdir_seconds), Quantity::duration, Better::lower);
  report.ratio("memory.after_rmdir/before", "ratio VmRSS after rmdir / before",
               summarize(after_over_before), Better::lower, Target{Better::lower, 1.1});
  report.end_case();
}

}  // namespace kqfs::bench
