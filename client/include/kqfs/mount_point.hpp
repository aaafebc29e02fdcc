// Where kqfsd mounts and clients look, when nobody says otherwise.
#pragma once

#include <cstdlib>
#include <string>

namespace kqfs {

// $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs (docs/design.md#the-daemon).
inline std::string default_mount_point() {
  if (const char* mount = std::getenv("KQFS_MOUNT"); mount != nullptr && *mount != '\0') {
    return mount;
  }
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR");
      runtime != nullptr && *runtime != '\0') {
    return std::string(runtime) + "/kqfs";
  }
  return "/run/kqfs";
}

}  // namespace kqfs
