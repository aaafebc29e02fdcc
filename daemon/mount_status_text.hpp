// The mount's own status file (MOUNT/status): which kqfsd serves it, what
// it holds in total, what the kernel lets it do and the limits in force, as
// "key: value" lines. Nothing in it names a queue or a user: anyone the
// mount admits may read it (docs/security.md).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "daemon/kernel_features.hpp"
#include "daemon/options.hpp"

namespace kqfsd {

// What the mount holds now, summed over its queues.
struct MountTotals {
  size_t queues = 0;
  size_t knotes = 0;
  size_t readers = 0;       // reads and kevent() calls waiting for events
  size_t open_handles = 0;  // open files of the tree
};

struct MountFacts {
  pid_t pid = 0;
  uint64_t uptime_seconds = 0;
  MountTotals totals;
};

// Whether the FUSE options given (each as given to -o, comma lists too)
// include allow_other.
bool allows_others(const Options& options);

std::string mount_status_text(const Options& options, const MountFacts& facts,
                              std::span<const KernelFeature> features);

}  // namespace kqfsd
