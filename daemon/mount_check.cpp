#include "daemon/mount_check.hpp"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "kqfs/linux/procfs.hpp"

namespace kqfsd {
namespace {

constexpr std::string_view kSourcePrefix = "kqfs:pid=";

struct MountEntry {
  std::string type;    // e.g. fuse.kqfs
  std::string source;  // the fsname
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescaped(const std::string& field) {
  std::string text;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string octal = field.substr(i + 1, 3);
      if (octal.find_first_not_of("01234567") == std::string::npos) {
        text += static_cast<char>(std::stoi(octal, nullptr, 8));
        i += 3;
        continue;
      }
    }
    text += field[i];
  }
  return text;
}

// The topmost mount at `path` (an absolute path without symlinks), if any.
std::optional<MountEntry> top_mount_at(const std::string& path) {
  std::optional<MountEntry> found;
  const auto mounts = kqfs::procfs::read_mountinfo(0);
  if (!mounts) return found;
  for (const kqfs::procfs::Mount& mount : *mounts) {
    if (unescaped(mount.mount_point) != path) continue;
    found = MountEntry{mount.type, mount.source};  // later lines are mounted on top
  }
  return found;
}

// `path` made absolute with its directories' symlinks resolved, without
// looking at the last component itself (a dead FUSE mount fails every look).
std::string absolute_path(const std::string& path) {
  std::string trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/')
    trimmed.pop_back();
  char resolved[PATH_MAX];
  if (::realpath(trimmed.c_str(), resolved) != nullptr) return resolved;
  const size_t slash = trimmed.rfind('/');
  const std::string directory =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : trimmed.substr(0, slash));
  const std::string name = slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
  if (name == "." || name == ".." || ::realpath(directory.c_str(), resolved) == nullptr) {
    return trimmed;
  }
  const std::string parent = resolved;
  return (parent == "/" ? "" : parent) + "/" + name;
}

std::string owner_of(const MountEntry& mount) {
  if (mount.source.rfind(kSourcePrefix, 0) == 0) {
    return "kqfsd pid " + mount.source.substr(kSourcePrefix.size());
  }
  return "kqfsd";
}

bool has_entries(const std::string& directory) {
  std::unique_ptr<DIR, int (*)(DIR*)> listing(::opendir(directory.c_str()), ::closedir);
  if (listing == nullptr) return false;  // mounting will say why
  while (const dirent* entry = ::readdir(listing.get())) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) return true;
  }
  return false;
}

[[noreturn]] void refuse(const std::string& reason) {
  throw std::runtime_error(reason);
}

}  // namespace

std::string mount_source_name() {
  return std::string(kSourcePrefix) + std::to_string(::getpid());
}

void prepare_mount_point(const std::string& given, bool allow_nonempty, const Log& log) {
  const std::string path = absolute_path(given);
  struct stat target {};
  int stat_error = ::stat(path.c_str(), &target) == 0 ? 0 : errno;
  const bool dead = stat_error == ENOTCONN || stat_error == ECONNABORTED;
  const std::string unmount_command = "fusermount3 -u -z " + path;

  if (const auto mount = top_mount_at(path); mount && mount->type == "fuse.kqfs") {
    // EACCES: another user's private mount, alive.
    if (!dead) refuse("already mounted by " + owner_of(*mount) + " at " + path);
    if (::umount2(path.c_str(), MNT_DETACH) != 0) {
      refuse("stale kqfs mount at " + path + " (" + owner_of(*mount) +
             " is gone) and it cannot be unmounted here (" + std::strerror(errno) +
             "): run: " + unmount_command);
    }
    log.warning("replaced a stale kqfs mount at " + path + " left by " + owner_of(*mount));
    stat_error = ::stat(path.c_str(), &target) == 0 ? 0 : errno;
  } else if (dead) {
    refuse(path + " is a dead FUSE mount (" + std::strerror(stat_error) +
           "): run: " + unmount_command);
  }
  if (stat_error != 0) refuse("mount point " + given + ": " + std::strerror(stat_error));
  // libfuse would mount over a file too, taking its type for the root.
  if (!S_ISDIR(target.st_mode)) refuse("mount point " + given + " is not a directory");
  if (!allow_nonempty && has_entries(path)) {
    refuse("mount point " + given + " is not empty (give --nonempty to mount over its files)");
  }
}

}  // namespace kqfsd
