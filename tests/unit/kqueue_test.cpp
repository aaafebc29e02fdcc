// The queue itself: registration rules, delivery flags, the ready list and
// the queue's descriptor. EVFILT_USER (no kernel object, fully controlled by
// the test) and short timers are the vehicles.
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <vector>

#include "kqfs/constants.h"
#include "kqfs/kqueue.hpp"
#include "kqfs/unique_fd.hpp"
#include "test_support.hpp"

namespace kqfs {
namespace {

using namespace std::chrono_literals;
using test::change;
using test::drain;
using test::idents_of;
using test::queue_readable;
using test::user;
using test::wait_events;
using test::wait_one;

constexpr uint64_t kIdent = 42;

// A bare modification that triggers the knote (and, like any modification,
// replaces its udata and saved data).
Kevent trigger(uint64_t ident, uint64_t udata = 0) {
  return user(ident, 0, NOTE_TRIGGER, 0, udata);
}

// Applies user(kIdent, flags), then trigger(kIdent); returns the first error.
int apply_and_trigger(Kqueue& kq, uint16_t flags) {
  if (const int error = kq.apply(user(kIdent, flags))) return error;
  return kq.apply(trigger(kIdent));
}

// apply_and_trigger(), then collects: one event, with `flags`.
::testing::AssertionResult delivered_once_with(Kqueue& kq, uint16_t flags) {
  if (const int error = apply_and_trigger(kq, flags)) {
    return ::testing::AssertionFailure() << "apply and trigger: error " << error;
  }
  const auto events = drain(kq);
  if (events.size() != 1u) return ::testing::AssertionFailure() << events.size() << " events";
  if (events[0].flags != flags) {
    return ::testing::AssertionFailure() << "flags " << events[0].flags << ", not " << flags;
  }
  return ::testing::AssertionSuccess();
}

// --- Creation and modification -------------------------------------------

TEST(KqueueRegistration, AddCreatesAnEnabledKnote) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_CLEAR, 0, 0, 7)), 0);
  EXPECT_EQ(kq.knote_count(), 1u);
  ASSERT_EQ(kq.apply(user(kIdent, 0, NOTE_TRIGGER, 0, 7)), 0);

  auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, kIdent);
  EXPECT_EQ(events[0].filter, EVFILT_USER);
  EXPECT_EQ(events[0].udata, 7u);
}

TEST(KqueueRegistration, AddWithDisableCreatesADisabledKnote) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_DISABLE)), 0);
  EXPECT_EQ(kq.knote_count(), 1u);
  ASSERT_EQ(kq.apply(trigger(kIdent)), 0);
  EXPECT_TRUE(drain(kq).empty());
  EXPECT_FALSE(queue_readable(kq));

  ASSERT_EQ(kq.apply(user(kIdent, EV_ENABLE)), 0);
  EXPECT_EQ(drain(kq).size(), 1u);
}

TEST(KqueueRegistration, AddOnExistingKnoteUpdatesUdataAndSavedParameters) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_CLEAR, 0x11, 5, 1)), 0);
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD, NOTE_FFCOPY | NOTE_TRIGGER | 0x22, 9, 2)), 0);
  EXPECT_EQ(kq.knote_count(), 1u);

  auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].udata, 2u);
  EXPECT_EQ(events[0].fflags, 0x22u);
  EXPECT_EQ(events[0].data, 9);
}

// The default modification (filters without their own) saves fflags and
// data: here a read knote's NOTE_LOWAT low-water mark.
TEST(KqueueRegistration, AddOnExistingReadKnoteReplacesItsSavedFflagsAndData) {
  Kqueue kq;
  test::Pipe pipe;
  ASSERT_TRUE(pipe.read_end);
  const uint64_t fd = static_cast<uint64_t>(pipe.r());
  ASSERT_EQ(kq.apply(change(fd, EVFILT_READ, EV_ADD, NOTE_LOWAT, 5, 1)), 0);
  test::write_bytes(pipe.w(), "abc");
  EXPECT_TRUE(wait_events(kq, 100ms).empty());  // 3 bytes, below the mark of 5

  ASSERT_EQ(kq.apply(change(fd, EVFILT_READ, EV_ADD, NOTE_LOWAT, 2, 2)), 0);
  auto event = wait_one(kq, 2s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->data, 3);
  EXPECT_EQ(event->udata, 2u);
  EXPECT_EQ(kq.knote_count(), 1u);
}

