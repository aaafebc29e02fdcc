// The kevent-wakeup case: ping-pong wake-up latency as a BSD program sees
// it. A helper thread writes one byte to a pipe while the main thread is
// blocked in kevent() (client library) on EVFILT_READ of the pipe's read
// end, then reads the byte; against raw epoll_wait on the same pattern, and
// the FUSE floor: a thread writes the floor's file while the reader is
// blocked reading it. One-way time, p50 and p99.
#include <fcntl.h>
#include <sys/event.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "bench/cases.hpp"
#include "bench/client_kqueue.hpp"
#include "bench/errors.hpp"
#include "bench/floor_file.hpp"
#include "bench/wakeups.hpp"

namespace kqfs::bench {
namespace {

// Blocked in kevent() for the pipe's read end (EV_CLEAR: one event per
// write, as the epoll reader's EPOLLET).
class KeventReader {
 public:
  KeventReader(const std::string& mount_point, const Pipe& pipe) : kq_(mount_point) {
    struct kevent add;
    EV_SET(&add, pipe.read_end.get(), EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, 0);
    kq_.kevent({&add, 1}, {});
  }
  void wait_for_event() {
    struct kevent event;
    kq_.kevent({}, {&event, 1});
  }

 private:
  ClientKqueue kq_;
};

// The floor's wake-up: the reader blocks in a read of `f`, which the floor
// answers at the next write of `f`.
class FloorDoorbell final : public Doorbell {
 public:
  explicit FloorDoorbell(const MountView& floor) : writer_(open_floor_file(floor, O_WRONLY)) {}
  void ring() override { write_exactly(writer_.get(), "x", "f"); }
  void clear() override {}  // the read took the answer
  // Answers a read already parked; the floor is all the reader waits on.
  void abandon() noexcept override {
    [[maybe_unused]] auto ignored = ::write(writer_.get(), "x", 1);
  }

 private:
  UniqueFd writer_;
};

class FloorReader {
 public:
  explicit FloorReader(const MountView& floor) : reader_(open_floor_file(floor, O_RDONLY)) {}
  void wait_for_event() {
    char answer[16];
    ssize_t got;
    do {
      got = ::read(reader_.get(), answer, sizeof answer);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) throw_errno("read f");
  }

 private:
  UniqueFd reader_;
};

}  // namespace

void run_kevent_wakeup(Context& context) {
  const int iterations = context.size(5'000, 500);
  const int warm_up = context.size(500, 100);
  const int repetitions = context.settings.repetitions;
  Report& report = context.report;

  const MountView mount = context.mounts.shared();
  const MountView floor = context.mounts.floor();
  Pipe kevent_pipe, epoll_pipe;
  KeventReader kevent(mount.path, kevent_pipe);
  EpollPipeReader epoll(epoll_pipe);
  FloorDoorbell floor_doorbell(floor);
  FloorReader floor_reader(floor);

  const Placement placement = Placement::choose();
  const std::vector<Percentiles> latencies = measure_wakeup_variants(
      {{kevent_pipe, mount.daemon, [&] { kevent.wait_for_event(); }},
       {floor_doorbell, floor.daemon, [&] { floor_reader.wait_for_event(); }},
       {epoll_pipe, -1, [&] { epoll.wait_for_event(); }}},
      placement, iterations, warm_up, repetitions);
  const Percentiles& kevent_latency = latencies[0];
  const Percentiles& floor_latency = latencies[1];
  const Percentiles& epoll_latency = latencies[2];

  report.begin_case(
      "9. Wake-up through kevent()",
      "A helper thread writes a byte to a pipe while the main thread is blocked in kevent()\n"
      "(client library; EVFILT_READ, EV_CLEAR on the read end, one event of room), or in\n"
      "epoll_wait (EPOLLET); the FUSE floor: the helper writes kqfs-fuse-floor's file while\n"
      "the reader is blocked reading it.\n" +
          wakeup_setup_text(placement, iterations, repetitions));
  auto compare = [&](const std::string& percentile, std::vector<double> Percentiles::*series,
                     std::optional<Target> over_epoll_target) {
    report.row(percentile + ", kevent() (client library)", summarize(kevent_latency.*series),
               Quantity::duration, Better::lower);
    report.row(percentile + ", FUSE floor (read of f)", summarize(floor_latency.*series),
               Quantity::duration, Better::lower);
    report.row(percentile + ", raw epoll_wait", summarize(epoll_latency.*series),
               Quantity::duration, Better::lower);
    report.ratio("kevent_wakeup_" + percentile + ".kevent/epoll",
                 "ratio " + percentile + " kevent / epoll",
                 summarize(ratios(kevent_latency.*series, epoll_latency.*series)), Better::lower,
                 over_epoll_target);
    report.ratio("kevent_wakeup_" + percentile + ".kevent/floor",
                 "ratio " + percentile + " kevent / floor",
                 summarize(ratios(kevent_latency.*series, floor_latency.*series)), Better::lower,
                 std::nullopt);
  };
  compare("p50", &Percentiles::p50, Target{Better::lower, 2.0});
  compare("p99", &Percentiles::p99, std::nullopt);
  if (mount.daemon <= 0) {
    report.note("kqfsd's pid is unknown: writes did not wait for it to be idle");
  }
  report.end_case();
}

}  // namespace kqfs::bench
