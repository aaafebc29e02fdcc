// Case 5, signal knotes: the time to add an EVFILT_SIGNAL knote to a new
// queue, through the mount and with the in-process engine, and the tracefs
// instances (and their kernel ring buffers) the daemon holds for many queues
// with a signal knote each. Needs root, as signal tracing does.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/cases.hpp"
#include "bench/clock.hpp"
#include "bench/errors.hpp"
#include "bench/queue.hpp"
#include "kqfs/constants.h"
#include "kqfs/kqueue.hpp"
#include "kqfs/linux/signal_trace.hpp"
#include "tests/support/signals.hpp"

namespace kqfs::bench {
namespace {

constexpr const char* kInstances = "/sys/kernel/tracing/instances";
constexpr int kEventPatienceMs = 5000;

Kevent signal_add(int signal) {
  return Kevent{static_cast<uint64_t>(signal), EVFILT_SIGNAL, EV_ADD, 0, 0, 0};
}

// The tracefs instances of process `owner` (kqfs names them kqfs-PID-...).
std::vector<std::filesystem::path> instances_of(pid_t owner) {
  std::vector<std::filesystem::path> found;
  const std::string prefix = "kqfs-" + std::to_string(owner) + "-";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(kInstances, error)) {
    if (entry.path().filename().string().starts_with(prefix)) found.push_back(entry.path());
  }
  return found;
}

// The kernel memory of their ring buffers, all CPUs (buffer_total_size_kb).
double ring_buffer_bytes(const std::vector<std::filesystem::path>& instances) {
  double total = 0;
  for (const auto& instance : instances) {
    std::ifstream size(instance / "buffer_total_size_kb");
    double kilobytes = 0;
    size >> kilobytes;
    total += kilobytes * 1024;
  }
  return total;
}

struct MountRun {
  std::vector<double> add_seconds;  // one per queue
  size_t instances = 0;             // the daemon's, while the knotes exist
  double ring_buffer_bytes = 0;
};

// Makes `count` queues, then times the write of one SIGUSR1 EV_ADD to each;
// checks that each knote counts one SIGUSR1 sent to this process.
MountRun add_through_mount(const MountView& mount, size_t count) {
  std::vector<std::unique_ptr<MountQueue>> queues;
  std::vector<UniqueFd> changes;
  for (size_t i = 0; i < count; ++i) {
    queues.push_back(std::make_unique<MountQueue>(mount.path, "bench-signal-" + std::to_string(i)));
    changes.push_back(queues.back()->open("changes.bin", O_WRONLY));
  }
  MountRun run;
  const Kevent add = signal_add(SIGUSR1);
  for (const UniqueFd& fd : changes) {
    const Stopwatch stopwatch;
    write_records(fd.get(), std::span(&add, 1));
    run.add_seconds.push_back(stopwatch.seconds());
  }
  const auto instances = instances_of(mount.daemon);
  run.instances = instances.size();
  run.ring_buffer_bytes = ring_buffer_bytes(instances);

  if (::kill(::getpid(), SIGUSR1) != 0) throw_errno("kill SIGUSR1");
  for (const auto& queue : queues) {
    const UniqueFd events = queue->open("events.bin", O_RDONLY | O_NONBLOCK);
    pollfd ready{events.get(), POLLIN, 0};
    if (::poll(&ready, 1, kEventPatienceMs) != 1) {
      throw std::runtime_error("signals: a queue never reported the SIGUSR1");
    }
    Kevent event{};
    if (read_records(events.get(), std::span(&event, 1)) != 1 || event.data != 1) {
      throw std::runtime_error("signals: a queue counted " + std::to_string(event.data) +
                               " SIGUSR1, not 1");
    }
  }
  return run;
}

// The same with `count` in-process queues sharing `tracer`, or with none
// given, each with a tracefs instance of its own.
std::vector<double> add_in_engine(size_t count, const std::shared_ptr<SignalTracer>& tracer) {
  std::vector<std::unique_ptr<Kqueue>> queues;
  for (size_t i = 0; i < count; ++i)
    queues.push_back(std::make_unique<Kqueue>(Kqueue::Limits{}, Kqueue::Shared{tracer}));
  std::vector<double> seconds;
  for (const auto& queue : queues) {
    const Stopwatch stopwatch;
    if (const int error = queue->apply(signal_add(SIGUSR1)); error != 0) {
      throw_error(error, "engine: EV_ADD SIGUSR1");
    }
    seconds.push_back(stopwatch.seconds());
  }
  if (tracer && instances_of(::getpid()).size() != 1) {
    throw std::runtime_error("signals: in-process queues sharing a tracer made " +
                             std::to_string(instances_of(::getpid()).size()) + " instances");
  }
  return seconds;
}

}  // namespace

