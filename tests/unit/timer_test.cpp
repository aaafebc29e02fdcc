// EVFILT_TIMER: units, periodic and one-shot timers, expiration counts,
// absolute deadlines, re-adding, disabling, and one timerfd per queue.
//
// Timing rules: a timer never fires before its time (asserted exactly,
// since the engine and std::chrono::steady_clock both use CLOCK_MONOTONIC
// and every start time is taken before the change is applied); upper bounds
// are only generous waits.
#include <time.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace kqfs::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint16_t kPeriodicFlags = EV_ADD | EV_CLEAR;

Kevent timer(uint64_t ident, uint16_t flags, int64_t data, uint32_t fflags = 0,
             uint64_t udata = 0) {
  return change(ident, EVFILT_TIMER, flags, fflags, data, udata);
}

// How many periods have fully passed since `start`: an upper bound on the
// expirations a timer started after `start` may have reported.
int64_t periods_since(Clock::time_point start, std::chrono::nanoseconds period) {
  return since(start) / period;
}

int64_t realtime_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// Collects one event at a time until `count` arrived or `timeout` passed.
std::vector<Kevent> collect_events(Kqueue& kq, size_t count, std::chrono::milliseconds timeout) {
  std::vector<Kevent> events;
  const auto deadline = Clock::now() + timeout;
  while (events.size() < count) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) break;
    for (const Kevent& event : wait_events(kq, left, count - events.size())) {
      events.push_back(event);
    }
  }
  return events;
}

TEST(TimerFilter, DefaultUnitIsMilliseconds) {
  Kqueue kq;
  const auto start = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD | EV_ONESHOT, 150)), 0);
  const auto event = wait_one(kq, 3s);
  ASSERT_TRUE(event.has_value()) << "a 150 ms timer did not fire within 3 s";
  EXPECT_GE(since(start), 150ms);
  EXPECT_EQ(event->ident, 1u);
  EXPECT_EQ(event->filter, EVFILT_TIMER);
}

struct UnitCase {
  const char* name;
  uint32_t fflags;
  int64_t data;
  std::chrono::milliseconds period;
};

class TimerUnit : public ::testing::TestWithParam<UnitCase> {};

TEST_P(TimerUnit, PeriodIsDataTimesUnit) {
  const UnitCase& unit = GetParam();
  Kqueue kq;
  const auto start = Clock::now();
  ASSERT_EQ(kq.apply(timer(7, EV_ADD, unit.data, unit.fflags)), 0);
  const auto first = wait_one(kq, unit.period + 3s);
  ASSERT_TRUE(first.has_value()) << "no expiry within the period plus 3 s";
  EXPECT_GE(since(start), unit.period) << "fired before its period";
  EXPECT_EQ(first->flags, kPeriodicFlags);
  EXPECT_GE(first->data, 1);
  EXPECT_LE(first->data, periods_since(start, unit.period));
}

INSTANTIATE_TEST_SUITE_P(
    EachUnit, TimerUnit,
    ::testing::Values(UnitCase{"Seconds", NOTE_SECONDS, 1, 1000ms},
                      UnitCase{"Milliseconds", NOTE_MSECONDS, 150, 150ms},
                      UnitCase{"Microseconds", NOTE_USECONDS, 150'000, 150ms},
                      UnitCase{"Nanoseconds", NOTE_NSECONDS, 150'000'000, 150ms}),
    [](const ::testing::TestParamInfo<UnitCase>& info) { return std::string(info.param.name); });

TEST(TimerFilter, PeriodicTimerFiresRepeatedlyNeverAhead) {
  Kqueue kq;
  constexpr auto kPeriod = 20ms;
  const auto start = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, kPeriod.count())), 0);
  int64_t reported = 0;
  for (int i = 0; i < 5; ++i) {
    const auto event = wait_one(kq, 2s);
    ASSERT_TRUE(event.has_value()) << "expiry " << i << " did not come";
    EXPECT_GE(event->data, 1);
    reported += event->data;
    // Each expiration reported is a period that really passed.
    EXPECT_LE(reported, periods_since(start, kPeriod));
  }
  EXPECT_EQ(kq.knote_count(EVFILT_TIMER), 1u);
}

