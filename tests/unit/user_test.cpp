// EVFILT_USER: triggered by the program itself; NOTE_FF* operate on 24 user
// flag bits stored in the knote; no kernel object per knote.
#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <vector>

#include "kqfs/constants.h"
#include "kqfs/kqueue.hpp"
#include "test_support.hpp"

namespace kqfs {
namespace {

using test::change;
using test::drain;
using test::idents_of;
using test::open_descriptor_count;
using test::queue_readable;

constexpr uint64_t kIdent = 9;
constexpr uint32_t kAboveFlagBits = 0x3e000000;  // between NOTE_TRIGGER and the control field

Kevent user(uint16_t flags, uint32_t fflags = 0, int64_t data = 0, uint64_t udata = 0) {
  return change(kIdent, EVFILT_USER, flags, fflags, data, udata);
}

// The single event collected now; fails the test when there is not exactly one.
Kevent collect_one(Kqueue& kq) {
  auto events = drain(kq);
  EXPECT_EQ(events.size(), 1u);
  return events.empty() ? Kevent{} : events.front();
}

// The user flags delivered after creating a knote with `initial` and
// triggering it with `operation`.
uint32_t flags_after(uint32_t initial, uint32_t operation) {
  Kqueue kq;
  EXPECT_EQ(kq.apply(user(EV_ADD | EV_CLEAR, initial)), 0);
  EXPECT_EQ(kq.apply(user(0, operation | NOTE_TRIGGER)), 0);
  return collect_one(kq).fflags;
}

TEST(UserFilter, TriggerDeliversTheEvent) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD | EV_CLEAR, 0, 0, 3)), 0);
  EXPECT_TRUE(drain(kq).empty());
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER, 0, 4)), 0);

  const Kevent event = collect_one(kq);
  EXPECT_EQ(event.ident, kIdent);
  EXPECT_EQ(event.filter, EVFILT_USER);
  EXPECT_EQ(event.flags, EV_ADD | EV_CLEAR);
  EXPECT_EQ(event.udata, 4u);
}

TEST(UserFilter, AnyNumberIsAnIdent) {
  Kqueue kq;
  const uint64_t idents[] = {0, 1, 0xffffffffu, UINT64_MAX};
  for (const uint64_t ident : idents) {
    ASSERT_EQ(kq.apply(change(ident, EVFILT_USER, EV_ADD | EV_CLEAR)), 0);
  }
  EXPECT_EQ(kq.knote_count(), 4u);
  for (const uint64_t ident : idents) {
    ASSERT_EQ(kq.apply(change(ident, EVFILT_USER, 0, NOTE_TRIGGER)), 0);
  }
  EXPECT_EQ(idents_of(drain(kq)), std::vector<uint64_t>(std::begin(idents), std::end(idents)));
}

TEST(UserFilter, TriggerInsideTheCreatingAddIsIgnored) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD | EV_CLEAR, NOTE_TRIGGER)), 0);
  EXPECT_EQ(kq.pending(), 0u);
  EXPECT_FALSE(queue_readable(kq));
  EXPECT_TRUE(drain(kq).empty());
}

TEST(UserFilter, TriggerInsideAnAddOnAnExistingKnoteTriggersIt) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD | EV_CLEAR)), 0);
  ASSERT_EQ(kq.apply(user(EV_ADD, NOTE_TRIGGER)), 0);
  EXPECT_EQ(drain(kq).size(), 1u);
}

TEST(UserFilter, CreationStoresOnlyTheLowFlagBits) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD | EV_CLEAR, NOTE_FFCOPY | NOTE_TRIGGER | kAboveFlagBits | 0xabc)),
            0);
  ASSERT_EQ(kq.apply(user(0, NOTE_FFNOP | NOTE_TRIGGER)), 0);
  EXPECT_EQ(collect_one(kq).fflags, 0xabcu);
}

TEST(UserFilter, FfnopKeepsTheStoredFlags) {
  EXPECT_EQ(flags_after(0x0f0f, NOTE_FFNOP | 0x00ff), 0x0f0fu);
}

