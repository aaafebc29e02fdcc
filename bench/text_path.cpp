// Case 5, the text path a shell user takes: `head -n1 events` after a user
// event was triggered, and bash's `read -r line < events`, each a process
// spawned and waited for (process start included), against the same
// commands on a FIFO that already holds a line.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/cases.hpp"
#include "bench/clock.hpp"
#include "bench/errors.hpp"
#include "bench/process.hpp"
#include "bench/queue.hpp"
#include "bench/records.hpp"
#include "tests/support/descriptors.hpp"
#include "tests/support/private_kqfsd.hpp"

namespace kqfs::bench {
namespace {

constexpr const char* kHead = "/usr/bin/head";
constexpr const char* kBash = "/bin/bash";
// The path comes in as $1; the line is printed so that it can be checked.
constexpr const char* kReadScript = "read -r line < \"$1\" && printf '%s\\n' \"$line\"";
constexpr uint64_t kIdent = 1;
// What `head -n1 events` prints for the triggered knote; the FIFO is fed
// the same line.
constexpr const char* kEventLine = "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 1\n";

// Where a command's standard output goes, to be checked after it exits.
class OutputPipe {
 public:
  OutputPipe() {
    if (!pipe_.ok()) throw_errno("pipe2");
  }
  int write_end() const { return pipe_.w(); }
  // Everything written so far.
  std::string take() const { return test_support::read_all(pipe_.r()); }

 private:
  test_support::Pipe pipe_;
};

// Seconds from spawning `command` to reaping it; throws unless it exits 0
// having printed `expected`.
double timed_run(const CommandLine& command, const OutputPipe& output,
                 const std::string& expected) {
  const Stopwatch stopwatch;
  const int status = run_and_wait(command, output.write_end());
  const double seconds = stopwatch.seconds();
  const std::string printed = output.take();
  if (status != 0 || printed != expected) {
    throw std::runtime_error(command.text() + " exited " + std::to_string(status) + " printing '" +
                             printed + "', not '" + expected + "'");
  }
  return seconds;
}

// A queue with one user event, triggered before each command reads it.
class TriggeredEvents {
 public:
  explicit TriggeredEvents(const MountView& mount)
      : queue_(mount.path, "bench-text"), changes_(queue_.open("changes.bin", O_WRONLY)) {
    const Kevent add = user_event_add(kIdent);
    write_records(changes_.get(), {&add, 1});
  }
  std::string events_path() const { return queue_.file("events"); }
  void prepare() const {
    const Kevent trigger = user_event_trigger(kIdent);
    write_records(changes_.get(), {&trigger, 1});
  }

 private:
  MountQueue queue_;
  UniqueFd changes_;
};

// A FIFO kept open for writing here, fed one line before each command.
class FedFifo {
 public:
  FedFifo() : directory_("kqfs-bench-fifo"), path_(directory_.path() + "/fifo") {
    if (::mkfifo(path_.c_str(), 0600) != 0) throw_errno("mkfifo " + path_);
    // O_RDWR: open without waiting for a reader; readers never see its end.
    holder_.reset(::open(path_.c_str(), O_RDWR | O_CLOEXEC));
    if (!holder_) throw_errno("open " + path_);
  }
  const std::string& path() const { return path_; }
  void prepare() const {
    const std::string line = kEventLine;
    if (::write(holder_.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      throw_errno("write " + path_);
    }
  }

 private:
  test_support::TemporaryDirectory directory_;
  std::string path_;
  UniqueFd holder_;
};

// The median over `runs` of one command on one source.
template <class Source>
double median_run(const Source& source, const CommandLine& command, const OutputPipe& output,
                  int runs) {
  std::vector<double> seconds;
  for (int i = 0; i < runs; ++i) {
    source.prepare();
    seconds.push_back(timed_run(command, output, kEventLine));
  }
  return median(seconds);
}

}  // namespace

void run_text_path(Context& context) {
  const int runs = context.size(40, 5);
  const int repetitions = context.settings.repetitions;
  Report& report = context.report;

  const TriggeredEvents events(context.mounts.shared());
  const FedFifo fifo;
  const OutputPipe output;
  const CommandLine head_events({kHead, "-n1", events.events_path()});
  const CommandLine head_fifo({kHead, "-n1", fifo.path()});
  const CommandLine read_events({kBash, "-c", kReadScript, "bash", events.events_path()});
  const CommandLine read_fifo({kBash, "-c", kReadScript, "bash", fifo.path()});

  median_run(events, head_events, output, 2);  // warm-up: page cache, dentries
  median_run(fifo, head_fifo, output, 2);
  std::vector<double> head_mount, head_baseline, read_mount, read_baseline;
  for (int repetition = 0; repetition < repetitions; ++repetition) {
    head_mount.push_back(median_run(events, head_events, output, runs));
    head_baseline.push_back(median_run(fifo, head_fifo, output, runs));
    read_mount.push_back(median_run(events, read_events, output, runs));
    read_baseline.push_back(median_run(fifo, read_fifo, output, runs));
  }

  report.begin_case(
      "5. Text path",
      "A process spawned (posix_spawn) and waited for, process start included: `head -n1 FILE`\n"
      "and `bash -c 'read -r line < FILE'`, FILE the text events file of a queue whose user\n"
      "event was just triggered, or a FIFO already holding the same line.\n"
      "Median of " +
          std::to_string(runs) + " runs per repetition, " + std::to_string(repetitions) +
          " repetitions, interleaved.");
  report.row("head -n1 events (kqfs mount)", summarize(head_mount), Quantity::duration,
             Better::lower);
  report.row("head -n1 FIFO", summarize(head_baseline), Quantity::duration, Better::lower);
  report.row("bash read < events (kqfs mount)", summarize(read_mount), Quantity::duration,
             Better::lower);
  report.row("bash read < FIFO", summarize(read_baseline), Quantity::duration, Better::lower);
  report.ratio("text_head.mount/fifo", "ratio head: mount / FIFO",
               summarize(ratios(head_mount, head_baseline)), Better::lower, std::nullopt);
  report.ratio("text_read.mount/fifo", "ratio read: mount / FIFO",
               summarize(ratios(read_mount, read_baseline)), Better::lower, std::nullopt);
  report.end_case();
}

}  // namespace kqfs::bench
