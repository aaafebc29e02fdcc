#include "bench/wakeups.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "bench/clock.hpp"
#include "bench/errors.hpp"
#include "bench/pinning.hpp"
#include "bench/stats.hpp"

namespace kqfs::bench {
namespace {

// Whether a thread or process is blocked, from the state in its
// /proc/.../stat (one pread per look): S, or D (a FUSE request waits
// killably once the daemon has it, on some kernels).
class SleepProbe {
 public:
  explicit SleepProbe(const std::string& stat_path)
      : stat_(::open(stat_path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (!stat_) throw_errno("open " + stat_path);
  }

  bool asleep() const {
    char text[512];
    const ssize_t length = ::pread(stat_.get(), text, sizeof text - 1, 0);
    if (length <= 0) return false;
    const std::string_view stat(text, static_cast<size_t>(length));
    const size_t after_name = stat.rfind(") ");
    if (after_name == std::string_view::npos || after_name + 2 >= stat.size()) return false;
    const char state = stat[after_name + 2];
    return state == 'S' || state == 'D';
  }

 private:
  UniqueFd stat_;
};

// How long the writer waits for the reader and the daemon to block.
constexpr int64_t kPatienceNs = 1'000'000'000;

// What the writer and the reader share: the writer's timestamp, and the
// handshake that lets only one event be in flight.
struct Handshake {
  std::atomic<int64_t> sent_at_ns{0};
  std::atomic<int> armed{0};  // the iteration (from 1) the reader waits for; -1: it failed
  std::atomic<bool> writer_failed{false};
  std::atomic<pid_t> reader_thread{0};
};

}  // namespace

Pipe::Pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  if (::fcntl(read_end.get(), F_SETFL, O_NONBLOCK) != 0) throw_errno("fcntl O_NONBLOCK");
}

void Pipe::ring() {
  if (::write(write_end.get(), "x", 1) != 1) throw_errno("write pipe");
}

void Pipe::drain() const {
  char bytes[64];
  while (::read(read_end.get(), bytes, sizeof bytes) > 0) {
  }
}

EpollPipeReader::EpollPipeReader(const Pipe& pipe) : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_) throw_errno("epoll_create1");
  epoll_add(epoll_.get(), pipe.read_end.get(), EPOLLIN | EPOLLET);
}

void EpollPipeReader::wait_for_event() {
  epoll_event event;
  while (::epoll_wait(epoll_.get(), &event, 1, -1) != 1) {
    if (errno != EINTR) throw_errno("epoll_wait");
  }
}

void Percentiles::add(const std::vector<double>& latencies) {
  p50.push_back(percentile(latencies, 0.50));
  p99.push_back(percentile(latencies, 0.99));
}

Placement Placement::choose() {
  const std::vector<int> cpus = allowed_cpus(2);
  return Placement{cpus.front(), cpus.back()};
}

std::string Placement::text() const {
  return writer_cpu == reader_cpu
             ? "Writer and reader on CPU " + std::to_string(writer_cpu) + " (only one allowed)"
             : "Writer pinned to CPU " + std::to_string(writer_cpu) + ", reader to CPU " +
                   std::to_string(reader_cpu);
}

std::vector<double> measure_wakeups(Doorbell& doorbell, int iterations, pid_t daemon,
                                    const Placement& placement,
                                    const std::function<void()>& wait_for_event) {
  Handshake handshake;
  std::vector<double> latencies(static_cast<size_t>(iterations));
  std::exception_ptr reader_error, writer_error;

  std::jthread reader([&] {
    handshake.reader_thread.store(::gettid());
    try {
      pin_this_thread(placement.reader_cpu);
      for (int i = 0; i < iterations; ++i) {
        handshake.armed.store(i + 1, std::memory_order_release);
        handshake.armed.notify_one();
        wait_for_event();
        const int64_t seen_ns = monotonic_ns();
        if (handshake.writer_failed.load()) return;  // woken by abandon()
        latencies[static_cast<size_t>(i)] =
            static_cast<double>(seen_ns - handshake.sent_at_ns.load(std::memory_order_acquire)) *
            1e-9;
        doorbell.clear();
      }
    } catch (...) {
      reader_error = std::current_exception();
      handshake.armed.store(-1);
      handshake.armed.notify_one();
    }
  });

  std::jthread writer([&] {
    // Short sleeps between looks at the reader's state.
    ::prctl(PR_SET_TIMERSLACK, 1UL);
    const timespec pause{0, 2000};
    try {
      pin_this_thread(placement.writer_cpu);
      // Waits until the reader is ready for iteration `wanted`; false if it failed.
      auto reader_ready_for = [&](int wanted) {
        int armed;
        while ((armed = handshake.armed.load(std::memory_order_acquire)) != wanted && armed >= 0)
          handshake.armed.wait(armed);
        return armed >= 0;
      };
      if (iterations == 0 || !reader_ready_for(1)) return;
      const SleepProbe reader_state("/proc/self/task/" +
                                    std::to_string(handshake.reader_thread.load()) + "/stat");
      const auto daemon_state =
          daemon > 0 ? std::make_unique<SleepProbe>("/proc/" + std::to_string(daemon) + "/stat")
                     : nullptr;
      for (int i = 0; i < iterations; ++i) {
        if (!reader_ready_for(i + 1)) return;
        // Bounded, so that a daemon busy with other clients cannot stall the run.
        const int64_t give_up_ns = monotonic_ns() + kPatienceNs;
        while ((!reader_state.asleep() || (daemon_state && !daemon_state->asleep())) &&
               monotonic_ns() < give_up_ns)
          ::nanosleep(&pause, nullptr);
        handshake.sent_at_ns.store(monotonic_ns(), std::memory_order_release);
        doorbell.ring();
      }
    } catch (...) {
      writer_error = std::current_exception();
      handshake.writer_failed.store(true);
      // The reader wakes and sees writer_failed.
      doorbell.abandon();
    }
  });
  writer.join();
  reader.join();
  if (writer_error) std::rethrow_exception(writer_error);
  if (reader_error) std::rethrow_exception(reader_error);
  return latencies;
}

std::vector<Percentiles> measure_wakeup_variants(const std::vector<WakeupVariant>& variants,
                                                 const Placement& placement, int iterations,
                                                 int warm_up, int repetitions) {
  for (const WakeupVariant& variant : variants) {
    measure_wakeups(variant.doorbell, warm_up, variant.daemon, placement, variant.wait_for_event);
  }
  std::vector<Percentiles> latencies(variants.size());
  for (int repetition = 0; repetition < repetitions; ++repetition) {
    for (size_t i = 0; i < variants.size(); ++i) {
      latencies[i].add(measure_wakeups(variants[i].doorbell, iterations, variants[i].daemon,
                                       placement, variants[i].wait_for_event));
    }
  }
  return latencies;
}

std::string wakeup_setup_text(const Placement& placement, int iterations, int repetitions) {
  return "One-way time from write() to the wait's return; each write waits until the reader\n"
         "(and the daemon) sleep.\n" +
         placement.text() + ", the daemon where the scheduler puts it.\np50 and p99 of " +
         std::to_string(iterations) + " wake-ups per repetition, " + std::to_string(repetitions) +
         " repetitions, interleaved.";
}

}  // namespace kqfs::bench