TEST(UserFilter, FfandAndsTheLowBits) {
  EXPECT_EQ(flags_after(0x0f0f, NOTE_FFAND | 0x00ff), 0x000fu);
  EXPECT_EQ(flags_after(0xffffff, NOTE_FFAND | kAboveFlagBits | 0x0000f0), 0x0000f0u);
}

TEST(UserFilter, FforOrsTheLowBits) {
  EXPECT_EQ(flags_after(0x0f0f, NOTE_FFOR | 0x00ff), 0x0fffu);
  EXPECT_EQ(flags_after(0x1, NOTE_FFOR | kAboveFlagBits | 0x100), 0x101u);
}

TEST(UserFilter, FfcopyReplacesWithTheLowBits) {
  EXPECT_EQ(flags_after(0x0f0f, NOTE_FFCOPY | 0x00ff), 0x00ffu);
  EXPECT_EQ(flags_after(0x1, NOTE_FFCOPY | kAboveFlagBits | 0xffffff), 0xffffffu);
  EXPECT_EQ(flags_after(0x1234, NOTE_FFCOPY), 0u);
}

TEST(UserFilter, OutputFflagsNeverCarryControlOrHighBits) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD, 0xffffffff)), 0);
  const uint32_t operations[] = {NOTE_FFNOP, NOTE_FFAND, NOTE_FFOR, NOTE_FFCOPY};
  for (const uint32_t operation : operations) {
    ASSERT_EQ(kq.apply(user(0, operation | NOTE_TRIGGER | 0xffffff | kAboveFlagBits)), 0);
    const Kevent event = collect_one(kq);
    EXPECT_EQ(event.fflags, 0xffffffu) << "operation " << std::hex << operation;
  }
}

TEST(UserFilter, StoredFlagsPersistAcrossDeliveries) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD | EV_CLEAR)), 0);
  ASSERT_EQ(kq.apply(user(0, NOTE_FFCOPY | NOTE_TRIGGER | 0x42)), 0);
  EXPECT_EQ(collect_one(kq).fflags, 0x42u);
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER)), 0);
  EXPECT_EQ(collect_one(kq).fflags, 0x42u);
}

TEST(UserFilter, DataOfEveryModificationIsStoredAndDelivered) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD, 0, 1)), 0);  // level: delivered on every collect
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER, 2)), 0);
  EXPECT_EQ(collect_one(kq).data, 2);

  ASSERT_EQ(kq.apply(user(0, 0, 3)), 0);  // a modification without a trigger
  EXPECT_EQ(collect_one(kq).data, 3);

  ASSERT_EQ(kq.apply(user(EV_DISABLE, 0, 4)), 0);
  ASSERT_EQ(kq.apply(user(EV_ENABLE, 0, 5)), 0);
  EXPECT_EQ(collect_one(kq).data, 5);

  ASSERT_EQ(kq.apply(user(EV_ADD, 0, -6)), 0);
  EXPECT_EQ(collect_one(kq).data, -6);
}

TEST(UserFilter, ClearResetsTheTriggerOnDelivery) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD | EV_CLEAR)), 0);
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER)), 0);
  EXPECT_EQ(drain(kq).size(), 1u);
  EXPECT_TRUE(drain(kq).empty());
  EXPECT_FALSE(queue_readable(kq));
  // Enabling re-evaluates the knote: it is no longer triggered.
  ASSERT_EQ(kq.apply(user(EV_ENABLE)), 0);
  EXPECT_TRUE(drain(kq).empty());
}

TEST(UserFilter, WithoutClearItStaysTriggered) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD)), 0);
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER)), 0);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(drain(kq).size(), 1u) << "round " << round;
    EXPECT_TRUE(queue_readable(kq));
  }
}

TEST(UserFilter, ClearInALaterModificationResetsTheTrigger) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD)), 0);
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER)), 0);
  EXPECT_EQ(drain(kq).size(), 1u);

  ASSERT_EQ(kq.apply(user(EV_CLEAR)), 0);
  EXPECT_EQ(kq.pending(), 0u);
  EXPECT_FALSE(queue_readable(kq));
  EXPECT_TRUE(drain(kq).empty());

  // EV_CLEAR was an action there, not stored: the knote stays level-triggered.
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER)), 0);
  const Kevent event = collect_one(kq);
  EXPECT_EQ(event.flags, EV_ADD);
  EXPECT_EQ(drain(kq).size(), 1u);
}