TEST(KqueueRegistration, AddOnExistingDisabledKnoteDoesNotEnableIt) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_DISABLE)), 0);
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD, NOTE_TRIGGER)), 0);
  EXPECT_TRUE(drain(kq).empty());
  EXPECT_EQ(kq.pending(), 0u);

  ASSERT_EQ(kq.apply(user(kIdent, EV_ENABLE)), 0);
  EXPECT_EQ(drain(kq).size(), 1u);
}

TEST(KqueueRegistration, DeleteRemovesTheKnoteAndDiscardsItsQueuedEvent) {
  Kqueue kq;
  ASSERT_EQ(apply_and_trigger(kq, EV_ADD | EV_CLEAR), 0);
  ASSERT_EQ(kq.pending(), 1u);
  ASSERT_TRUE(queue_readable(kq));

  ASSERT_EQ(kq.apply(user(kIdent, EV_DELETE)), 0);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_EQ(kq.pending(), 0u);
  EXPECT_FALSE(queue_readable(kq));
  EXPECT_TRUE(drain(kq).empty());
  EXPECT_EQ(kq.apply(trigger(kIdent)), ENOENT);
}

TEST(KqueueRegistration, ChangesToAMissingKnoteFailWithEnoent) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(1, EV_ADD)), 0);  // another ident: not the one changed
  for (const uint16_t flags : {EV_DELETE, EV_ENABLE, EV_DISABLE, 0, EV_CLEAR, EV_DISPATCH}) {
    EXPECT_EQ(kq.apply(user(kIdent, flags)), ENOENT) << "flags " << flags;
    EXPECT_EQ(kq.apply(change(kIdent, EVFILT_TIMER, flags)), ENOENT) << "flags " << flags;
  }
  EXPECT_EQ(kq.apply(trigger(kIdent)), ENOENT);
  // The same ident under another filter is another knote.
  EXPECT_EQ(kq.apply(change(1, EVFILT_TIMER, EV_DELETE)), ENOENT);
  EXPECT_EQ(kq.knote_count(), 1u);
}

TEST(KqueueRegistration, EnableWithDisableIsEinval) {
  Kqueue kq;
  EXPECT_EQ(kq.apply(user(kIdent, EV_ADD | EV_ENABLE | EV_DISABLE)), EINVAL);
  EXPECT_EQ(kq.knote_count(), 0u);

  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD)), 0);
  EXPECT_EQ(kq.apply(user(kIdent, EV_ENABLE | EV_DISABLE, NOTE_TRIGGER)), EINVAL);
  // Nothing of the rejected change was applied: not triggered.
  EXPECT_TRUE(drain(kq).empty());
}

TEST(KqueueRegistration, FilterZeroAndOutOfRangeFiltersAreEinval) {
  Kqueue kq;
  for (const int16_t filter : {0, 1, 5, 32767, -14, -15, -100, -32768}) {
    EXPECT_EQ(kq.apply(change(kIdent, filter, EV_ADD)), EINVAL) << "filter " << filter;
  }
  EXPECT_EQ(kq.knote_count(), 0u);
}

// When kqfs implements one of these, it moves to its own filter's tests.
TEST(KqueueRegistration, FreeBsdFiltersNotImplementedAreEnotsup) {
  Kqueue kq;
  test::Pipe pipe;
  ASSERT_TRUE(pipe.read_end);
  const uint64_t fd = static_cast<uint64_t>(pipe.r());
  EXPECT_EQ(kq.apply(change(fd, EVFILT_AIO, EV_ADD)), ENOTSUP);
  EXPECT_EQ(kq.apply(change(fd, EVFILT_PROCDESC, EV_ADD, NOTE_EXIT)), ENOTSUP);
  EXPECT_EQ(kq.apply(change(0, EVFILT_FS, EV_ADD)), ENOTSUP);
  EXPECT_EQ(kq.apply(change(fd, EVFILT_LIO, EV_ADD)), ENOTSUP);
  EXPECT_EQ(kq.apply(change(fd, EVFILT_SENDFILE, EV_ADD)), ENOTSUP);
  EXPECT_EQ(kq.apply(change(fd, EVFILT_EMPTY, EV_ADD)), ENOTSUP);
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(KqueueRegistration, SystemFlagsAreStrippedFromChanges) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_CLEAR | EV_EOF | EV_ERROR | EV_FLAG1 | EV_DROP)), 0);
  ASSERT_EQ(kq.apply(user(kIdent, EV_EOF | EV_ERROR, NOTE_TRIGGER)), 0);

  auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].flags, EV_ADD | EV_CLEAR);
  EXPECT_EQ(events[0].flags & EV_SYSFLAGS, 0);
}