TEST(TimerFilter, DataCountsExpirationsSinceLastDelivery) {
  Kqueue kq;
  constexpr auto kPeriod = 20ms;
  const auto start = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, kPeriod.count())), 0);
  std::this_thread::sleep_for(10 * kPeriod);
  const auto event = wait_one(kq, 2s);
  ASSERT_TRUE(event.has_value());
  EXPECT_GE(event->data, 9) << "ten periods passed before collecting";
  EXPECT_LE(event->data, periods_since(start, kPeriod));

  // The next delivery counts only what expired after this one.
  const auto next = wait_one(kq, 2s);
  ASSERT_TRUE(next.has_value());
  EXPECT_GE(next->data, 1);
  EXPECT_LE(event->data + next->data, periods_since(start, kPeriod));
}

// Found by fuzzing: a forced delivery of a running periodic timer used to
// put it into the timer set twice (a corrupt tree, a hang).
TEST(TimerFilter, ForceOneshotBeforeItFiresDeliversDataZeroAndDropsIt) {
  Kqueue kq;
  for (uint64_t ident = 1; ident <= 4; ++ident) {
    ASSERT_EQ(kq.apply(timer(ident, EV_ADD, 500, 0, 7)), 0);
  }
  ASSERT_EQ(kq.apply(timer(2, EV_FORCEONESHOT, 0)), 0);
  const auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, 2u);
  EXPECT_EQ(events[0].flags, EV_ADD | EV_CLEAR | EV_ONESHOT);
  EXPECT_EQ(events[0].data, 0);
  EXPECT_EQ(kq.knote_count(), 3u);
  for (uint64_t ident : {1u, 3u, 4u}) {
    EXPECT_EQ(kq.apply(timer(ident, EV_DELETE, 0)), 0);
  }
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(TimerFilter, OneshotFiresOnceThenKnoteIsGone) {
  Kqueue kq;
  const auto start = Clock::now();
  ASSERT_EQ(kq.apply(timer(3, EV_ADD | EV_ONESHOT, 30, 0, 99)), 0);
  const auto event = wait_one(kq, 2s);
  ASSERT_TRUE(event.has_value());
  EXPECT_GE(since(start), 30ms);
  EXPECT_EQ(event->ident, 3u);
  EXPECT_EQ(event->flags, EV_ADD | EV_ONESHOT | EV_CLEAR);
  EXPECT_EQ(event->fflags, 0u);
  EXPECT_EQ(event->data, 1);
  EXPECT_EQ(event->udata, 99u);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_TRUE(wait_events(kq, 120ms).empty());
  EXPECT_EQ(kq.apply(timer(3, EV_DELETE, 0)), ENOENT);
}

TEST(TimerFilter, PeriodicZeroDataFiresEveryUnit) {
  Kqueue kq;
  const auto start = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, 0, NOTE_MSECONDS)), 0);
  const auto events = collect_events(kq, 3, 2s);
  ASSERT_EQ(events.size(), 3u) << "a 1 ms periodic timer stopped firing";
  int64_t reported = 0;
  for (const Kevent& event : events) {
    EXPECT_EQ(event.flags, kPeriodicFlags);
    EXPECT_GE(event.data, 1);
    reported += event.data;
  }
  EXPECT_LE(reported, periods_since(start, 1ms));
}

TEST(TimerFilter, PeriodicZeroDataWaitsOneUnitNotZero) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, 0, NOTE_SECONDS)), 0);
  EXPECT_TRUE(drain(kq).empty());
  EXPECT_TRUE(wait_events(kq, 150ms).empty()) << "period 0 s must mean 1 s";
}

