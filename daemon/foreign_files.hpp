// Files kqfsd must never touch: those whose filesystem has a server of its
// own (FUSE) that could leave this single-threaded daemon waiting forever.
// They are recognised by their mount, read from mount tables and fdinfo,
// never from the file itself (fstat, poll and even close ask the server).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "kqfs/unique_fd.hpp"

namespace kqfsd {

// Why a file may not be looked at: an errno and the reason for `status`.
struct Refusal {
  int error = 0;  // 0: the file may be looked at
  std::string why;
};

// What kind of filesystem each mount is, by mount id.
class MountTypes {
 public:
  MountTypes();

  // Whether a file on mount `mount_id` may be looked at. `pid` is the
  // process whose mount table may list the mount (ids are system-wide);
  // `link` the /proc/.../fd/N link of the descriptor, whose text tells a
  // kernel object (pipe:[...]) from a file with a path.
  Refusal vet(uint64_t mount_id, pid_t pid, const char* link);

 private:
  const std::string* own_type(uint64_t mount_id);

  // This namespace's table, re-read when poll says it changed (an id may
  // be reused after an unmount).
  kqfs::UniqueFd own_table_;
  std::unordered_map<uint64_t, std::string> own_types_;
  // The kernel's internal mounts (pipes, sockets, anonymous inodes, memfd,
  // pidfd): in no table, never unmounted, served by no one.
  std::unordered_set<uint64_t> internal_;
  uint64_t anonymous_mount_ = 0;  // anonymous inodes' (eventfd, timerfd, epoll)
};

// Closes `fd` on a thread of its own: a FUSE file's close sends its server
// a FLUSH and waits for the answer, which may never come.
void close_elsewhere(kqfs::UniqueFd fd);

// The mount id in the fdinfo of descriptor `fd` of process `pid` ("self"
// for 0), or 0 when it cannot be read.
uint64_t mount_of_descriptor(pid_t pid, int fd);

}  // namespace kqfsd
