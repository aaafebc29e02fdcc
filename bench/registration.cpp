// Case 3, registration rate: 10 000 periodic timers (a period no run
// lasts) registered in one write of binary records to changes.bin, by the
// in-process engine's apply(), and with raw timerfd_create +
// timerfd_settime + epoll_ctl per timer.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <vector>

#include "bench/cases.hpp"
#include "bench/clock.hpp"
#include "bench/errors.hpp"
#include "bench/queue.hpp"
#include "bench/records.hpp"
#include "kqfs/kqueue.hpp"

namespace kqfs::bench {
namespace {

constexpr size_t kTimers = 10'000;

// Registrations per second of one write of `timers` to a new queue.
double register_through_mount(const MountView& mount, const std::vector<Kevent>& timers) {
  const MountQueue queue(mount.path, "bench-registration");
  const UniqueFd changes = queue.open("changes.bin", O_WRONLY);
  const Stopwatch stopwatch;
  write_records(changes.get(), timers);
  return static_cast<double>(timers.size()) / stopwatch.seconds();
}

// Registrations per second of apply() on a new in-process queue.
double register_in_engine(const std::vector<Kevent>& timers) {
  Kqueue kq;
  const Stopwatch stopwatch;
  for (const Kevent& timer : timers) {
    if (const int error = kq.apply(timer); error != 0) {
      throw_error(error, "engine: EV_ADD timer");
    }
  }
  return static_cast<double>(timers.size()) / stopwatch.seconds();
}

// Registrations per second of a timerfd per timer, armed and added to a new
// epoll (closing them afterwards is not timed).
double register_timerfds(size_t count) {
  const UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) throw_errno("epoll_create1");
  std::vector<UniqueFd> timers;
  timers.reserve(count);
  const itimerspec period{{kIdleTimerSeconds, 0}, {kIdleTimerSeconds, 0}};
  const Stopwatch stopwatch;
  for (size_t i = 0; i < count; ++i) {
    UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!timer) throw_errno("timerfd_create");
    if (::timerfd_settime(timer.get(), 0, &period, nullptr) != 0) {
      throw_errno("timerfd_settime");
    }
    epoll_add(epoll.get(), timer.get(), EPOLLIN, i);
    timers.push_back(std::move(timer));
  }
  return static_cast<double>(count) / stopwatch.seconds();
}

}  // namespace

void run_registration(Context& context) {
  const int repetitions =
      context.size(2 * context.settings.repetitions, context.settings.repetitions);
  Report& report = context.report;
  const MountView mount = context.mounts.shared();
  const std::vector<Kevent> timers = records_for(1, kTimers, idle_timer_add);

  // Warm-up, untimed: the daemon's and this process's first allocations.
  register_through_mount(mount, timers);
  register_in_engine(timers);
  register_timerfds(kTimers);
  const Variants rates = measure_interleaved(
      repetitions, [&] { return register_through_mount(mount, timers); },
      [&] { return register_in_engine(timers); }, [] { return register_timerfds(kTimers); });

  report.begin_case(
      "3. Registration rate",
      "10000 EV_ADD periodic timers (24 h period, none fires) on a new queue: one 320000-byte\n"
      "write to changes.bin; kqfs::Kqueue::apply per record; or timerfd_create +\n"
      "timerfd_settime + epoll_ctl per timer. " +
          std::to_string(repetitions) + " repetitions, interleaved. Registrations per second.");
  report.compare(
      {.name = "registration",
       .baseline = "timerfd",
       .prefix = "",
       .unit = "registrations/s",
       .rows = {"kqfs mount (one write to changes.bin)", "in-process engine (Kqueue::apply)",
                "raw timerfd + epoll_ctl per timer"},
       .quantity = Quantity::rate,
       .better = Better::higher,
       .mount_target = Target{Better::higher, 2.0},
       .engine_target = std::nullopt},
      rates);
  report.end_case();
}

}  // namespace kqfs::bench