TEST(TimerFilter, OneshotZeroDataFiresAtOnce) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(timer(4, EV_ADD | EV_ONESHOT, 0, 0, 5)), 0);
  EXPECT_TRUE(queue_readable(kq));
  const auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u) << "not collectable right after the change";
  EXPECT_EQ(events[0].ident, 4u);
  EXPECT_EQ(events[0].data, 1);
  EXPECT_EQ(events[0].udata, 5u);
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(TimerFilter, NegativeDataIsInvalid) {
  Kqueue kq;
  EXPECT_EQ(kq.apply(timer(1, EV_ADD, -1)), EINVAL);
  EXPECT_EQ(kq.apply(timer(2, EV_ADD | EV_ONESHOT, -1000, NOTE_SECONDS)), EINVAL);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_EQ(kq.apply(timer(1, EV_DELETE, 0)), ENOENT);
}

TEST(TimerFilter, TwoUnitsAreInvalid) {
  Kqueue kq;
  EXPECT_EQ(kq.apply(timer(1, EV_ADD, 10, NOTE_SECONDS | NOTE_MSECONDS)), EINVAL);
  EXPECT_EQ(kq.apply(timer(2, EV_ADD, 10, NOTE_USECONDS | NOTE_NSECONDS)), EINVAL);
  EXPECT_EQ(kq.apply(timer(3, EV_ADD, 10, NOTE_TIMER_PRECMASK)), EINVAL);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_TRUE(wait_events(kq, 50ms).empty());
}

TEST(TimerFilter, UnknownFflagsBitsAreInvalid) {
  Kqueue kq;
  EXPECT_EQ(kq.apply(timer(1, EV_ADD, 10, 0x20)), EINVAL);
  EXPECT_EQ(kq.apply(timer(2, EV_ADD, 10, NOTE_MSECONDS | 0x80000000u)), EINVAL);
  EXPECT_EQ(kq.apply(timer(3, EV_ADD, 10, NOTE_TRIGGER)), EINVAL);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_TRUE(wait_events(kq, 50ms).empty());
}

TEST(TimerFilter, InvalidReAddLeavesTimerRunning) {
  Kqueue kq;
  const auto start = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, 30, 0, 1)), 0);
  EXPECT_EQ(kq.apply(timer(1, EV_ADD, -5, 0, 2)), EINVAL);
  EXPECT_EQ(kq.apply(timer(1, EV_ADD, 30, NOTE_SECONDS | NOTE_USECONDS, 2)), EINVAL);
  EXPECT_EQ(kq.knote_count(), 1u);
  const auto event = wait_one(kq, 2s);
  ASSERT_TRUE(event.has_value());
  EXPECT_GE(since(start), 30ms);
  EXPECT_EQ(event->udata, 1u) << "a refused change must not apply its udata";
}

struct AbsoluteCase {
  const char* name;
  uint32_t unit;
  int64_t nanoseconds_per_unit;
};

class AbsoluteTimer : public ::testing::TestWithParam<AbsoluteCase> {};

// The deadline is wall-clock time since the epoch. The engine turns it into
// a monotonic deadline by reading both clocks one after the other, so allow
// 1 ms for that; any real early firing is ~100 ms early.
TEST_P(AbsoluteTimer, FiresNotBeforeItsDeadline) {
  const AbsoluteCase& unit = GetParam();
  const int64_t now = realtime_ns();
  int64_t deadline = (now + 100'000'000) / unit.nanoseconds_per_unit;
  if (unit.unit == NOTE_SECONDS) {
    // The next whole second, at least 50 ms away.
    deadline = (now + 50'000'000) / 1'000'000'000 + 1;
  }
  Kqueue kq;
  ASSERT_EQ(kq.apply(timer(8, EV_ADD, deadline, NOTE_ABSTIME | unit.unit, 3)), 0);
  EXPECT_TRUE(drain(kq).empty()) << "a future deadline fired at once";
  const auto event = wait_one(kq, 3s);
  ASSERT_TRUE(event.has_value()) << "no event within 3 s";
  EXPECT_GE(realtime_ns(), deadline * unit.nanoseconds_per_unit - 1'000'000);
  EXPECT_EQ(event->flags, EV_ADD) << "absolute timers are not EV_CLEAR";
  EXPECT_EQ(event->fflags, 0u);
  EXPECT_EQ(event->data, 1);
  EXPECT_EQ(event->udata, 3u);
}

