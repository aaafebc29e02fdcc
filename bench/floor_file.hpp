// The FUSE floor's file `f` (Mounts::floor(), bench/fuse_floor.cpp): the
// request that costs nothing but FUSE itself, a write or an ioctl answered
// at once, or a read answered at the next write.
#pragma once

#include <sys/ioctl.h>

#include <string>

#include "bench/errors.hpp"
#include "bench/mount.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs::bench {

// A command no layer above FUSE takes for itself, with no data: the floor
// answers it with 0.
inline constexpr unsigned long kFloorIoctl = _IO('k', 0);

inline UniqueFd open_floor_file(const MountView& floor, int flags) {
  return open_or_throw(floor.path + "/f", flags);
}

inline void floor_ioctl(int fd) {
  if (::ioctl(fd, kFloorIoctl) != 0) throw_errno("ioctl f");
}

}  // namespace kqfs::bench
