#include "client/kqctl/event_reader.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <iostream>
#include <span>
#include <thread>

#include "client/kqctl/syntax.hpp"
#include "kqfs/codec/codec.hpp"

namespace kqctl {
namespace {

using kqfs::codec::kBinaryRecordSize;
using Clock = Deadline::Clock;

// Records asked for by one read.
constexpr size_t kRecordsPerRead = 128;
// A timeout beyond this (about 31 years) is forever, and cannot overflow the clock.
constexpr double kLongestTimeout = 1e9;
// How long to let a stale readiness (a knote that turned out to have no
// event) settle before polling again, rather than spinning.
constexpr auto kStaleReadinessPause = std::chrono::milliseconds(10);

// The signals that end a wait between reads.
constexpr std::array kEndingSignals = {SIGINT, SIGTERM, SIGHUP};

volatile std::sig_atomic_t caught_signal = 0;

extern "C" void remember_signal(int signal) {
  caught_signal = signal;
}

// While it lives: the ending signals caught by remember_signal and blocked,
// so that they come only inside ppoll (waiting_mask()), never while an event
// is taken or printed. A signal ignored when kqctl started (nohup, a
// background job of a non-interactive shell) stays ignored.
class EndingSignalsHeld {
 public:
  EndingSignalsHeld() {
    sigemptyset(&ending_);
    for (const int signal : kEndingSignals) {
      struct sigaction ignored_or_not {};
      ::sigaction(signal, nullptr, &ignored_or_not);
      if (ignored_or_not.sa_handler == SIG_IGN) continue;
      struct sigaction catching {};
      catching.sa_handler = remember_signal;
      sigemptyset(&catching.sa_mask);
      ::sigaction(signal, &catching, &previous_[index_of(signal)]);
      installed_[index_of(signal)] = true;
      sigaddset(&ending_, signal);
    }
    ::sigprocmask(SIG_BLOCK, &ending_, &waiting_mask_);
  }

  // The handlers first: a signal still pending then acts as it would have.
  ~EndingSignalsHeld() {
    for (const int signal : kEndingSignals) {
      if (installed_[index_of(signal)]) ::sigaction(signal, &previous_[index_of(signal)], nullptr);
    }
    ::sigprocmask(SIG_SETMASK, &waiting_mask_, nullptr);
  }

  EndingSignalsHeld(const EndingSignalsHeld&) = delete;
  EndingSignalsHeld& operator=(const EndingSignalsHeld&) = delete;

  // The mask kqctl had: ppoll's, so the ending signals come only there.
  const sigset_t& waiting_mask() const { return waiting_mask_; }

  // An ending signal that came while events kept kqctl from waiting (taken
  // from the pending set), or 0.
  int take_pending() const {
    const timespec now{};
    const int signal = ::sigtimedwait(&ending_, nullptr, &now);
    return signal > 0 ? signal : 0;
  }

 private:
  static size_t index_of(int signal) {
    return static_cast<size_t>(std::find(kEndingSignals.begin(), kEndingSignals.end(), signal) -
                               kEndingSignals.begin());
  }

  sigset_t ending_;
  sigset_t waiting_mask_;
  std::array<struct sigaction, kEndingSignals.size()> previous_{};
  std::array<bool, kEndingSignals.size()> installed_{};
};

// ppoll's timeout for what is left of `deadline`, or null for never.
const timespec* poll_timeout(const Deadline& deadline, timespec& storage) {
  if (deadline.forever()) return nullptr;
  const auto left = deadline.left();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(left);
  storage.tv_sec = static_cast<time_t>(seconds.count());
  storage.tv_nsec = static_cast<long>(std::chrono::nanoseconds(left - seconds).count());
  return &storage;
}

}  // namespace

Deadline::Deadline(std::optional<double> seconds) {
  if (seconds && *seconds <= kLongestTimeout) {
    at_ =
        Clock::now() + std::chrono::ceil<Clock::duration>(std::chrono::duration<double>(*seconds));
  }
}

Clock::duration Deadline::left() const {
  return at_ ? std::max(Clock::duration::zero(), *at_ - Clock::now()) : Clock::duration::max();
}

ReadOutcome read_events(int fd, std::optional<unsigned long long> limit, const Deadline& deadline,
                        const EventHandler& handle) {
  caught_signal = 0;  // before the handlers: one may come at once
  const EndingSignalsHeld held;
  std::array<char, kRecordsPerRead * kBinaryRecordSize> buffer;
  ReadOutcome outcome{ReadEnd::count};
  bool polled_ready = false;  // the last ppoll reported events pending
  while (!limit || outcome.received < *limit) {
    const size_t wanted =
        limit ? std::min<unsigned long long>(*limit - outcome.received, kRecordsPerRead)
              : kRecordsPerRead;
    const ssize_t length = ::read(fd, buffer.data(), wanted * kBinaryRecordSize);
    if (length > 0) {
      const size_t bytes = static_cast<size_t>(length);
      bool keep_going = true;
      for (size_t offset = 0; offset + kBinaryRecordSize <= bytes; offset += kBinaryRecordSize) {
        keep_going &= handle(kqfs::codec::decode_binary(
            std::span<const char, kBinaryRecordSize>(buffer.data() + offset, kBinaryRecordSize)));
        ++outcome.received;
      }
      std::cout.flush();
      if (!std::cout) throw Failure("cannot write the output");
      if (bytes % kBinaryRecordSize != 0) throw Failure("a read returned a partial record");
      if (!keep_going) return {ReadEnd::stopped, outcome.received};
      if (const int signal = held.take_pending(); signal != 0) {
        return {ReadEnd::signal, outcome.received, signal};
      }
      polled_ready = false;
      continue;
    }
    if (length == 0) return {ReadEnd::end_of_file, outcome.received};
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return {ReadEnd::error, outcome.received, 0, errno};
    if (deadline.passed()) return {ReadEnd::deadline, outcome.received};
    if (polled_ready) {
      // Readiness without an event (a knote whose condition went away):
      // ppoll would report it again at once.
      std::this_thread::sleep_for(std::min<Clock::duration>(kStaleReadinessPause, deadline.left()));
    }
    pollfd waiting{fd, POLLIN, 0};
    timespec timeout;
    const int ready = ::ppoll(&waiting, 1, poll_timeout(deadline, timeout), &held.waiting_mask());
    if (ready < 0 && errno != EINTR) return {ReadEnd::error, outcome.received, 0, errno};
    if (caught_signal != 0) return {ReadEnd::signal, outcome.received, caught_signal};
    // The deadline: nothing is read after it, so nothing is taken unprinted.
    if (ready == 0) return {ReadEnd::deadline, outcome.received};
    polled_ready = ready > 0;
  }
  return outcome;
}

void die_of(int signal) {
  std::cout.flush();
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(signal, &default_action, nullptr);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, signal);
  ::sigprocmask(SIG_UNBLOCK, &only, nullptr);
  ::raise(signal);
  ::_exit(128 + signal);  // not reached: the signal ends the process
}

std::string events_text(unsigned long long count) {
  return std::to_string(count) + (count == 1 ? " event" : " events");
}

}  // namespace kqctl
