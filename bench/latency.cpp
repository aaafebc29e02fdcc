// Case 2, wake-up latency: one thread writes a byte to a pipe, another,
// blocked, sees the event; one-way time from just before write() to just
// after the blocked call returns (CLOCK_MONOTONIC, passed through memory).
// The reader blocks in a read of events.bin (an EVFILT_READ, EV_CLEAR knote
// on the pipe's read end), in poll() on the in-process engine's fd followed
// by collect(), or in a raw epoll_wait on the pipe.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "bench/cases.hpp"
#include "bench/errors.hpp"
#include "bench/queue.hpp"
#include "bench/records.hpp"
#include "bench/wakeups.hpp"
#include "kqfs/kqueue.hpp"

namespace kqfs::bench {
namespace {

// The three readers, each watching its own pipe.
class MountReader {
 public:
  MountReader(const MountQueue& queue, const Pipe& pipe)
      : changes_(queue.open("changes.bin", O_WRONLY)), events_(queue.open("events.bin", O_RDONLY)) {
    const Kevent add = read_add_clear(pipe.read_end.get());
    write_records(changes_.get(), {&add, 1});
  }
  void wait_for_event() {
    Kevent received[4096 / sizeof(Kevent)];
    read_records(events_.get(), received);
  }

 private:
  UniqueFd changes_;
  UniqueFd events_;
};

class EngineReader {
 public:
  explicit EngineReader(const Pipe& pipe) {
    if (const int error = kq_.apply(read_add_clear(pipe.read_end.get())); error != 0) {
      throw_error(error, "engine: EV_ADD EVFILT_READ");
    }
  }
  void wait_for_event() {
    Kevent received[1];
    do {
      pollfd readable{kq_.fd(), POLLIN, 0};
      if (::poll(&readable, 1, -1) < 0 && errno != EINTR) throw_errno("poll");
    } while (kq_.collect(received) == 0);
  }

 private:
  Kqueue kq_;
};

}  // namespace

void run_latency(Context& context) {
  const int iterations = context.size(20'000, 1'000);
  const int warm_up = context.size(500, 100);
  const int repetitions = context.settings.repetitions;
  Report& report = context.report;

  const MountView mount = context.mounts.shared();
  const MountQueue queue(mount.path, "bench-latency");
  Pipe mount_pipe, engine_pipe, epoll_pipe;
  MountReader through_mount(queue, mount_pipe);
  EngineReader engine(engine_pipe);
  EpollPipeReader epoll(epoll_pipe);

  const Placement placement = Placement::choose();
  const std::vector<Percentiles> latencies =
      measure_wakeup_variants({{mount_pipe, mount.daemon, [&] { through_mount.wait_for_event(); }},
                               {engine_pipe, -1, [&] { engine.wait_for_event(); }},
                               {epoll_pipe, -1, [&] { epoll.wait_for_event(); }}},
                              placement, iterations, warm_up, repetitions);
  const Percentiles& mount_latency = latencies[0];
  const Percentiles& engine_latency = latencies[1];
  const Percentiles& epoll_latency = latencies[2];

  report.begin_case(
      "2. Wake-up latency",
      "One thread writes a byte to a pipe while another is blocked waiting for it: in a read\n"
      "of events.bin (EVFILT_READ, EV_CLEAR), in poll on Kqueue::fd() + collect, or in\n"
      "epoll_wait.\n" +
          wakeup_setup_text(placement, iterations, repetitions));
  auto compare = [&](const std::string& percentile, std::vector<double> Percentiles::*series,
                     std::optional<Target> mount_target) {
    report.compare({.name = "latency_" + percentile,
                    .baseline = "epoll",
                    .prefix = percentile + " ",
                    .unit = "",
                    .rows = {percentile + ", kqfs mount (read of events.bin)",
                             percentile + ", in-process engine (poll + collect)",
                             percentile + ", raw epoll_wait"},
                    .quantity = Quantity::duration,
                    .better = Better::lower,
                    .mount_target = mount_target,
                    .engine_target = std::nullopt},
                   {mount_latency.*series, engine_latency.*series, epoll_latency.*series});
  };
  compare("p50", &Percentiles::p50, Target{Better::lower, 2.0});
  compare("p99", &Percentiles::p99, std::nullopt);
  if (mount.daemon <= 0) {
    report.note("the daemon's pid is unknown: writes did not wait for it to be idle");
  }
  report.end_case();
}

}  // namespace kqfs::bench
