// The kqfs engine used in process, as a BSD program uses kqueue(2): a
// periodic timer, a pipe and a user event on one queue, printed as the text
// records kqfs's files use.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "kqfs/kevent_call.hpp"
#include "kqfs/kqueue.hpp"
#include "kqfs/names.hpp"

namespace {

void print(const kqfs::Kevent& ev) {
  std::printf("%llu %s %s %s %lld %llu\n", static_cast<unsigned long long>(ev.ident),
              std::string(kqfs::names::filter_name(ev.filter)).c_str(),
              kqfs::names::format_flags(ev.flags).c_str(),
              kqfs::names::format_fflags(ev.filter, ev.fflags).c_str(),
              static_cast<long long>(ev.data), static_cast<unsigned long long>(ev.udata));
}

}  // namespace

int main() {
  kqfs::Kqueue kq;
  int fds[2];
  if (::pipe(fds) < 0) return 1;

  const std::vector<kqfs::Kevent> changes = {
      {1, EVFILT_TIMER, EV_ADD, 0, 100, 7},  // every 100 ms
      {static_cast<uint64_t>(fds[0]), EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, 8},
      {42, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, 9},
  };
  if (kqfs::kevent(kq, changes, {}, nullptr) < 0) return 1;

  int timer_events = 0;
  while (timer_events < 3) {
    kqfs::Kevent events[8];
    const int count = kqfs::kevent(kq, {}, events, nullptr);
    for (int i = 0; i < count; ++i) {
      print(events[i]);
      if (events[i].filter != EVFILT_TIMER) continue;
      // The first tick writes to the pipe, the second triggers the user event.
      if (++timer_events == 1 && ::write(fds[1], "hello", 5) != 5) return 1;
      if (timer_events == 2) {
        const kqfs::Kevent trigger{42, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFCOPY | 0x5, 0, 9};
        if (kqfs::kevent(kq, {&trigger, 1}, {}, nullptr) < 0) return 1;
      }
    }
  }
  ::close(fds[0]);
  ::close(fds[1]);
  return 0;
}
