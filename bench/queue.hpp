// A named queue on a kqfs mount and the binary I/O the cases do on it.
#pragma once

#include <span>
#include <string>

#include "kqfs/kevent.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs::bench {

// kq/NAME-PID made on construction and removed (rmdir) on destruction; the
// pid keeps benchmarks sharing one mount apart.
class MountQueue {
 public:
  MountQueue(const std::string& mount_point, const std::string& name);
  ~MountQueue();
  MountQueue(const MountQueue&) = delete;
  MountQueue& operator=(const MountQueue&) = delete;

  // The path of one of its files ("changes.bin", "events", ...).
  std::string file(const std::string& name) const { return directory_ + "/" + name; }
  // Opens one of its files; throws on failure.
  UniqueFd open(const std::string& name, int flags) const;

 private:
  std::string directory_;
};

// Writes `records` to a changes.bin handle in one write(); throws unless
// the daemon applied them all.
void write_records(int changes_fd, std::span<const Kevent> records);

// One read() of an events.bin handle into `buffer`: the number of whole
// records it returned (retried on EINTR; throws on failure or end of file).
size_t read_records(int events_fd, std::span<Kevent> buffer);

}  // namespace kqfs::bench
