// What is at the mount point before kqfsd mounts there: another live kqfs
// (refused, naming its daemon), a stale one left by a killed kqfsd
// (replaced when the daemon may unmount it, else refused with the command
// that fixes it), or a directory with files in it (refused unless asked).
#pragma once

#include <string>

#include "daemon/log.hpp"

namespace kqfsd {

// The FUSE fsname kqfsd mounts with: it names the daemon's pid, so that a
// second kqfsd (or a person reading /proc/self/mountinfo) can tell whose
// mount it is.
std::string mount_source_name();

// Throws std::runtime_error with the reason when kqfsd must not mount at
// `path`. May lazily unmount a stale kqfs mount there (and log it).
void prepare_mount_point(const std::string& path, bool allow_nonempty, const Log& log);

}  // namespace kqfsd
