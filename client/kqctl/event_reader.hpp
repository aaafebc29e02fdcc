// Taking binary events from a queue's descriptor (events.bin, or a kq/clone
// handle) for wait and watch, until a count, a deadline, end of file or a
// terminating signal, without ever taking an event that is not then handed on.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "kqfs/kevent.hpp"

namespace kqctl {

// When waiting ends: never, or a point on the monotonic clock.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  // Nothing, or more than about 31 years: never.
  explicit Deadline(std::optional<double> seconds);

  bool passed() const { return at_ && Clock::now() >= *at_; }
  // Clock::duration::max() when never.
  Clock::duration left() const;
  bool forever() const { return !at_; }

 private:
  std::optional<Clock::time_point> at_;
};

// Why read_events stopped.
enum class ReadEnd {
  count,        // `limit` events were taken
  stopped,      // the handler asked to stop
  deadline,     // the deadline passed first
  end_of_file,  // the queue was removed (or the mount went away)
  signal,       // SIGINT, SIGTERM or SIGHUP came (ReadOutcome::signal)
  error,        // a read or ppoll failed (ReadOutcome::error)
};

struct ReadOutcome {
  ReadEnd end;
  unsigned long long received = 0;
  int signal = 0;  // with ReadEnd::signal
  int error = 0;   // with ReadEnd::error: the errno
};

// Gets each event taken; returns false to stop once the events of the same
// read are handed on (no event taken is ever dropped).
using EventHandler = std::function<bool(const kqfs::Kevent& event)>;

// Takes events from `fd` (opened O_NONBLOCK), each read asking for no more
// than are still wanted (`limit`, none: no limit), and hands each to
// `handle`. Waits with ppoll between reads until `deadline`; nothing is read
// after it. SIGINT, SIGTERM and SIGHUP are blocked but while waiting, so one
// ends the wait between reads, never between taking an event and handing it
// on. Throws Failure when the descriptor returns a partial record, or the
// output cannot be written.
ReadOutcome read_events(int fd, std::optional<unsigned long long> limit, const Deadline& deadline,
                        const EventHandler& handle);

// After ReadEnd::signal: ends kqctl by that signal, as an interrupted
// program should (the shell sees 128 + its number), once the output is
// flushed.
[[noreturn]] void die_of(int signal);

// "1 event", "3 events"
std::string events_text(unsigned long long count);

}  // namespace kqctl