TEST(KqueueRegistration, ForceOneshotOnExistingKnoteDeliversItOnceAndDeletesIt) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD, 0, 0, 3)), 0);
  ASSERT_EQ(kq.apply(user(kIdent, EV_FORCEONESHOT, 0, 0, 4)), 0);  // not triggered

  auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, kIdent);
  EXPECT_EQ(events[0].udata, 4u);
  EXPECT_NE(events[0].flags & EV_ONESHOT, 0);
  EXPECT_EQ(events[0].flags & EV_FORCEONESHOT, 0);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_TRUE(drain(kq).empty());
}

TEST(KqueueRegistration, ForceOneshotOnAMissingKnoteIsEnoent) {
  Kqueue kq;
  EXPECT_EQ(kq.apply(user(kIdent, EV_FORCEONESHOT)), ENOENT);
}

TEST(KqueueRegistration, ForceOneshotIsIgnoredOnCreation) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_CLEAR | EV_FORCEONESHOT)), 0);
  EXPECT_TRUE(drain(kq).empty());  // not forced active either

  ASSERT_EQ(kq.apply(trigger(kIdent)), 0);
  auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].flags, EV_ADD | EV_CLEAR);
  EXPECT_EQ(kq.knote_count(), 1u);  // still there after delivery
}

TEST(KqueueRegistration, EveryModificationReplacesUdataUnlessKeepUdata) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD, 0, 0, 7)), 0);
  ASSERT_EQ(kq.apply(user(kIdent, EV_KEEPUDATA, NOTE_TRIGGER, 0, 99)), 0);
  auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].udata, 7u);

  // EV_DISABLE and EV_ENABLE are modifications too.
  ASSERT_EQ(kq.apply(user(kIdent, EV_DISABLE, 0, 0, 8)), 0);
  ASSERT_EQ(kq.apply(user(kIdent, EV_ENABLE | EV_KEEPUDATA, 0, 0, 100)), 0);
  events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].udata, 8u);

  ASSERT_EQ(kq.apply(user(kIdent, 0, 0, 0, 9)), 0);
  events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].udata, 9u);
}

TEST(KqueueRegistration, AddWithKeepUdataIsEinval) {
  Kqueue kq;
  EXPECT_EQ(kq.apply(user(kIdent, EV_ADD | EV_KEEPUDATA)), EINVAL);
  EXPECT_EQ(kq.knote_count(), 0u);
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD, 0, 0, 5)), 0);
  EXPECT_EQ(kq.apply(user(kIdent, EV_ADD | EV_KEEPUDATA, NOTE_TRIGGER, 0, 6)), EINVAL);
  EXPECT_TRUE(drain(kq).empty());
}

TEST(KqueueRegistration, AddWithDeleteCreatesAMissingKnote) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_DELETE | EV_CLEAR)), 0);
  EXPECT_EQ(kq.knote_count(), 1u);
  ASSERT_EQ(kq.apply(trigger(kIdent)), 0);
  auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].flags, EV_ADD | EV_CLEAR);  // EV_DELETE is not stored
}

TEST(KqueueRegistration, AddWithDeleteDeletesAnExistingKnote) {
  Kqueue kq;
  ASSERT_EQ(apply_and_trigger(kq, EV_ADD), 0);
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_DELETE)), 0);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_TRUE(drain(kq).empty());
}