INSTANTIATE_TEST_SUITE_P(EachUnit, AbsoluteTimer,
                         ::testing::Values(AbsoluteCase{"Seconds", NOTE_SECONDS, 1'000'000'000},
                                           AbsoluteCase{"DefaultMilliseconds", 0, 1'000'000},
                                           AbsoluteCase{"Milliseconds", NOTE_MSECONDS, 1'000'000},
                                           AbsoluteCase{"Microseconds", NOTE_USECONDS, 1'000},
                                           AbsoluteCase{"Nanoseconds", NOTE_NSECONDS, 1}),
                         [](const ::testing::TestParamInfo<AbsoluteCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(TimerFilter, NoteAbsoluteIsNoteAbstime) {
  static_assert(NOTE_ABSOLUTE == NOTE_ABSTIME);
  Kqueue kq;
  const int64_t deadline_us = (realtime_ns() + 100'000'000) / 1'000;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, deadline_us, NOTE_ABSOLUTE | NOTE_USECONDS)), 0);
  EXPECT_TRUE(drain(kq).empty());
  const auto event = wait_one(kq, 3s);
  ASSERT_TRUE(event.has_value());
  EXPECT_GE(realtime_ns(), deadline_us * 1'000 - 1'000'000);
  EXPECT_EQ(event->flags, EV_ADD);
}

TEST(TimerFilter, PastAbsoluteDeadlineFiresAtOnce) {
  Kqueue kq;
  const int64_t second_ago_ms = realtime_ns() / 1'000'000 - 1000;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD | EV_ONESHOT, second_ago_ms, NOTE_ABSTIME)), 0);
  // One millisecond after the epoch, and the epoch itself.
  ASSERT_EQ(kq.apply(timer(2, EV_ADD | EV_ONESHOT, 1, NOTE_ABSOLUTE)), 0);
  ASSERT_EQ(kq.apply(timer(3, EV_ADD | EV_ONESHOT, 0, NOTE_ABSTIME | NOTE_SECONDS)), 0);
  const auto events = drain(kq);
  ASSERT_EQ(events.size(), 3u);
  for (const Kevent& event : events)
    EXPECT_EQ(event.data, 1);
}

TEST(TimerFilter, AbsoluteTimerKeepsBeingDeliveredUntilDeleted) {
  Kqueue kq;
  const int64_t past_ms = realtime_ns() / 1'000'000 - 10;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, past_ms, NOTE_ABSTIME, 42)), 0);
  for (int i = 0; i < 3; ++i) {
    const auto events = drain(kq);
    ASSERT_EQ(events.size(), 1u) << "collection " << i;
    EXPECT_EQ(events[0].flags, EV_ADD);
    EXPECT_EQ(events[0].data, 1);
    EXPECT_EQ(events[0].udata, 42u);
    EXPECT_TRUE(queue_readable(kq));
  }
  ASSERT_EQ(kq.apply(timer(1, EV_DELETE, 0)), 0);
  EXPECT_TRUE(drain(kq).empty());
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(TimerFilter, AbsoluteOneshotFiresOnce) {
  Kqueue kq;
  const int64_t deadline_ms = realtime_ns() / 1'000'000 + 50;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD | EV_ONESHOT, deadline_ms, NOTE_ABSTIME)), 0);
  const auto event = wait_one(kq, 3s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->flags, EV_ADD | EV_ONESHOT);
  EXPECT_EQ(event->data, 1);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_TRUE(wait_events(kq, 100ms).empty());
}

TEST(TimerFilter, PeriodicEventReportsAddClearZeroFflagsAndUdata) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(timer(77, EV_ADD, 20, NOTE_MSECONDS, 0xfeedface12345678u)), 0);
  const auto event = wait_one(kq, 2s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->ident, 77u);
  EXPECT_EQ(event->filter, EVFILT_TIMER);
  EXPECT_EQ(event->flags, kPeriodicFlags);
  EXPECT_EQ(event->fflags, 0u);
  EXPECT_EQ(event->udata, 0xfeedface12345678u);
}

