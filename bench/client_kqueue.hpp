// A kqueue from the client library, as a BSD program gets one: kqueue()
// from <sys/event.h> on the benchmark's mount (KQFS_MOUNT), and kevent()
// on it, checked.
#pragma once

#include <sys/event.h>

#include <span>
#include <string>

#include "kqfs/unique_fd.hpp"

namespace kqfs::bench {

class ClientKqueue {
 public:
  // Points KQFS_MOUNT at `mount_point` for the whole process and calls
  // kqueue(); throws if it fails.
  explicit ClientKqueue(const std::string& mount_point);

  int fd() const { return kq_.get(); }

  // kevent() with `changes` and room for `events`, waiting for ever
  // (retried on EINTR); the number of events, or throws on -1.
  int kevent(std::span<const struct kevent> changes, std::span<struct kevent> events) const;

 private:
  UniqueFd kq_;
};

}  // namespace kqfs::bench