TEST(KqueueRegistration, MaxKnotesLimitRefusesNewKnotesWithEnospc) {
  Kqueue kq(Kqueue::Limits{.max_knotes = 3});
  for (uint64_t ident = 1; ident <= 3; ++ident)
    ASSERT_EQ(kq.apply(user(ident, EV_ADD)), 0);
  EXPECT_EQ(kq.apply(user(4, EV_ADD)), ENOSPC);
  EXPECT_EQ(kq.apply(change(4, EVFILT_TIMER, EV_ADD, 0, 1000)), ENOSPC);
  EXPECT_EQ(kq.knote_count(), 3u);

  // Existing knotes can still be changed, and a deletion makes room.
  EXPECT_EQ(kq.apply(user(2, EV_ADD, NOTE_TRIGGER)), 0);
  ASSERT_EQ(kq.apply(user(1, EV_DELETE)), 0);
  EXPECT_EQ(kq.apply(user(4, EV_ADD)), 0);
  EXPECT_EQ(kq.knote_count(), 3u);
}

TEST(KqueueRegistration, SharedBudgetBoundsKnotesAcrossQueues) {
  const auto budget = std::make_shared<KnoteBudget>(3);
  const Kqueue::Limits limits{.max_knotes = 100, .budget = budget};
  auto first = std::make_unique<Kqueue>(limits);
  Kqueue second(limits);
  ASSERT_EQ(first->apply(user(1, EV_ADD)), 0);
  ASSERT_EQ(first->apply(user(2, EV_ADD)), 0);
  ASSERT_EQ(second.apply(user(1, EV_ADD)), 0);
  std::string why;
  EXPECT_EQ(second.apply(user(2, EV_ADD), std::make_shared<InProcessResolver>(), &why), ENOSPC);
  EXPECT_EQ(why, "owner holds its limit of 3 knotes");
  EXPECT_EQ(budget->used(), 3u);

  // A deletion, and a queue destroyed with knotes, give theirs back.
  ASSERT_EQ(second.apply(user(1, EV_DELETE)), 0);
  EXPECT_EQ(budget->used(), 2u);
  first.reset();
  EXPECT_EQ(budget->used(), 0u);
  for (uint64_t ident = 1; ident <= 3; ++ident)
    EXPECT_EQ(second.apply(user(ident, EV_ADD)), 0);
}

TEST(KqueueRegistration, KnoteCountIsKeptPerFilter) {
  Kqueue kq;
  test::Pipe pipe;
  ASSERT_TRUE(pipe.read_end);
  for (uint64_t ident = 1; ident <= 3; ++ident)
    ASSERT_EQ(kq.apply(user(ident, EV_ADD)), 0);
  ASSERT_EQ(kq.apply(change(1, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 60)), 0);
  ASSERT_EQ(kq.apply(change(2, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 60)), 0);
  ASSERT_EQ(kq.apply(change(static_cast<uint64_t>(pipe.r()), EVFILT_READ, EV_ADD)), 0);

  EXPECT_EQ(kq.knote_count(), 6u);
  EXPECT_EQ(kq.knote_count(EVFILT_USER), 3u);
  EXPECT_EQ(kq.knote_count(EVFILT_TIMER), 2u);
  EXPECT_EQ(kq.knote_count(EVFILT_READ), 1u);
  EXPECT_EQ(kq.knote_count(EVFILT_WRITE), 0u);
  EXPECT_EQ(kq.knote_count(0), 0u);
  EXPECT_EQ(kq.knote_count(-100), 0u);

  ASSERT_EQ(kq.apply(user(2, EV_DELETE)), 0);
  ASSERT_EQ(kq.apply(change(1, EVFILT_TIMER, EV_DELETE)), 0);
  EXPECT_EQ(kq.knote_count(EVFILT_USER), 2u);
  EXPECT_EQ(kq.knote_count(EVFILT_TIMER), 1u);
  EXPECT_EQ(kq.knote_count(), 4u);
}

// --- Delivery flags --------------------------------------------------------

TEST(KqueueDelivery, OneshotIsDeliveredOnceThenTheKnoteIsGone) {
  Kqueue kq;
  ASSERT_TRUE(delivered_once_with(kq, EV_ADD | EV_ONESHOT));
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_EQ(kq.apply(user(kIdent, EV_DELETE)), ENOENT);
  EXPECT_TRUE(drain(kq).empty());
}

