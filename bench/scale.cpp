// Case 4, scale: a million idle timer knotes (24 h period) in one queue
// through the mount. The daemon's memory growth per knote (VmRSS before and
// after), the time to register them in large writes, and the per-event cost
// of case 1's user-event rounds on that queue against a queue with ten
// timers. Each repetition has a daemon of its own (unless --mount), so that
// memory freed by earlier work does not hide the growth.
#include <fcntl.h>

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench/cases.hpp"
#include "bench/clock.hpp"
#include "bench/queue.hpp"
#include "bench/records.hpp"
#include "bench/user_event_rounds.hpp"

namespace kqfs::bench {
namespace {

constexpr size_t kRecordsPerWrite = 32 * 1024;  // 1 MiB writes
constexpr size_t kFewTimers = 10;
constexpr int kAlternations = 3;  // ten, many, ten, many, ...

// Registers `timers` in writes of kRecordsPerWrite records; returns the
// seconds it took.
double register_in_large_writes(const MountQueue& queue, const std::vector<Kevent>& timers) {
  const UniqueFd changes = queue.open("changes.bin", O_WRONLY);
  const std::span<const Kevent> all(timers);
  const Stopwatch stopwatch;
  for (size_t first = 0; first < all.size(); first += kRecordsPerWrite) {
    write_records(changes.get(),
                  all.subspan(first, std::min(kRecordsPerWrite, all.size() - first)));
  }
  return stopwatch.seconds();
}

struct Repetition {
  std::optional<double> bytes_per_knote;
  std::optional<double> resident_after;
  double registration_seconds = 0;
  double few_cost = 0;   // seconds per event with kFewTimers timers
  double many_cost = 0;  // seconds per event with the many timers
};

Repetition measure_once(Context& context, const std::vector<Kevent>& timers,
                        double seconds_per_measurement) {
  const Mounts::Lease lease = context.mounts.dedicated();
  const MountView& mount = lease.view();
  const MountQueue few(mount.path, "bench-scale-ten");
  const MountQueue many(mount.path, "bench-scale-many");
  register_in_large_writes(few, records_for(1, kFewTimers, idle_timer_add));
  MountUserEventRounds few_rounds(few), many_rounds(many);
  for (int i = 0; i < 10; ++i) {
    few_rounds.round();
    many_rounds.round();
  }

  Repetition result;
  const auto before = resident_bytes(mount.daemon);
  result.registration_seconds = register_in_large_writes(many, timers);
  const auto after = resident_bytes(mount.daemon);
  if (before && after) {
    result.bytes_per_knote =
        static_cast<double>(*after - *before) / static_cast<double>(timers.size());
    result.resident_after = static_cast<double>(*after);
  }

  std::vector<double> few_rates, many_rates;
  for (int i = 0; i < kAlternations; ++i) {
    few_rates.push_back(steps_per_second([&] { few_rounds.round(); }, seconds_per_measurement));
    many_rates.push_back(steps_per_second([&] { many_rounds.round(); }, seconds_per_measurement));
  }
  result.few_cost = 1 / (median(few_rates) * kUserKnotes);
  result.many_cost = 1 / (median(many_rates) * kUserKnotes);
  return result;
}

}  // namespace

void run_scale(Context& context) {
  const size_t count = context.size<size_t>(1'000'000, 100'000);
  const double seconds_per_measurement = context.size(0.3, 0.1);
  const int repetitions = context.settings.repetitions;
  Report& report = context.report;
  const std::vector<Kevent> timers = records_for(1, count, idle_timer_add);
  const std::string many = count == 1'000'000 ? "million" : std::to_string(count);

  std::vector<double> bytes_per_knote, resident, registration_seconds, registration_rates;
  std::vector<double> few_costs, many_costs;
  for (int repetition = 0; repetition < repetitions; ++repetition) {
    const Repetition result = measure_once(context, timers, seconds_per_measurement);
    if (result.bytes_per_knote) {
      bytes_per_knote.push_back(*result.bytes_per_knote);
      resident.push_back(*result.resident_after);
    }
    registration_seconds.push_back(result.registration_seconds);
    registration_rates.push_back(static_cast<double>(count) / result.registration_seconds);
    few_costs.push_back(result.few_cost);
    many_costs.push_back(result.many_cost);
  }

  report.begin_case("4. Scale",
                    std::to_string(count) + " idle EV_ADD timers (24 h period) in one queue, " +
                        "registered through the mount\n"
                        "in 1 MiB writes to changes.bin, a fresh daemon per repetition; then " +
                        "case 1's user-event\nrounds on that queue vs on a queue with " +
                        std::to_string(kFewTimers) + " timers (" + std::to_string(kAlternations) +
                        " alternations of " +
                        format_quantity(seconds_per_measurement, Quantity::duration) + "). " +
                        std::to_string(repetitions) + " repetitions.");
  if (!bytes_per_knote.empty()) {
    report.figure("scale.daemon_bytes_per_knote", "daemon memory per timer knote (VmRSS growth)",
                  summarize(bytes_per_knote), Quantity::bytes, Better::lower,
                  Target{Better::lower, 200});
    report.row("daemon VmRSS holding them", summarize(resident), Quantity::bytes, Better::lower);
  } else {
    report.note("the daemon's pid is unknown: no memory figures");
  }
  report.row("time to register them", summarize(registration_seconds), Quantity::duration,
             Better::lower);
  report.row("registration rate", summarize(registration_rates), Quantity::rate, Better::higher);
  report.row("per-event cost, queue with " + std::to_string(kFewTimers) + " timers",
             summarize(few_costs), Quantity::duration, Better::lower);
  report.row("per-event cost, queue with " + std::to_string(count) + " timers",
             summarize(many_costs), Quantity::duration, Better::lower);
  report.ratio("scale.event_cost." + many + "/ten",
               "ratio cost with " + many + " / with " + std::to_string(kFewTimers),
               summarize(ratios(many_costs, few_costs)), Better::lower, Target{Better::lower, 1.2});
  report.end_case();
}

}  // namespace kqfs::bench
