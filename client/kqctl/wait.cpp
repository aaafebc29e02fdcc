// wait: events of MOUNT/kq/NAME, printed as text, JSON or binary records.
//
// Events are read from events.bin opened non-blocking, with poll waiting
// between reads until the deadline: a read never waits, so none can take an
// event after the deadline, when kqctl no longer prints. Each read asks for
// no more records than are still wanted, so no event is taken past COUNT.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <thread>

#include "client/kqctl/commands.hpp"
#include "client/kqctl/mount.hpp"
#include "client/kqctl/records.hpp"
#include "kqfs/codec/codec.hpp"

namespace kqctl {
namespace {

using Clock = std::chrono::steady_clock;
using kqfs::codec::kBinaryRecordSize;

// What wait prints unless an option names another format.
constexpr kqfs::codec::Format kDefaultFormat = kqfs::codec::Format::text;

// Records asked for by one read.
constexpr size_t kRecordsPerRead = 128;
// A timeout beyond this (about 31 years) is forever, and cannot overflow the clock.
constexpr double kLongestTimeout = 1e9;
// How long to let a stale readiness (a knote that turned out to have no
// event) settle before polling again, rather than spinning.
constexpr auto kStaleReadinessPause = std::chrono::milliseconds(10);

// When waiting ends: never, or a point on the monotonic clock.
class Deadline {
 public:
  explicit Deadline(std::optional<double> seconds) {
    if (seconds && *seconds <= kLongestTimeout) {
      at_ = Clock::now() +
            std::chrono::ceil<Clock::duration>(std::chrono::duration<double>(*seconds));
    }
  }

  bool passed() const { return at_ && Clock::now() >= *at_; }

  Clock::duration left() const {
    return at_ ? std::max(Clock::duration::zero(), *at_ - Clock::now()) : Clock::duration::max();
  }

  // For poll(2): -1 for never, else the milliseconds left rounded up, so that
  // poll does not return before the deadline.
  int poll_timeout() const {
    if (!at_) return -1;
    const auto milliseconds = std::chrono::ceil<std::chrono::milliseconds>(left()).count();
    return static_cast<int>(std::min<long long>(milliseconds, INT_MAX));
  }

 private:
  std::optional<Clock::time_point> at_;
};

std::string events_text(unsigned long long count) {
  return std::to_string(count) + (count == 1 ? " event" : " events");
}

}  // namespace

int run_wait(const Invocation& invocation) {
  Syntax syntax("wait", "NAME [-n COUNT] [-t SECONDS] [--json|--bin]",
                "Waits for COUNT events of queue NAME and prints each as it arrives: a text\n"
                "line 'IDENT FILTER FLAGS FFLAGS DATA UDATA', a JSON object per line (--json),\n"
                "or a 32-byte binary record (--bin). Exits 0 once COUNT events arrived, or 3\n"
                "when the timeout passes first, after printing those that did. No event is\n"
                "lost to a timeout: kqctl takes an event from the queue only to print it.\n");
  syntax.options()("count,n", po::value<std::string>()->value_name("COUNT")->default_value("1"),
                   "how many events to wait for")(
      "timeout,t", po::value<std::string>()->value_name("SECONDS"),
      "give up after SECONDS, fractions allowed (e.g. 0.5); 0 takes only what is "
      "pending (default: wait forever)");
  // One option per other format than the default, text: --json, --bin.
  for (const kqfs::codec::Codec& codec : kqfs::codec::kCodecs) {
    if (codec.format == kDefaultFormat) continue;
    syntax.options()(std::string(codec.name).c_str(),
                     ("print " + std::string(codec.records)).c_str());
  }
  syntax.operand("name", "NAME");
  const auto arguments = syntax.parse(invocation);
  if (!arguments) return kExitSuccess;

  const unsigned long long count = parse_count(arguments->text("count"), "COUNT");
  if (count == 0) throw UsageError("COUNT must be at least 1");
  std::optional<double> timeout;
  if (arguments->has("timeout")) timeout = parse_seconds(arguments->text("timeout"), "SECONDS");
  const kqfs::codec::Codec* output = &kqfs::codec::codec_of(kDefaultFormat);
  for (const kqfs::codec::Codec& codec : kqfs::codec::kCodecs) {
    if (codec.format == kDefaultFormat || !arguments->has(std::string(codec.name).c_str()))
      continue;
    if (output->format != kDefaultFormat) {
      throw UsageError("--" + std::string(output->name) + " and --" + std::string(codec.name) +
                       " exclude each other");
    }
    output = &codec;
  }

  const Mount mount(arguments->mount);
  const std::string& name = arguments->text("name");
  const kqfs::UniqueFd events = mount.open(name, "events.bin", O_RDONLY | O_NONBLOCK);
  const Deadline deadline(timeout);
  std::array<char, kRecordsPerRead * kBinaryRecordSize> buffer;
  unsigned long long received = 0;
  bool polled_ready = false;  // the last poll reported events pending
  while (received < count) {
    const size_t wanted = std::min<unsigned long long>(count - received, kRecordsPerRead);
    const ssize_t length = ::read(events.get(), buffer.data(), wanted * kBinaryRecordSize);
    if (length > 0) {
      const size_t bytes = static_cast<size_t>(length);
      for (size_t offset = 0; offset + kBinaryRecordSize <= bytes; offset += kBinaryRecordSize) {
        write_record(std::cout,
                     kqfs::codec::decode_binary(std::span<const char, kBinaryRecordSize>(
                         buffer.data() + offset, kBinaryRecordSize)),
                     *output);
        ++received;
      }
      std::cout.flush();
      if (!std::cout) throw Failure("cannot write the output");
      if (bytes % kBinaryRecordSize != 0) {
        throw Failure("queue '" + name + "': events.bin returned a partial record");
      }
      polled_ready = false;
      continue;
    }
    if (length == 0) {
      throw Failure("queue '" + name + "' was removed while waiting (" + events_text(received) +
                    " of " + std::to_string(count) + " arrived)");
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throw mount.queue_failure(name, errno);
    if (deadline.passed()) break;
    if (polled_ready) {
      // Readiness without an event (a knote whose condition went away):
      // poll would report it again at once.
      std::this_thread::sleep_for(std::min<Clock::duration>(kStaleReadinessPause, deadline.left()));
    }
    pollfd waiting{events.get(), POLLIN, 0};
    const int ready = ::poll(&waiting, 1, deadline.poll_timeout());
    if (ready < 0 && errno != EINTR) throw Failure("poll: " + describe_errno(errno));
    // The deadline: nothing is read after it, so nothing is taken unprinted.
    if (ready == 0) break;
    polled_ready = ready > 0;
  }
  if (received < count) {
    throw Failure("timed out with " + events_text(received) + " of " + std::to_string(count),
                  kExitTimedOut);
  }
  return kExitSuccess;
}

}  // namespace kqctl