TEST(KqueueDelivery, OneshotWinsOverDispatch) {
  Kqueue kq;
  ASSERT_TRUE(delivered_once_with(kq, EV_ADD | EV_ONESHOT | EV_DISPATCH));
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_EQ(kq.apply(user(kIdent, EV_ENABLE)), ENOENT);
}

TEST(KqueueDelivery, OneshotTimerIsDeliveredOnceThenTheKnoteIsGone) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(change(kIdent, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 10)), 0);
  auto event = wait_one(kq, 2s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->filter, EVFILT_TIMER);
  EXPECT_NE(event->flags & EV_ONESHOT, 0);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_EQ(kq.apply(change(kIdent, EVFILT_TIMER, EV_DELETE)), ENOENT);
  EXPECT_TRUE(wait_events(kq, 100ms).empty());
}

TEST(KqueueDelivery, LevelTriggeredKnoteIsDeliveredOnEveryCollectWhileItHolds) {
  Kqueue kq;
  ASSERT_EQ(apply_and_trigger(kq, EV_ADD), 0);
  for (int round = 0; round < 3; ++round) {
    auto events = drain(kq);
    ASSERT_EQ(events.size(), 1u) << "round " << round;
    EXPECT_EQ(events[0].ident, kIdent);
  }
}

TEST(KqueueDelivery, LevelTriggeredReadKnoteStopsWhenItsConditionEnds) {
  Kqueue kq;
  test::Pipe pipe;
  ASSERT_TRUE(pipe.read_end);
  ASSERT_EQ(kq.apply(change(static_cast<uint64_t>(pipe.r()), EVFILT_READ, EV_ADD)), 0);
  test::write_bytes(pipe.w(), "abc");
  EXPECT_EQ(wait_events(kq, 2s).size(), 1u);
  EXPECT_EQ(drain(kq).size(), 1u);  // still readable: reported again

  char buffer[8];
  ASSERT_EQ(::read(pipe.r(), buffer, sizeof buffer), 3);
  EXPECT_TRUE(drain(kq).empty());
}

TEST(KqueueDelivery, ClearKnoteIsDeliveredOncePerTrigger) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_CLEAR)), 0);
  for (int round = 0; round < 3; ++round) {
    ASSERT_EQ(kq.apply(trigger(kIdent)), 0);
    EXPECT_EQ(drain(kq).size(), 1u) << "round " << round;
    EXPECT_TRUE(drain(kq).empty()) << "round " << round;
  }
}

TEST(KqueueDelivery, DispatchKnoteIsDisabledAfterDeliveryUntilEnabled) {
  Kqueue kq;
  ASSERT_TRUE(delivered_once_with(kq, EV_ADD | EV_DISPATCH));

  // Still triggered (no EV_CLEAR), but disabled.
  EXPECT_TRUE(drain(kq).empty());
  ASSERT_EQ(kq.apply(trigger(kIdent)), 0);
  EXPECT_TRUE(drain(kq).empty());
  EXPECT_FALSE(queue_readable(kq));

  ASSERT_EQ(kq.apply(user(kIdent, EV_ENABLE)), 0);
  EXPECT_EQ(drain(kq).size(), 1u);
  EXPECT_TRUE(drain(kq).empty());  // disabled again by that delivery
}

TEST(KqueueDelivery, DispatchTimerIsDisabledAfterDeliveryUntilEnabled) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(change(kIdent, EVFILT_TIMER, EV_ADD | EV_DISPATCH, 0, 10)), 0);
  auto first = wait_one(kq, 2s);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->flags, EV_ADD | EV_CLEAR | EV_DISPATCH);
  EXPECT_TRUE(wait_events(kq, 100ms).empty());  // the 10 ms period passed many times

  ASSERT_EQ(kq.apply(change(kIdent, EVFILT_TIMER, EV_ENABLE)), 0);
  auto second = wait_one(kq, 2s);
  ASSERT_TRUE(second.has_value());
  EXPECT_GE(second->data, 1);
}