TEST(UserFilter, TriggerWhileDisabledIsDeliveredAfterEnable) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD | EV_CLEAR)), 0);
  ASSERT_EQ(kq.apply(user(EV_DISABLE)), 0);
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER | NOTE_FFCOPY | 0x7, 11)), 0);
  EXPECT_TRUE(drain(kq).empty());
  EXPECT_FALSE(queue_readable(kq));

  ASSERT_EQ(kq.apply(user(EV_ENABLE, 0, 11)), 0);
  const Kevent event = collect_one(kq);
  EXPECT_EQ(event.fflags, 0x7u);
  EXPECT_EQ(event.data, 11);
}

TEST(UserFilter, TriggerOnAKnoteCreatedDisabledIsDeliveredAfterEnable) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD | EV_CLEAR | EV_DISABLE)), 0);
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER)), 0);
  EXPECT_TRUE(drain(kq).empty());
  ASSERT_EQ(kq.apply(user(EV_ENABLE)), 0);
  EXPECT_EQ(drain(kq).size(), 1u);
}

TEST(UserFilter, DispatchIsRearmedByEnableWithTrigger) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD | EV_CLEAR | EV_DISPATCH)), 0);
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER)), 0);
  for (int round = 0; round < 3; ++round) {
    const Kevent event = collect_one(kq);
    EXPECT_EQ(event.flags, EV_ADD | EV_CLEAR | EV_DISPATCH);
    EXPECT_TRUE(drain(kq).empty()) << "round " << round;

    // Enabling alone does not deliver: the trigger was consumed.
    ASSERT_EQ(kq.apply(user(EV_ENABLE)), 0);
    EXPECT_TRUE(drain(kq).empty()) << "round " << round;
    ASSERT_EQ(kq.apply(user(EV_DISABLE)), 0);

    ASSERT_EQ(kq.apply(user(EV_ENABLE, NOTE_TRIGGER)), 0);
  }
  EXPECT_EQ(drain(kq).size(), 1u);
}

TEST(UserFilter, OneshotDeliversTheStoredFflagsAndData) {
  Kqueue kq;
  ASSERT_EQ(kq.apply(user(EV_ADD | EV_ONESHOT, 0x123, 0)), 0);
  ASSERT_EQ(kq.apply(user(0, NOTE_TRIGGER | NOTE_FFOR | 0x400, 77, 5)), 0);

  const Kevent event = collect_one(kq);
  EXPECT_EQ(event.flags, EV_ADD | EV_ONESHOT);
  EXPECT_EQ(event.fflags, 0x523u);
  EXPECT_EQ(event.data, 77);
  EXPECT_EQ(event.udata, 5u);
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(UserFilter, KnotesNeedNoKernelObject) {
  Kqueue kq;
  constexpr uint64_t kKnotes = 10'000;
  const size_t before = open_descriptor_count();
  for (uint64_t ident = 0; ident < kKnotes; ++ident) {
    const uint16_t behaviour = (ident % 3 == 0)   ? EV_CLEAR
                               : (ident % 3 == 1) ? EV_DISPATCH
                                                  : EV_ONESHOT;
    ASSERT_EQ(kq.apply(change(ident, EVFILT_USER, EV_ADD | behaviour)), 0);
  }
  EXPECT_EQ(kq.knote_count(EVFILT_USER), kKnotes);
  EXPECT_EQ(open_descriptor_count(), before);

  // And they all work.
  for (uint64_t ident = 0; ident < kKnotes; ++ident) {
    ASSERT_EQ(kq.apply(change(ident, EVFILT_USER, 0, NOTE_TRIGGER)), 0);
  }
  EXPECT_EQ(drain(kq, kKnotes + 1).size(), kKnotes);
  EXPECT_EQ(open_descriptor_count(), before);
}

}  // namespace
}  // namespace kqfs
