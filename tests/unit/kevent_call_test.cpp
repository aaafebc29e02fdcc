// kqfs::kevent: the kevent(2) call contract over an in-process queue
// (docs/design.md#the-kevent-call): change order, error and receipt entries, the timeout, EINTR.
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "kqfs/constants.h"
#include "kqfs/kevent_call.hpp"
#include "kqfs/kqueue.hpp"
#include "test_support.hpp"

namespace kqfs {
namespace {

using namespace std::chrono_literals;
using test::change;
using test::drain;
using test::since;
using test::user;

// What kevent writes for a change that failed with `error` (0: a receipt).
Kevent entry_for(Kevent change, int error) {
  change.flags |= EV_ERROR;
  change.data = error;
  return change;
}

constexpr timespec kPoll{0, 0};

TEST(KeventCall, ChangesAreAppliedInOrder) {
  Kqueue kq;
  // Each change needs the one before it: added, triggered, re-tagged.
  const std::vector<Kevent> changes = {
      user(1, EV_ADD | EV_CLEAR, 0, 0, 10),
      user(1, 0, NOTE_TRIGGER | NOTE_FFCOPY | 0x1, 0, 11),
      user(1, 0, NOTE_FFOR | 0x2, 0, 12),
      user(2, EV_ADD, 0, 0, 20),
      user(2, EV_DELETE),
  };
  std::array<Kevent, 4> events{};
  ASSERT_EQ(kevent(kq, changes, events, &kPoll), 1);
  EXPECT_EQ(events[0].ident, 1u);
  EXPECT_EQ(events[0].fflags, 0x3u);
  EXPECT_EQ(events[0].udata, 12u);
  EXPECT_EQ(kq.knote_count(), 1u);
}

TEST(KeventCall, FailedChangeWithRoomBecomesAnErrorEntryAndProcessingContinues) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(100, EV_ADD)), 0);
  ASSERT_EQ(kq.apply(user(100, 0, NOTE_TRIGGER)), 0);  // pending, never collected here

  const std::vector<Kevent> changes = {
      user(9, EV_DELETE, 0x5, 3, 42),  // ENOENT
      user(1, EV_ADD),                 // applied
      change(1, 0, EV_ADD, 0, 0, 43),  // EINVAL
      user(2, EV_ADD | EV_DISABLE),    // applied
  };
  std::array<Kevent, 8> events{};
  ASSERT_EQ(kevent(kq, changes, events, nullptr), 2);
  EXPECT_EQ(events[0], entry_for(changes[0], ENOENT));
  EXPECT_EQ(events[1], entry_for(changes[2], EINVAL));
  EXPECT_EQ(kq.knote_count(EVFILT_USER), 3u);
  EXPECT_EQ(kq.pending(), 1u);  // the pending event was not collected
}

TEST(KeventCall, FailedChangeWithoutRoomReturnsItsErrnoAndStops) {
  Kqueue kq;
  const std::vector<Kevent> changes = {
      user(1, EV_ADD),
      user(9, EV_DELETE),  // ENOENT, no room for an entry
      user(2, EV_ADD),
  };
  errno = 0;
  EXPECT_EQ(kevent(kq, changes, {}, &kPoll), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(kq.knote_count(), 1u);
  EXPECT_EQ(kq.apply(user(2, EV_DELETE)), ENOENT);  // never added
}

TEST(KeventCall, FailedChangeAfterTheEventlistFilledReturnsItsErrnoAndStops) {
  Kqueue kq;
  const std::vector<Kevent> changes = {
      user(9, EV_DELETE),       // ENOENT: takes the only slot
      user(1, EV_ADD),          // applied
      change(1, -100, EV_ADD),  // EINVAL: no room left
      user(2, EV_ADD),          // not applied
  };
  std::array<Kevent, 1> events{};
  errno = 0;
  EXPECT_EQ(kevent(kq, changes, events, &kPoll), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(kq.knote_count(), 1u);
  EXPECT_EQ(kq.apply(user(2, EV_DELETE)), ENOENT);
}

TEST(KeventCall, ReceiptGivesAnEntryWithDataZeroAndReturnsWithoutCollecting) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(100, EV_ADD)), 0);
  ASSERT_EQ(kq.apply(user(100, 0, NOTE_TRIGGER)), 0);

  const std::vector<Kevent> changes = {user(1, EV_ADD | EV_RECEIPT, 0x7, 0, 3)};
  std::array<Kevent, 4> events{};
  // The pending event would be collected if the call went on to scan.
  ASSERT_EQ(kevent(kq, changes, events, nullptr), 1);
  EXPECT_EQ(events[0], entry_for(changes[0], 0));
  EXPECT_EQ(events[0].flags, EV_ADD | EV_RECEIPT | EV_ERROR);
  EXPECT_EQ(kq.knote_count(), 2u);
  EXPECT_EQ(kq.pending(), 1u);
}

TEST(KeventCall, ReceiptForAFailedChangeCarriesItsErrno) {
  Kqueue kq;
  const std::vector<Kevent> changes = {user(1, EV_DELETE | EV_RECEIPT)};
  std::array<Kevent, 2> events{};
  ASSERT_EQ(kevent(kq, changes, events, &kPoll), 1);
  EXPECT_EQ(events[0], entry_for(changes[0], ENOENT));
}

TEST(KeventCall, NoRoomForEventsReturnsZeroAtOnceEvenWithATimeout) {
  Kqueue kq;
  const std::vector<Kevent> changes = {user(1, EV_ADD)};
  const timespec long_timeout{30, 0};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(kevent(kq, changes, {}, &long_timeout), 0);
  EXPECT_LT(since(start), 10s);  // far below the 30 s it would wait
  EXPECT_EQ(kq.knote_count(), 1u);
}