TEST(KqueueDelivery, ReceiptIsStickyInDeliveredFlags) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_CLEAR | EV_RECEIPT)), 0);
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(kq.apply(trigger(kIdent)), 0);
    auto events = drain(kq);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].flags, EV_ADD | EV_CLEAR | EV_RECEIPT);
  }
}

TEST(KqueueDelivery, DeliveredFlagsIncludeAddAndNeverEnableDisableOrDelete) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_DISABLE)), 0);
  ASSERT_EQ(kq.apply(user(kIdent, EV_ENABLE, NOTE_TRIGGER)), 0);
  auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].flags, EV_ADD);

  ASSERT_EQ(kq.apply(user(kIdent, EV_DISABLE)), 0);
  ASSERT_EQ(kq.apply(user(kIdent, EV_ENABLE | EV_KEEPUDATA)), 0);
  events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].flags, EV_ADD);

  ASSERT_EQ(kq.apply(user(kIdent, EV_DELETE)), 0);
  ASSERT_EQ(kq.apply(user(7, EV_ADD | EV_DELETE | EV_ENABLE | EV_ONESHOT)), 0);
  ASSERT_EQ(kq.apply(trigger(7)), 0);
  events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, 7u);
  EXPECT_EQ(events[0].flags, EV_ADD | EV_ONESHOT);
}

// --- The ready list --------------------------------------------------------

TEST(KqueueReadyList, ManyTriggersQueueTheKnoteOnce) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_CLEAR)), 0);
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(kq.apply(trigger(kIdent)), 0);
  EXPECT_EQ(kq.pending(), 1u);
  EXPECT_EQ(drain(kq).size(), 1u);
  EXPECT_EQ(kq.pending(), 0u);
}

TEST(KqueueReadyList, LevelKnoteAppearsOncePerCollectEvenWithALargeBuffer) {
  Kqueue kq;
  ASSERT_EQ(apply_and_trigger(kq, EV_ADD), 0);
  auto events = drain(kq, 256);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(kq.pending(), 1u);  // back on the list for the next collect
}

TEST(KqueueReadyList, EventsComeInActivationOrder) {
  Kqueue kq;
  for (uint64_t ident = 1; ident <= 5; ++ident) {
    ASSERT_EQ(kq.apply(user(ident, EV_ADD | EV_CLEAR)), 0);
  }
  const std::vector<uint64_t> order = {3, 1, 5, 2, 4};
  for (uint64_t ident : order)
    ASSERT_EQ(kq.apply(trigger(ident)), 0);
  // A repeated trigger does not move a knote to the back.
  ASSERT_EQ(kq.apply(trigger(3)), 0);
  EXPECT_EQ(idents_of(drain(kq)), order);
}