TEST(TimerFilter, EnableWithNewUdataReplacesIt) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, 20, 0, 1)), 0);
  const auto first = wait_one(kq, 2s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->udata, 1u);
  ASSERT_EQ(kq.apply(timer(1, EV_ENABLE, 20, 0, 2)), 0);
  const auto second = wait_one(kq, 2s);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->udata, 2u);
  EXPECT_EQ(second->flags, kPeriodicFlags) << "EV_ENABLE is never delivered";
}

TEST(TimerFilter, ReAddRestartsPeriodFromTheReAdd) {
  Kqueue kq;
  constexpr auto kPeriod = 200ms;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, kPeriod.count())), 0);
  std::this_thread::sleep_for(120ms);
  const auto re_added = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, kPeriod.count())), 0);
  EXPECT_EQ(kq.knote_count(), 1u);
  const auto event = wait_one(kq, 3s);
  ASSERT_TRUE(event.has_value());
  EXPECT_GE(since(re_added), kPeriod) << "fired on the old schedule";
  EXPECT_LE(event->data, periods_since(re_added, kPeriod));
}

TEST(TimerFilter, ReAddTakesTheNewPeriodAndUnit) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, 10)), 0);
  const auto re_added = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, 250'000, NOTE_USECONDS)), 0);
  const auto event = wait_one(kq, 3s);
  ASSERT_TRUE(event.has_value());
  EXPECT_GE(since(re_added), 250ms);
}

TEST(TimerFilter, ReAddDiscardsUndeliveredExpiration) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, 30)), 0);
  ASSERT_TRUE(wait_pending(kq, 2s)) << "the first expiry never became pending";
  const auto re_added = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, 300)), 0);
  EXPECT_EQ(kq.pending(), 0u);
  EXPECT_TRUE(drain(kq).empty()) << "the old expiration was delivered";
  const auto event = wait_one(kq, 3s);
  ASSERT_TRUE(event.has_value());
  EXPECT_GE(since(re_added), 300ms);
  EXPECT_GE(event->data, 1);
  EXPECT_LE(event->data, periods_since(re_added, 300ms)) << "old expirations were counted";
}

TEST(TimerFilter, ReAddDiscardsUndeliveredOneshotExpiration) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD | EV_ONESHOT, 0)), 0);
  ASSERT_EQ(kq.pending(), 1u);
  const auto re_added = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD | EV_ONESHOT, 200)), 0);
  EXPECT_TRUE(drain(kq).empty());
  const auto event = wait_one(kq, 3s);
  ASSERT_TRUE(event.has_value());
  EXPECT_GE(since(re_added), 200ms);
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(TimerFilter, DisabledTimerKeepsCountingAndReportsAfterEnable) {
  Kqueue kq;
  constexpr auto kPeriod = 20ms;
  const auto start = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, kPeriod.count())), 0);
  ASSERT_EQ(kq.apply(timer(1, EV_DISABLE, kPeriod.count())), 0);
  // Collecting meanwhile lets the queue see the expirations and hold them.
  EXPECT_TRUE(wait_events(kq, 10 * kPeriod).empty()) << "a disabled timer was delivered";
  ASSERT_EQ(kq.apply(timer(1, EV_ENABLE, kPeriod.count())), 0);
  const auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u) << "the expirations made while disabled were lost";
  EXPECT_GE(events[0].data, 9);
  EXPECT_LE(events[0].data, periods_since(start, kPeriod));
  EXPECT_EQ(events[0].flags, kPeriodicFlags);
}