TEST(KeventCall, ZeroTimeoutPolls) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(1, EV_ADD | EV_CLEAR)), 0);
  std::array<Kevent, 4> events{};
  EXPECT_EQ(kevent(kq, {}, events, &kPoll), 0);

  ASSERT_EQ(kq.apply(user(1, 0, NOTE_TRIGGER)), 0);
  ASSERT_EQ(kevent(kq, {}, events, &kPoll), 1);
  EXPECT_EQ(events[0].ident, 1u);
  EXPECT_EQ(kevent(kq, {}, events, &kPoll), 0);
}

TEST(KeventCall, RelativeTimeoutWaitsThatLongAndReturnsZero) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(1, EV_ADD)), 0);
  std::array<Kevent, 4> events{};
  const timespec timeout{0, 120'000'000};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(kevent(kq, {}, events, &timeout), 0);
  const auto waited = since(start);
  EXPECT_GE(waited, 115ms);
  EXPECT_LT(waited, 10s);
}

TEST(KeventCall, RelativeTimeoutEndsEarlyWhenAnEventArrives) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(change(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 30)), 0);
  std::array<Kevent, 4> events{};
  const timespec timeout{30, 0};
  ASSERT_EQ(kevent(kq, {}, events, &timeout), 1);
  EXPECT_EQ(events[0].filter, EVFILT_TIMER);
}

TEST(KeventCall, NullTimeoutWaitsUntilAnEvent) {
  Kqueue kq;
  const std::vector<Kevent> changes = {change(7, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 50)};
  std::array<Kevent, 4> events{};
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(kevent(kq, changes, events, nullptr), 1);
  EXPECT_GE(since(start), 45ms);  // it waited for the timer
  EXPECT_EQ(events[0].ident, 7u);
  EXPECT_EQ(events[0].filter, EVFILT_TIMER);
}

TEST(KeventCall, MalformedTimeoutIsEinval) {
  Kqueue kq;
  std::array<Kevent, 4> events{};
  for (const timespec bad :
       {timespec{-1, 0}, timespec{0, -1}, timespec{0, 1'000'000'000}, timespec{1, 2'000'000'000}}) {
    errno = 0;
    EXPECT_EQ(kevent(kq, {}, events, &bad), -1) << bad.tv_sec << " s " << bad.tv_nsec << " ns";
    EXPECT_EQ(errno, EINVAL);
  }
}

std::atomic<int> signals_handled{0};
void count_signal(int) {
  signals_handled.fetch_add(1);
}

TEST(KeventCall, SignalDuringTheWaitGivesEintrAndTheChangesStayApplied) {
  struct sigaction action {};
  action.sa_handler = count_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGUSR1, &action, &previous), 0);
  signals_handled = 0;

  Kqueue kq;
  const std::vector<Kevent> changes = {user(1, EV_ADD), user(2, EV_ADD | EV_CLEAR)};
  std::array<Kevent, 4> events{};
  const timespec timeout{20, 0};  // bounded, so a missed signal fails instead of hanging

  // Signal until the call returns: one sent before the wait starts is lost.
  const pthread_t waiter = ::pthread_self();
  std::atomic<bool> returned{false};
  std::thread sender([&] {
    while (!returned) {
      std::this_thread::sleep_for(50ms);
      if (!returned) ::pthread_kill(waiter, SIGUSR1);
    }
  });
  errno = 0;
  const int result = kevent(kq, changes, events, &timeout);
  const int error = errno;
  returned = true;
  sender.join();
  ::sigaction(SIGUSR1, &previous, nullptr);

  EXPECT_EQ(result, -1);
  EXPECT_EQ(error, EINTR);
  EXPECT_GE(signals_handled.load(), 1);
  EXPECT_EQ(kq.knote_count(), 2u);
}

TEST(KeventCall, ChangelistAndEventlistMayBeTheSameArray) {
  Kqueue kq;
  std::vector<Kevent> list = {
      user(9, EV_DELETE, 0, 0, 1),            // ENOENT
      user(1, EV_ADD, 0, 0, 2),               // applied silently
      user(2, EV_ADD | EV_RECEIPT, 0, 0, 3),  // receipt
      user(8, EV_DISABLE, 0, 0, 4),           // ENOENT
  };
  const std::vector<Kevent> original = list;
  ASSERT_EQ(kevent(kq, list, list, &kPoll), 3);
  EXPECT_EQ(list[0], entry_for(original[0], ENOENT));
  EXPECT_EQ(list[1], entry_for(original[2], 0));
  EXPECT_EQ(list[2], entry_for(original[3], ENOENT));
  EXPECT_EQ(kq.knote_count(), 2u);
}

TEST(KeventCall, SameArrayCanCarryChangesAndReceiveEvents) {
  Kqueue kq;
  std::vector<Kevent> list = {user(1, EV_ADD | EV_CLEAR), user(1, 0, NOTE_TRIGGER, 0, 5), Kevent{}};
  ASSERT_EQ(kevent(kq, std::span<const Kevent>(list.data(), 2), list, &kPoll), 1);
  EXPECT_EQ(list[0].ident, 1u);
  EXPECT_EQ(list[0].filter, EVFILT_USER);
  EXPECT_EQ(list[0].udata, 5u);
  EXPECT_EQ(list[0].flags, EV_ADD | EV_CLEAR);
}

}  // namespace
}  // namespace kqfs