TEST(KqueueReadyList, SmallBufferGetsTheFirstEventsAndTheRestStayInOrder) {
  Kqueue kq;
  for (uint64_t ident = 1; ident <= 5; ++ident) {
    ASSERT_EQ(kq.apply(user(ident, EV_ADD | EV_CLEAR)), 0);
  }
  for (uint64_t ident : {5, 4, 3, 2, 1})
    ASSERT_EQ(kq.apply(trigger(ident)), 0);

  EXPECT_EQ(idents_of(drain(kq, 2)), (std::vector<uint64_t>{5, 4}));
  EXPECT_EQ(kq.pending(), 3u);
  EXPECT_TRUE(queue_readable(kq));
  EXPECT_EQ(idents_of(drain(kq, 2)), (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(idents_of(drain(kq, 2)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(kq.pending(), 0u);
}

TEST(KqueueReadyList, PendingCountsQueuedKnotes) {
  Kqueue kq;
  for (uint64_t ident = 1; ident <= 3; ++ident) {
    ASSERT_EQ(kq.apply(user(ident, EV_ADD | EV_CLEAR)), 0);
  }
  EXPECT_EQ(kq.pending(), 0u);
  ASSERT_EQ(kq.apply(trigger(1)), 0);
  ASSERT_EQ(kq.apply(trigger(3)), 0);
  EXPECT_EQ(kq.pending(), 2u);
  EXPECT_EQ(drain(kq, 1).size(), 1u);
  EXPECT_EQ(kq.pending(), 1u);
}

TEST(KqueueReadyList, DisableTakesAQueuedKnoteOffAndEnablePutsItBack) {
  Kqueue kq;
  ASSERT_EQ(apply_and_trigger(kq, EV_ADD | EV_CLEAR), 0);
  ASSERT_EQ(kq.pending(), 1u);

  ASSERT_EQ(kq.apply(user(kIdent, EV_DISABLE)), 0);
  EXPECT_EQ(kq.pending(), 0u);
  EXPECT_FALSE(queue_readable(kq));
  EXPECT_TRUE(drain(kq).empty());

  ASSERT_EQ(kq.apply(user(kIdent, EV_ENABLE)), 0);
  EXPECT_EQ(kq.pending(), 1u);
  EXPECT_TRUE(queue_readable(kq));
  EXPECT_EQ(drain(kq).size(), 1u);
}

// --- The queue's descriptor ------------------------------------------------

TEST(KqueueDescriptor, IsReadableExactlyWhenSomethingIsPending) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(1, EV_ADD | EV_CLEAR)), 0);
  ASSERT_EQ(kq.apply(user(2, EV_ADD)), 0);
  EXPECT_FALSE(queue_readable(kq));

  ASSERT_EQ(kq.apply(trigger(1)), 0);
  EXPECT_TRUE(queue_readable(kq));
  EXPECT_EQ(drain(kq).size(), 1u);
  EXPECT_FALSE(queue_readable(kq));  // the EV_CLEAR event is consumed

  ASSERT_EQ(kq.apply(trigger(2)), 0);
  EXPECT_EQ(drain(kq).size(), 1u);
  EXPECT_TRUE(queue_readable(kq));  // a level knote is still pending
  ASSERT_EQ(kq.apply(user(2, EV_DELETE)), 0);
  EXPECT_FALSE(queue_readable(kq));
}

TEST(KqueueDescriptor, BecomesReadableWhenATimerFires) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(change(kIdent, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 20)), 0);
  pollfd p{kq.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  EXPECT_EQ(drain(kq).size(), 1u);
}

TEST(KqueueDescriptor, WorksNestedInAnEpollInstance) {
  Kqueue kq;
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(epoll);
  epoll_event interest{};
  interest.events = EPOLLIN;
  ASSERT_EQ(::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, kq.fd(), &interest), 0);
  ASSERT_EQ(kq.apply(user(kIdent, EV_ADD | EV_CLEAR)), 0);

  epoll_event out{};
  EXPECT_EQ(::epoll_wait(epoll.get(), &out, 1, 0), 0);
  ASSERT_EQ(kq.apply(trigger(kIdent)), 0);
  EXPECT_EQ(::epoll_wait(epoll.get(), &out, 1, 2000), 1);
  EXPECT_EQ(drain(kq).size(), 1u);
  EXPECT_EQ(::epoll_wait(epoll.get(), &out, 1, 0), 0);
}

TEST(KqueueDescriptor, WorksAsAReadKnoteInAnotherQueue) {
  Kqueue inner;
  Kqueue outer;
  const uint64_t inner_fd = static_cast<uint64_t>(inner.fd());
  ASSERT_EQ(inner.apply(user(kIdent, EV_ADD | EV_CLEAR)), 0);
  ASSERT_EQ(outer.apply(change(inner_fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, 5)), 0);
  EXPECT_TRUE(wait_events(outer, 100ms).empty());

  ASSERT_EQ(inner.apply(trigger(kIdent)), 0);
  auto event = wait_one(outer, 2s);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->ident, inner_fd);
  EXPECT_EQ(event->filter, EVFILT_READ);
  EXPECT_EQ(event->udata, 5u);
  EXPECT_GE(event->data, 1);
  EXPECT_EQ(drain(inner).size(), 1u);
}

TEST(KqueueDescriptor, AQueueCannotRegisterItself) {
  Kqueue kq;
  EXPECT_EQ(kq.apply(change(static_cast<uint64_t>(kq.fd()), EVFILT_READ, EV_ADD)), EINVAL);
  EXPECT_EQ(kq.knote_count(), 0u);
}

}  // namespace
}  // namespace kqfs