void run_signals(Context& context) {
  Report& report = context.report;
  const size_t mount_queues = context.size<size_t>(100, 10);
  const size_t own_queues = context.size<size_t>(20, 4);
  const int repetitions = context.settings.repetitions;
  const std::string setup =
      "EV_ADD of a SIGUSR1 knote to a new queue, the write or apply() alone timed: " +
      std::to_string(mount_queues) + " queues\nthrough the mount (one daemon, warmed up), as " +
      "many in-process queues sharing one SignalTracer\n(warmed up), " +
      std::to_string(own_queues) +
      " in-process queues with a tracefs instance each. Through the mount, one\nSIGUSR1 "
      "after, which each queue must count. Median per repetition, " +
      std::to_string(repetitions) + " repetitions.";

  const MountView mount = context.mounts.shared();
  // SIGUSR1 ignored: the knotes count it, nothing else happens.
  const test_support::ScopedSignalAction ignored(SIGUSR1, SIG_IGN, 0);
  {
    // Warm-up, untimed; also tells whether this host allows signal tracing.
    const MountQueue probe(mount.path, "bench-signal-probe");
    const UniqueFd changes = probe.open("changes.bin", O_WRONLY);
    const Kevent add = signal_add(SIGUSR1);
    if (::write(changes.get(), &add, sizeof add) < 0) {
      report.begin_case("5. Signal knotes", setup);
      report.note(std::string("not measured: EV_ADD of a signal knote failed (") +
                  std::strerror(errno) + "): signal tracing needs a root daemon");
      report.end_case();
      return;
    }
  }

  // Like the daemon's: made once, warmed up by a first add.
  const auto tracer = std::make_shared<SignalTracer>();
  add_in_engine(1, tracer);
  std::vector<double> mount_add, shared_add, own_add, instances, buffers;
  for (int repetition = 0; repetition < repetitions; ++repetition) {
    const MountRun run = add_through_mount(mount, mount_queues);
    mount_add.push_back(median(run.add_seconds));
    instances.push_back(static_cast<double>(run.instances));
    buffers.push_back(run.ring_buffer_bytes);
    shared_add.push_back(median(add_in_engine(mount_queues, tracer)));
    own_add.push_back(median(add_in_engine(own_queues, nullptr)));
  }

  report.begin_case("5. Signal knotes", setup);
  report.figure("signal.add_seconds", "kqfs mount: add a signal knote to a new queue",
                summarize(mount_add), Quantity::duration, Better::lower,
                Target{Better::lower, 1e-3});
  report.row("in-process engine, one shared SignalTracer", summarize(shared_add),
             Quantity::duration, Better::lower);
  report.row("in-process engine, own tracefs instance per queue", summarize(own_add),
             Quantity::duration, Better::lower);
  report.ratio("signal.add.mount/engine_shared", "ratio mount / engine, shared tracer (time)",
               summarize(ratios(mount_add, shared_add)), Better::lower, std::nullopt);
  report.ratio("signal.add.mount/engine_own", "ratio mount / engine, own instance (time)",
               summarize(ratios(mount_add, own_add)), Better::lower, std::nullopt);
  if (mount.daemon > 0) {
    report.figure("signal.daemon_instances",
                  "daemon tracefs instances, " + std::to_string(mount_queues) + " queues",
                  summarize(instances), Quantity::count, Better::lower, Target{Better::lower, 1});
    report.row("their kernel ring buffers (buffer_total_size_kb)", summarize(buffers),
               Quantity::bytes, Better::lower);
  } else {
    report.note("the daemon's pid is unknown: its tracefs instances are not counted");
  }
  report.end_case();
}

}  // namespace kqfs::bench
