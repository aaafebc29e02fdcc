#include "kqfs/filter_table.hpp"

#include <algorithm>
#include <array>

#include "kqfs/constants.h"

namespace kqfs {
namespace {

using names::Name;

#define KQFS_NAME32(constant)                    \
  Name {                                         \
#constant, static_cast < uint32_t>(constant) \
  }

constexpr std::array kReadWriteNotes = {KQFS_NAME32(NOTE_LOWAT), KQFS_NAME32(NOTE_FILE_POLL)};

// Multi-bit control values first so that NOTE_FFCOPY is not split in two.
constexpr std::array kUserNotes = {
    KQFS_NAME32(NOTE_FFCOPY), KQFS_NAME32(NOTE_FFAND),
    KQFS_NAME32(NOTE_FFOR),   KQFS_NAME32(NOTE_TRIGGER),
    KQFS_NAME32(NOTE_FFNOP),  // 0: looked up, never formatted
};

constexpr std::array kVnodeNotes = {
    KQFS_NAME32(NOTE_DELETE),      KQFS_NAME32(NOTE_WRITE), KQFS_NAME32(NOTE_EXTEND),
    KQFS_NAME32(NOTE_ATTRIB),      KQFS_NAME32(NOTE_LINK),  KQFS_NAME32(NOTE_RENAME),
    KQFS_NAME32(NOTE_REVOKE),      KQFS_NAME32(NOTE_OPEN),  KQFS_NAME32(NOTE_CLOSE),
    KQFS_NAME32(NOTE_CLOSE_WRITE), KQFS_NAME32(NOTE_READ),
};

constexpr std::array kProcNotes = {
    KQFS_NAME32(NOTE_EXIT),  KQFS_NAME32(NOTE_FORK),     KQFS_NAME32(NOTE_EXEC),
    KQFS_NAME32(NOTE_TRACK), KQFS_NAME32(NOTE_TRACKERR), KQFS_NAME32(NOTE_CHILD),
};

constexpr std::array kTimerNotes = {
    KQFS_NAME32(NOTE_SECONDS),  KQFS_NAME32(NOTE_MSECONDS), KQFS_NAME32(NOTE_USECONDS),
    KQFS_NAME32(NOTE_NSECONDS), KQFS_NAME32(NOTE_ABSTIME),
};

#undef KQFS_NAME32

constexpr std::array kTable = {
    FilterRow{EVFILT_READ, "EVFILT_READ", "read", kReadWriteNotes, make_read_filter},
    FilterRow{EVFILT_WRITE, "EVFILT_WRITE", "write", kReadWriteNotes, make_write_filter},
    FilterRow{EVFILT_VNODE, "EVFILT_VNODE", "vnode", kVnodeNotes, make_vnode_filter},
    FilterRow{EVFILT_PROC, "EVFILT_PROC", "proc", kProcNotes, make_proc_filter},
    FilterRow{EVFILT_SIGNAL, "EVFILT_SIGNAL", "signal", {}, make_signal_filter},
    FilterRow{EVFILT_TIMER, "EVFILT_TIMER", "timer", kTimerNotes, make_timer_filter},
    FilterRow{EVFILT_USER, "EVFILT_USER", "user", kUserNotes, make_user_filter},
};

}  // namespace

std::span<const FilterRow> filter_table() {
  return kTable;
}

const FilterRow* filter_row(int16_t id) {
  const auto found = std::find_if(kTable.begin(), kTable.end(),
                                  [id](const FilterRow& row) { return row.id == id; });
  return found == kTable.end() ? nullptr : &*found;
}

}  // namespace kqfs
