// Knotes that went with their owner rather than by a change: a descriptor
// closed, a process exited. BSD drops them silently, which in a shell hides
// a mistake (a record written by /bin/echo, whose descriptors die with it):
// a queue keeps the last few, when they went, and how many in all, for its
// status and the log.
#pragma once

#include <time.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "kqfs/kqueue.hpp"

namespace kqfsd {

class LostKnotes {
 public:
  static constexpr size_t kRecent = 8;

  struct Entry {
    kqfs::Kqueue::LostKnote knote;
    timespec when;  // CLOCK_REALTIME
  };

  // Allocates nothing: the engine tells of losses while it collects.
  void record(const kqfs::Kqueue::LostKnote& knote);

  uint64_t total() const { return total_; }
  size_t recent_count() const { return total_ < kRecent ? static_cast<size_t>(total_) : kRecent; }
  // The `index`th of the recent ones, oldest first.
  const Entry& recent(size_t index) const;

 private:
  std::array<Entry, kRecent> ring_{};
  uint64_t total_ = 0;
};

// "2026-12-07T02:31:07Z 4 EVFILT_READ of pid 5678: the process exited"
std::string describe(const LostKnotes::Entry& entry);

}  // namespace kqfsd