TEST(TimerFilter, TimerAddedDisabledRunsAndReportsAfterEnable) {
  Kqueue kq;
  constexpr auto kPeriod = 20ms;
  const auto start = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD | EV_DISABLE, kPeriod.count())), 0);
  EXPECT_TRUE(wait_events(kq, 10 * kPeriod).empty());
  ASSERT_EQ(kq.apply(timer(1, EV_ENABLE, kPeriod.count())), 0);
  const auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_GE(events[0].data, 9);
  EXPECT_LE(events[0].data, periods_since(start, kPeriod));
  EXPECT_EQ(events[0].flags, kPeriodicFlags) << "EV_DISABLE is not a stored flag";
}

TEST(TimerFilter, DispatchTimerFiresOnceThenWaitsForEnable) {
  Kqueue kq;
  constexpr auto kPeriod = 20ms;
  const auto start = Clock::now();
  ASSERT_EQ(kq.apply(timer(1, EV_ADD | EV_DISPATCH, kPeriod.count())), 0);
  const auto first = wait_one(kq, 2s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->flags, EV_ADD | EV_CLEAR | EV_DISPATCH);
  EXPECT_TRUE(wait_events(kq, 150ms).empty()) << "fired again without EV_ENABLE";
  ASSERT_EQ(kq.apply(timer(1, EV_ENABLE, kPeriod.count())), 0);
  const auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  // It kept running: at least 7 periods passed since the first delivery.
  EXPECT_GE(events[0].data, 6);
  EXPECT_LE(first->data + events[0].data, periods_since(start, kPeriod));
  EXPECT_TRUE(wait_events(kq, 100ms).empty()) << "dispatch disables after each delivery";
}

TEST(TimerFilter, DeleteStopsTimerAndDropsPendingExpiration) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(timer(1, EV_ADD, 20)), 0);
  ASSERT_TRUE(wait_one(kq, 2s).has_value());
  ASSERT_TRUE(wait_pending(kq, 2s));
  ASSERT_EQ(kq.apply(timer(1, EV_DELETE, 0)), 0);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_TRUE(drain(kq).empty());
  EXPECT_TRUE(wait_events(kq, 150ms).empty());
  EXPECT_EQ(kq.apply(timer(1, EV_DELETE, 0)), ENOENT);
}

TEST(TimerFilter, ThousandTimersUseOneTimerfd) {
  Kqueue kq;
  constexpr uint64_t kTimers = 1000;
  const size_t before = open_descriptor_count();
  for (uint64_t i = 0; i < kTimers; ++i) {
    // Periods 10 ms to 1009 ms, added in a scattered order.
    const int64_t period_ms = 10 + static_cast<int64_t>((i * 389) % kTimers);
    ASSERT_EQ(kq.apply(timer(i, EV_ADD, period_ms)), 0);
  }
  EXPECT_EQ(kq.knote_count(EVFILT_TIMER), kTimers);
  EXPECT_LE(open_descriptor_count(), before + 1);

  std::vector<bool> seen(kTimers, false);
  size_t distinct = 0;
  const auto deadline = Clock::now() + 10s;
  while (distinct < kTimers && Clock::now() < deadline) {
    for (const Kevent& event : wait_events(kq, 500ms, 256)) {
      ASSERT_LT(event.ident, kTimers);
      if (!seen[event.ident]) {
        seen[event.ident] = true;
        ++distinct;
      }
    }
  }
  EXPECT_EQ(distinct, kTimers) << "some timers never fired";
  EXPECT_LE(open_descriptor_count(), before + 1);
}

TEST(TimerFilter, TimersFireInDeadlineOrder) {
  Kqueue kq;
  // Deadlines 50 ms apart, added out of order; the adds take microseconds.
  const std::vector<std::pair<uint64_t, int64_t>> ident_and_period = {
      {1, 250}, {2, 50}, {3, 200}, {4, 100}, {5, 150}};
  for (const auto& [ident, period] : ident_and_period) {
    ASSERT_EQ(kq.apply(timer(ident, EV_ADD | EV_ONESHOT, period)), 0);
  }
  EXPECT_EQ(idents_of(collect_events(kq, 5, 3s)), (std::vector<uint64_t>{2, 4, 5, 3, 1}));
}

}  // namespace
}  // namespace kqfs::test
