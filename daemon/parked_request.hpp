// A request that waits for its queue's events: a read of an events file,
// or a kevent() call made in one request (call_path.hpp). Parked in its
// queue's FIFO and answered from the loop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/reply.hpp"

namespace kqfsd {

class OpenFile;

// Waiting calls by deadline (CLOCK_MONOTONIC ns): (queue id, call id).
using Deadlines = std::multimap<int64_t, std::pair<uint64_t, uint64_t>>;

// A call's entry in the event path's Deadlines, erased with the call
// however it is answered, so answered calls leave nothing behind.
class DeadlineEntry {
 public:
  DeadlineEntry() = default;
  DeadlineEntry(Deadlines& deadlines, Deadlines::iterator entry)
      : deadlines_(&deadlines), entry_(entry) {}
  DeadlineEntry(DeadlineEntry&& other) noexcept
      : deadlines_(std::exchange(other.deadlines_, nullptr)), entry_(other.entry_) {}
  DeadlineEntry& operator=(DeadlineEntry&& other) noexcept {
    if (this != &other) {
      release();
      deadlines_ = std::exchange(other.deadlines_, nullptr);
      entry_ = other.entry_;
    }
    return *this;
  }
  ~DeadlineEntry() { release(); }

 private:
  void release() {
    if (deadlines_ != nullptr) deadlines_->erase(entry_);
    deadlines_ = nullptr;
  }
  Deadlines* deadlines_ = nullptr;
  Deadlines::iterator entry_;
};

// What a waiting kevent() call needs beyond what a read has.
struct WaitingCall {
  uint64_t id = 0;            // for its timeout to find it
  int64_t deadline_ns = 0;    // CLOCK_MONOTONIC; 0: no limit
  int32_t processed = 0;      // its changes, all taken before it waited
  uint64_t handle_inode = 0;  // what the caller's descriptor must still name
  DeadlineEntry deadline;     // set when parked with a deadline
};

struct ParkedRequest {
  std::unique_ptr<Reply> reply;
  size_t size;  // bytes wanted: for a call, its room for records
  off_t offset;
  OpenFile* file;
  uint64_t queue_id;
  std::optional<WaitingCall> call;
  bool interrupted = false;

  // Events, as records of the file's format (a call's are binary).
  void answer_events(std::string_view records) const;
  // Interrupted with nothing to give.
  void answer_interrupted() const;
  // The queue is gone: end of file for a read, EBADF for a call.
  void answer_removed() const;
  // A call's time is up with no event.
  void answer_timed_out() const;
  // A call whose caller closed a descriptor of the handle.
  void answer_recheck() const;
};

// A kevent() call's answer: the result header, then the entries.
std::string call_result(uint32_t status, int32_t entries, int32_t error, int32_t processed,
                        uint64_t handle_inode, std::string_view records = {});

}  // namespace kqfsd
