// kqfsd's mounted tree over the engine, as plain C++: the FUSE channel
// (fuse_channel.hpp) turns requests into calls of these parts and their
// replies back into FUSE replies. Answered from one thread; reads that find
// nothing keep their reply and are answered from the loop when their queue
// fires; nothing blocks.
#pragma once

#include <time.h>

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/call_path.hpp"
#include "daemon/change_path.hpp"
#include "daemon/event_path.hpp"
#include "daemon/kernel_features.hpp"
#include "daemon/log.hpp"
#include "daemon/loop.hpp"
#include "daemon/memory_reserve.hpp"
#include "daemon/open_files.hpp"
#include "daemon/options.hpp"
#include "daemon/queue_registry.hpp"
#include "daemon/tie_path.hpp"
#include "daemon/tree.hpp"
#include "daemon/tree_operations.hpp"
#include "daemon/users.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfsd {

class Filesystem {
 public:
  Filesystem(const Options& options, const Log& log, Loop& loop);
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Once mounted (`own_mount_id` is the mount's): serving and upkeep begin.
  void start(uint64_t own_mount_id);
  // Ends every parked read with end of file; upkeep stops.
  void stop();

  const Options& options() const { return options_; }
  const Log& log() const { return log_; }
  // An allocation failed: the reserve goes, so the failure can be told.
  void memory_short() noexcept { memory_.release(); }

  TreeOperations& tree_operations() { return tree_operations_; }
  OpenFiles& files() { return files_; }
  ChangePath& changes() { return changes_; }
  EventPath& events() { return events_; }
  CallPath& calls() { return calls_; }
  TiePath& ties() { return ties_; }
  QueueRegistry& registry() { return registry_; }
  const Tree& tree() const { return tree_; }
  // MOUNT/status: the daemon, the totals, the kernel features, the limits.
  std::string mount_status() const;

 private:
  void upkeep();

  const Options& options_;
  const Log& log_;
  Loop& loop_;
  Users users_;
  MemoryReserve memory_;
  Tree tree_;
  QueueRegistry registry_;
  OpenFiles files_;
  ChangePath changes_;
  EventPath events_;
  CallPath calls_;
  TiePath ties_;
  TreeOperations tree_operations_;
  std::vector<KernelFeature> features_;  // probed at start
  timespec started_{};                   // CLOCK_MONOTONIC
  uint64_t upkeep_watch_ = 0;
  kqfs::UniqueFd upkeep_timer_;
};

}  // namespace kqfsd
