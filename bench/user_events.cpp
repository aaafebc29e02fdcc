// Case 1, user-event throughput: 1 000 EVFILT_USER knotes in one queue,
// each round triggers all of them and drains the 1 000 events; through the
// mount, through the in-process engine, and with raw epoll and one eventfd
// per ident (what libkqueue does on Linux).
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

#include "bench/cases.hpp"
#include "bench/clock.hpp"
#include "bench/errors.hpp"
#include "bench/records.hpp"
#include "bench/user_event_rounds.hpp"
#include "kqfs/kqueue.hpp"

namespace kqfs::bench {
namespace {

// kqfs::Kqueue in process: apply() each trigger, collect() the events.
class EngineUserEventRounds {
 public:
  EngineUserEventRounds()
      : triggers_(records_for(1, kUserKnotes, user_event_trigger)), received_(kUserKnotes) {
    for (const Kevent& add : records_for(1, kUserKnotes, user_event_add)) {
      if (const int error = kq_.apply(add); error != 0) {
        throw_error(error, "engine: EV_ADD user event");
      }
    }
  }

  void round() {
    for (const Kevent& trigger : triggers_) {
      if (const int error = kq_.apply(trigger); error != 0) {
        throw_error(error, "engine: NOTE_TRIGGER");
      }
    }
    size_t delivered = 0;
    while (delivered < kUserKnotes) {
      const size_t got = kq_.collect(received_);
      if (got == 0) throw std::runtime_error("engine: triggered user events missing");
      delivered += got;
    }
  }

 private:
  Kqueue kq_;
  std::vector<Kevent> triggers_;
  std::vector<Kevent> received_;
};

// One eventfd per ident, all in one epoll: a trigger writes 1 to the
// ident's eventfd; collecting waits in epoll_wait and reads (clears) each
// ready eventfd, as libkqueue's EVFILT_USER with EV_CLEAR does.
class EpollUserEventRounds {
 public:
  EpollUserEventRounds() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), ready_(kUserKnotes) {
    if (!epoll_) throw_errno("epoll_create1");
    eventfds_.reserve(kUserKnotes);
    for (size_t ident = 0; ident < kUserKnotes; ++ident) {
      UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
      if (!fd) throw_errno("eventfd");
      epoll_add(epoll_.get(), fd.get(), EPOLLIN, ident);
      eventfds_.push_back(std::move(fd));
    }
  }

  void round() {
    const uint64_t one = 1;
    for (const UniqueFd& fd : eventfds_) {
      if (::write(fd.get(), &one, sizeof one) != sizeof one) {
        throw_errno("write eventfd");
      }
    }
    size_t delivered = 0;
    while (delivered < kUserKnotes) {
      const int got =
          ::epoll_wait(epoll_.get(), ready_.data(), static_cast<int>(ready_.size()), -1);
      if (got < 0) {
        if (errno == EINTR) continue;
        throw_errno("epoll_wait");
      }
      for (int i = 0; i < got; ++i) {
        uint64_t count;
        if (::read(eventfds_[ready_[i].data.u64].get(), &count, sizeof count) != sizeof count) {
          throw_errno("read eventfd");
        }
      }
      delivered += static_cast<size_t>(got);
    }
  }

 private:
  UniqueFd epoll_;
  std::vector<UniqueFd> eventfds_;
  std::vector<epoll_event> ready_;
};

}  // namespace

void run_user_events(Context& context) {
  const double seconds_per_measurement = context.size(0.5, 0.1);
  const int repetitions = context.settings.repetitions;
  Report& report = context.report;

  const MountView mount = context.mounts.shared();
  const MountQueue queue(mount.path, "bench-user-events");
  MountUserEventRounds through_mount(queue);
  EngineUserEventRounds engine;
  EpollUserEventRounds epoll;

  auto events_per_second = [&](auto& variant) {
    return kUserKnotes * steps_per_second([&] { variant.round(); }, seconds_per_measurement);
  };
  // Warm-up: first-touch page faults and the daemon's buffers, untimed.
  for (int i = 0; i < 10; ++i) {
    through_mount.round();
    engine.round();
    epoll.round();
  }
  const Variants rates = measure_interleaved(
      repetitions, [&] { return events_per_second(through_mount); },
      [&] { return events_per_second(engine); }, [&] { return events_per_second(epoll); });

  report.begin_case(
      "1. User-event throughput",
      "1000 EVFILT_USER knotes (EV_ADD|EV_CLEAR); a round triggers all 1000 and drains them.\n"
      "mount: one 32000-byte write to changes.bin, reads of events.bin (64 KiB buffer);\n"
      "engine: kqfs::Kqueue apply + collect; epoll: one eventfd per ident (libkqueue's way).\n" +
          std::to_string(repetitions) + " repetitions of " +
          format_quantity(seconds_per_measurement, Quantity::duration) +
          " per variant, interleaved. Events per second.");
  report.compare(
      {.name = "user_events",
       .baseline = "epoll",
       .prefix = "",
       .unit = "events/s",
       .rows = {"kqfs mount (changes.bin + events.bin)",
                "in-process engine (Kqueue apply + collect)", "raw epoll + eventfd per ident"},
       .quantity = Quantity::rate,
       .better = Better::higher,
       .mount_target = Target{Better::higher, 0.45},
       .engine_target = Target{Better::higher, 0.8}},
      rates);
  report.end_case();
}

}  // namespace kqfs::bench
