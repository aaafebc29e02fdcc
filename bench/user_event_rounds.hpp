// The user-event round through the mount, shared by the throughput case and
// the scale case: 1 000 EVFILT_USER knotes (EV_ADD|EV_CLEAR) on a queue;
// each round triggers all of them in ONE write of 1 000 binary records to
// changes.bin, then reads events.bin (a 64 KiB buffer) until all 1 000
// events are in.
#pragma once

#include <string>
#include <vector>

#include "bench/queue.hpp"
#include "kqfs/kevent.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs::bench {

inline constexpr size_t kUserKnotes = 1000;

class MountUserEventRounds {
 public:
  // Registers the knotes (idents 1 .. 1 000) on `queue`.
  explicit MountUserEventRounds(const MountQueue& queue);

  // Triggers all knotes and reads until every event is in.
  void round();

  UniqueFd changes_;
  UniqueFd events_;
  std::vector<Kevent> triggers_;
  std::vector<Kevent> received_;  // the read buffer
};

}  // namespace kqfs::bench
