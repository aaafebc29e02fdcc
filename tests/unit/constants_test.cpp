// The constants take FreeBSD's values, the record has the 32-byte layout of
// libkqueue's and macOS's struct kevent, and the name table maps both ways.
#include <gtest/gtest.h>

#include <cstddef>
#include <optional>
#include <string>

#include "kqfs/constants.h"
#include "kqfs/kevent.hpp"
#include "kqfs/names.hpp"
#include "test_support.hpp"

namespace kqfs {
namespace {

TEST(Constants, FiltersHaveFreeBsdValues) {
  EXPECT_EQ(EVFILT_READ, -1);
  EXPECT_EQ(EVFILT_WRITE, -2);
  EXPECT_EQ(EVFILT_AIO, -3);
  EXPECT_EQ(EVFILT_VNODE, -4);
  EXPECT_EQ(EVFILT_PROC, -5);
  EXPECT_EQ(EVFILT_SIGNAL, -6);
  EXPECT_EQ(EVFILT_TIMER, -7);
  EXPECT_EQ(EVFILT_PROCDESC, -8);
  EXPECT_EQ(EVFILT_FS, -9);
  EXPECT_EQ(EVFILT_LIO, -10);
  EXPECT_EQ(EVFILT_USER, -11);
  EXPECT_EQ(EVFILT_SENDFILE, -12);
  EXPECT_EQ(EVFILT_EMPTY, -13);
  EXPECT_EQ(EVFILT_SYSCOUNT, 13);
}

TEST(Constants, EventFlagsHaveFreeBsdValues) {
  EXPECT_EQ(EV_ADD, 0x0001);
  EXPECT_EQ(EV_DELETE, 0x0002);
  EXPECT_EQ(EV_ENABLE, 0x0004);
  EXPECT_EQ(EV_DISABLE, 0x0008);
  EXPECT_EQ(EV_ONESHOT, 0x0010);
  EXPECT_EQ(EV_CLEAR, 0x0020);
  EXPECT_EQ(EV_RECEIPT, 0x0040);
  EXPECT_EQ(EV_DISPATCH, 0x0080);
  EXPECT_EQ(EV_FORCEONESHOT, 0x0100);
  EXPECT_EQ(EV_KEEPUDATA, 0x0200);
  EXPECT_EQ(EV_SYSFLAGS, 0xF000);
  EXPECT_EQ(EV_DROP, 0x1000);
  EXPECT_EQ(EV_FLAG1, 0x2000);
  EXPECT_EQ(EV_FLAG2, 0x4000);
  EXPECT_EQ(EV_ERROR, 0x4000);
  EXPECT_EQ(EV_EOF, 0x8000);
}

TEST(Constants, ReadWriteNotesHaveFreeBsdValues) {
  EXPECT_EQ(NOTE_LOWAT, 0x0001);
  EXPECT_EQ(NOTE_FILE_POLL, 0x0002);
}

TEST(Constants, UserNotesHaveFreeBsdValues) {
  EXPECT_EQ(NOTE_FFNOP, 0x00000000u);
  EXPECT_EQ(NOTE_FFAND, 0x40000000u);
  EXPECT_EQ(NOTE_FFOR, 0x80000000u);
  EXPECT_EQ(NOTE_FFCOPY, 0xc0000000u);
  EXPECT_EQ(NOTE_FFCTRLMASK, 0xc0000000u);
  EXPECT_EQ(NOTE_FFLAGSMASK, 0x00ffffffu);
  EXPECT_EQ(NOTE_TRIGGER, 0x01000000u);
}

TEST(Constants, VnodeNotesHaveFreeBsdValues) {
  EXPECT_EQ(NOTE_DELETE, 0x0001);
  EXPECT_EQ(NOTE_WRITE, 0x0002);
  EXPECT_EQ(NOTE_EXTEND, 0x0004);
  EXPECT_EQ(NOTE_ATTRIB, 0x0008);
  EXPECT_EQ(NOTE_LINK, 0x0010);
  EXPECT_EQ(NOTE_RENAME, 0x0020);
  EXPECT_EQ(NOTE_REVOKE, 0x0040);
  EXPECT_EQ(NOTE_OPEN, 0x0080);
  EXPECT_EQ(NOTE_CLOSE, 0x0100);
  EXPECT_EQ(NOTE_CLOSE_WRITE, 0x0200);
  EXPECT_EQ(NOTE_READ, 0x0400);
}

TEST(Constants, ProcNotesHaveFreeBsdValues) {
  EXPECT_EQ(NOTE_EXIT, 0x80000000u);
  EXPECT_EQ(NOTE_FORK, 0x40000000u);
  EXPECT_EQ(NOTE_EXEC, 0x20000000u);
  EXPECT_EQ(NOTE_PCTRLMASK, 0xf0000000u);
  EXPECT_EQ(NOTE_PDATAMASK, 0x000fffffu);
  EXPECT_EQ(NOTE_TRACK, 0x00000001u);
  EXPECT_EQ(NOTE_TRACKERR, 0x00000002u);
  EXPECT_EQ(NOTE_CHILD, 0x00000004u);
}

TEST(Constants, TimerNotesHaveFreeBsdValues) {
  EXPECT_EQ(NOTE_SECONDS, 0x01u);
  EXPECT_EQ(NOTE_MSECONDS, 0x02u);
  EXPECT_EQ(NOTE_USECONDS, 0x04u);
  EXPECT_EQ(NOTE_NSECONDS, 0x08u);
  EXPECT_EQ(NOTE_ABSTIME, 0x10u);
  EXPECT_EQ(NOTE_ABSOLUTE, NOTE_ABSTIME);
  EXPECT_EQ(NOTE_TIMER_PRECMASK, 0x0fu);
}

TEST(KeventLayout, IsThirtyTwoBytesWithTheBinaryRecordOffsets) {
  EXPECT_EQ(sizeof(Kevent), 32u);
  EXPECT_EQ(offsetof(Kevent, ident), 0u);
  EXPECT_EQ(offsetof(Kevent, filter), 8u);
  EXPECT_EQ(offsetof(Kevent, flags), 10u);
  EXPECT_EQ(offsetof(Kevent, fflags), 12u);
  EXPECT_EQ(offsetof(Kevent, data), 16u);
  EXPECT_EQ(offsetof(Kevent, udata), 24u);
  EXPECT_EQ(sizeof(Kevent::filter), 2u);
  EXPECT_EQ(sizeof(Kevent::data), 8u);
}

TEST(Names, FilterLookupTakesLongAndShortNamesInAnyCase) {
  EXPECT_EQ(names::filter_value("EVFILT_TIMER"), EVFILT_TIMER);
  EXPECT_EQ(names::filter_value("timer"), EVFILT_TIMER);
  EXPECT_EQ(names::filter_value("TIMER"), EVFILT_TIMER);
  EXPECT_EQ(names::filter_value("evfilt_timer"), EVFILT_TIMER);
  EXPECT_EQ(names::filter_value("Read"), EVFILT_READ);
  EXPECT_EQ(names::filter_value("user"), EVFILT_USER);
  EXPECT_EQ(names::filter_value("EVFILT_EMPTY"), EVFILT_EMPTY);
}

TEST(Names, FlagLookupTakesLongAndShortNamesInAnyCase) {
  EXPECT_EQ(names::flag_value("add"), EV_ADD);
  EXPECT_EQ(names::flag_value("EV_ADD"), EV_ADD);
  EXPECT_EQ(names::flag_value("Add"), EV_ADD);
  EXPECT_EQ(names::flag_value("ev_oneshot"), EV_ONESHOT);
  EXPECT_EQ(names::flag_value("CLEAR"), EV_CLEAR);
  EXPECT_EQ(names::flag_value("dispatch"), EV_DISPATCH);
  EXPECT_EQ(names::flag_value("keepudata"), EV_KEEPUDATA);
  EXPECT_EQ(names::flag_value("eof"), EV_EOF);
  EXPECT_EQ(names::flag_value("EV_ERROR"), EV_ERROR);
}

TEST(Names, FflagLookupDependsOnTheFilter) {
  EXPECT_EQ(names::fflag_value(EVFILT_USER, "trigger"), NOTE_TRIGGER);
  EXPECT_EQ(names::fflag_value(EVFILT_USER, "NOTE_FFCOPY"), NOTE_FFCOPY);
  EXPECT_EQ(names::fflag_value(EVFILT_USER, "ffor"), NOTE_FFOR);
  EXPECT_EQ(names::fflag_value(EVFILT_TIMER, "seconds"), NOTE_SECONDS);
  EXPECT_EQ(names::fflag_value(EVFILT_TIMER, "NOTE_NSECONDS"), NOTE_NSECONDS);
  EXPECT_EQ(names::fflag_value(EVFILT_TIMER, "abstime"), NOTE_ABSTIME);
  EXPECT_EQ(names::fflag_value(EVFILT_READ, "lowat"), NOTE_LOWAT);
  EXPECT_EQ(names::fflag_value(EVFILT_VNODE, "close_write"), NOTE_CLOSE_WRITE);
  EXPECT_EQ(names::fflag_value(EVFILT_PROC, "exit"), NOTE_EXIT);

  // A note of one filter is not a name for another's.
  EXPECT_EQ(names::fflag_value(EVFILT_USER, "seconds"), std::nullopt);
  EXPECT_EQ(names::fflag_value(EVFILT_TIMER, "trigger"), std::nullopt);
  EXPECT_EQ(names::fflag_value(EVFILT_USER, "NOTE_LOWAT"), std::nullopt);
}

TEST(Names, AbsoluteIsAcceptedForTimersOnly) {
  EXPECT_EQ(names::fflag_value(EVFILT_TIMER, "absolute"), NOTE_ABSTIME);
  EXPECT_EQ(names::fflag_value(EVFILT_TIMER, "NOTE_ABSOLUTE"), NOTE_ABSTIME);
  EXPECT_EQ(names::fflag_value(EVFILT_USER, "absolute"), std::nullopt);
}

TEST(Names, UnknownNamesAreNotFound) {
  EXPECT_EQ(names::filter_value("EVFILT_RAED"), std::nullopt);
  EXPECT_EQ(names::filter_value(""), std::nullopt);
  EXPECT_EQ(names::filter_value("EVFILT_"), std::nullopt);
  EXPECT_EQ(names::filter_value("-7"), std::nullopt);
  EXPECT_EQ(names::flag_value("EV_ADDD"), std::nullopt);
  EXPECT_EQ(names::flag_value("timer"), std::nullopt);
  EXPECT_EQ(names::flag_value(""), std::nullopt);
  EXPECT_EQ(names::fflag_value(EVFILT_USER, "bogus"), std::nullopt);
  EXPECT_EQ(names::fflag_value(EVFILT_SIGNAL, "trigger"), std::nullopt);
  EXPECT_EQ(names::fflag_value(0, "trigger"), std::nullopt);
}

TEST(Names, EveryTableEntryLooksUpToItsOwnValue) {
  EXPECT_EQ(names::filters().size(), static_cast<size_t>(EVFILT_SYSCOUNT));
  for (const names::Name& entry : names::filters()) {
    EXPECT_EQ(names::filter_value(entry.name), static_cast<int16_t>(entry.value)) << entry.name;
    EXPECT_EQ(names::filter_name(static_cast<int16_t>(entry.value)), entry.name);
  }
  for (const names::Name& entry : names::flags()) {
    EXPECT_EQ(names::flag_value(entry.name), entry.value) << entry.name;
  }
  for (int16_t filter = EVFILT_READ; filter >= EVFILT_EMPTY; --filter) {
    for (const names::Name& entry : names::fflags(filter)) {
      EXPECT_EQ(names::fflag_value(filter, entry.name), entry.value) << entry.name;
    }
  }
}

TEST(Names, FilterNameGivesTheLongNameOrEmpty) {
  EXPECT_EQ(names::filter_name(EVFILT_READ), "EVFILT_READ");
  EXPECT_EQ(names::filter_name(EVFILT_TIMER), "EVFILT_TIMER");
  EXPECT_EQ(names::filter_name(EVFILT_USER), "EVFILT_USER");
  EXPECT_EQ(names::filter_name(EVFILT_EMPTY), "EVFILT_EMPTY");
  EXPECT_EQ(names::filter_name(0), "");
  EXPECT_EQ(names::filter_name(-14), "");
  EXPECT_EQ(names::filter_name(1), "");
}

TEST(Names, FormatFlagsJoinsNamesInBitOrder) {
  EXPECT_EQ(names::format_flags(EV_ADD | EV_CLEAR), "EV_ADD|EV_CLEAR");
  EXPECT_EQ(names::format_flags(EV_CLEAR | EV_ADD), "EV_ADD|EV_CLEAR");
  EXPECT_EQ(names::format_flags(EV_ADD), "EV_ADD");
  EXPECT_EQ(names::format_flags(EV_EOF | EV_ERROR | EV_ADD), "EV_ADD|EV_ERROR|EV_EOF");
}

TEST(Names, FormatFlagsWritesZeroForNoFlags) {
  EXPECT_EQ(names::format_flags(0), "0");
}

TEST(Names, FormatFlagsWritesUnnamedBitsAsOneHexNumber) {
  EXPECT_EQ(names::format_flags(0x0c00), "0xc00");
  EXPECT_EQ(names::format_flags(EV_ADD | 0x0400), "EV_ADD|0x400");
}

TEST(Names, FormatFflagsNamesTheUserControlFieldAsAWhole) {
  EXPECT_EQ(names::format_fflags(EVFILT_USER, NOTE_FFCOPY | NOTE_TRIGGER | 5),
            "NOTE_FFCOPY|NOTE_TRIGGER|0x5");
  EXPECT_EQ(names::format_fflags(EVFILT_USER, NOTE_FFAND), "NOTE_FFAND");
  EXPECT_EQ(names::format_fflags(EVFILT_USER, NOTE_FFOR | 0x10), "NOTE_FFOR|0x10");
  EXPECT_EQ(names::format_fflags(EVFILT_USER, 0), "0");
}

TEST(Names, FormatFflagsNamesTimerNotesAndWritesAbstime) {
  EXPECT_EQ(names::format_fflags(EVFILT_TIMER, NOTE_SECONDS | NOTE_ABSTIME),
            "NOTE_SECONDS|NOTE_ABSTIME");
  EXPECT_EQ(names::format_fflags(EVFILT_TIMER, NOTE_ABSOLUTE), "NOTE_ABSTIME");
  EXPECT_EQ(names::format_fflags(EVFILT_TIMER, NOTE_NSECONDS), "NOTE_NSECONDS");
}

TEST(Names, FormatFflagsUsesTheFiltersOwnNames) {
  // 0x1 is NOTE_LOWAT for reads, NOTE_SECONDS for timers, nothing for signals.
  EXPECT_EQ(names::format_fflags(EVFILT_READ, 0x1), "NOTE_LOWAT");
  EXPECT_EQ(names::format_fflags(EVFILT_TIMER, 0x1), "NOTE_SECONDS");
  EXPECT_EQ(names::format_fflags(EVFILT_VNODE, NOTE_DELETE | NOTE_WRITE), "NOTE_DELETE|NOTE_WRITE");
  EXPECT_EQ(names::format_fflags(EVFILT_SIGNAL, 0x3), "0x3");
}

}  // namespace
}  // namespace kqfs
