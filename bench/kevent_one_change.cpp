// The kevent-one-change case: the call a BSD event loop makes most, kevent()
// from the client library with exactly one change (EV_ADD|EV_ENABLE of the
// same EVFILT_USER ident, a change that touches a knote already there) and
// no event list; against the FUSE floor's round trip (a write of one
// 32-byte record to its file, and an ioctl with no data) and raw epoll
// (EPOLL_CTL_MOD of an eventfd). Client and daemon pinned to one CPU, then
// to two.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/event.h>
#include <sys/eventfd.h>

#include <string>
#include <string_view>
#include <vector>

#include "bench/cases.hpp"
#include "bench/client_kqueue.hpp"
#include "bench/errors.hpp"
#include "bench/floor_file.hpp"
#include "bench/pinned_calls.hpp"

namespace kqfs::bench {
namespace {

constexpr uintptr_t kIdent = 1;

// The raw Linux call that changes one registration: EPOLL_CTL_MOD of an
// eventfd already in the epoll set.
class EpollModification {
 public:
  EpollModification()
      : epoll_(::epoll_create1(EPOLL_CLOEXEC)), eventfd_(::eventfd(0, EFD_CLOEXEC)) {
    if (!epoll_) throw_errno("epoll_create1");
    if (!eventfd_) throw_errno("eventfd");
    epoll_add(epoll_.get(), eventfd_.get(), EPOLLIN);
  }
  void call() const {
    epoll_event event{};
    event.events = EPOLLIN;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, eventfd_.get(), &event) != 0) {
      throw_errno("epoll_ctl EPOLL_CTL_MOD");
    }
  }

 private:
  UniqueFd epoll_;
  UniqueFd eventfd_;
};

}  // namespace

void run_kevent_one_change(Context& context) {
  const int count = context.size(4000, 400);
  const int repetitions = context.settings.repetitions;
  Report& report = context.report;

  const MountView mount = context.mounts.shared();
  const MountView floor = context.mounts.floor();
  const ClientKqueue kq(mount.path);
  struct kevent change;
  EV_SET(&change, kIdent, EVFILT_USER, EV_ADD | EV_ENABLE, 0, 0, 0);
  kq.kevent({&change, 1}, {});  // the knote the calls touch
  const UniqueFd floor_file = open_floor_file(floor, O_WRONLY);
  const std::string_view record(reinterpret_cast<const char*>(&change), sizeof change);
  const EpollModification epoll;
  const PinnedCalls measured(
      {
          {"kevent", "kevent(), 1 change", mount.daemon,
           [&] {
             kq.kevent({&change, 1}, {});
           }},
          {"floor", "floor, 32-byte write", floor.daemon,
           [&] { write_exactly(floor_file.get(), record, "f"); }},
          {"floor_ioctl", "floor, ioctl", floor.daemon, [&] { floor_ioctl(floor_file.get()); }},
          {"epoll", "epoll_ctl MOD of an eventfd", -1, [&] { epoll.call(); }},
      },
      count, repetitions);

  report.begin_case(
      "8. One change per kevent() call",
      "kevent(kq, &change, 1, NULL, 0, NULL) from the client library (<sys/event.h>), the\n"
      "change EV_ADD|EV_ENABLE of an EVFILT_USER knote already there; the FUSE floor's round\n"
      "trip (kqfs-fuse-floor: a write of the same 32 bytes to f, answered at once, and an\n"
      "ioctl with no data); raw epoll: epoll_ctl EPOLL_CTL_MOD of an eventfd.\n" +
          std::string(PinnedCalls::kSetupText) + std::to_string(count) + " calls per repetition, " +
          std::to_string(repetitions) + " repetitions, interleaved.");
  measured.report_rows(report, true, "call");
  measured.report_ratios(report, "kevent_one_change", 0, 1, Target{Better::lower, 1.3});
  measured.report_ratios(report, "kevent_one_change", 0, 2, std::nullopt);
  measured.report_ratios(report, "kevent_one_change", 0, 3, std::nullopt);
  measured.note_placement(report, mount.daemon);
  report.end_case();
}

}  // namespace kqfs::bench
