#include "client/kqctl/mount.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace kqctl {

std::string Mount::queue(std::string_view name, std::string_view file) const {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    throw Failure("'" + std::string(name) + "': " + describe_errno(EINVAL) + " (" +
                  std::string(kQueueNameRule) + ")");
  }
  std::string path = queues() + "/" + std::string(name);
  if (!file.empty()) path.append("/").append(file);
  return path;
}

namespace {

// Whether `path` itself refuses this user, though the way to it is open: a
// FUSE mount admits only its owner unless mounted with allow_other.
bool refuses_at_the_mount(const std::string& path) {
  struct stat ignored {};
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return ::stat(path.c_str(), &ignored) != 0 && errno == EACCES &&
         ::access(parent.empty() ? "/" : parent.c_str(), X_OK) == 0;
}

}  // namespace

Failure Mount::mount_failure(int error) const {
  if (error == ENOENT) {
    return Failure("no kqfs mount at " + root_ + ": start kqfsd " + root_ +
                   ", or give --mount DIR or KQFS_MOUNT");
  }
  if (error == ENOTCONN) {
    return Failure("kqfsd of " + root_ +
                   " is not running (transport endpoint not connected): unmount with "
                   "fusermount3 -u " +
                   root_ + " and start it again");
  }
  if (error == EACCES && refuses_at_the_mount(root_)) {
    return Failure(root_ +
                   " is another user's kqfs mount without allow_other: run as the user who "
                   "mounted it, or have kqfsd mount it with -o allow_other");
  }
  return Failure(queues() + ": " + describe_errno(error));
}

Failure Mount::queue_failure(std::string_view name, int error) const {
  if (error == ENOTCONN) return mount_failure(error);
  struct stat queues_dir {};
  if ((error == ENOENT || error == EACCES) && ::stat(queues().c_str(), &queues_dir) != 0) {
    return mount_failure(errno);
  }
  return Failure("queue '" + std::string(name) + "': " + describe_errno(error));
}

kqfs::UniqueFd Mount::open(std::string_view name, std::string_view file, int flags) const {
  kqfs::UniqueFd fd(::open(queue(name, file).c_str(), flags | O_CLOEXEC));
  if (!fd) throw queue_failure(name, errno);
  return fd;
}

std::string Mount::read(std::string_view name, std::string_view file) const {
  kqfs::UniqueFd fd = open(name, file, O_RDONLY);
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t length = ::read(fd.get(), buffer, sizeof buffer);
    if (length == 0) return text;
    if (length < 0) {
      if (errno == EINTR) continue;
      throw queue_failure(name, errno);
    }
    text.append(buffer, static_cast<size_t>(length));
  }
}

std::string Mount::last_error(std::string_view name) const {
  const std::string status = read(name, "status");
  constexpr std::string_view kKey = "last-error: ";
  for (size_t start = 0; start < status.size();) {
    size_t end = status.find('\n', start);
    if (end == std::string::npos) end = status.size();
    const std::string_view line = std::string_view(status).substr(start, end - start);
    if (line.starts_with(kKey)) {
      const std::string_view reason = line.substr(kKey.size());
      return reason == "none" ? std::string() : std::string(reason);
    }
    start = end + 1;
  }
  return {};
}

void close_checked(kqfs::UniqueFd& fd, const std::string& what) {
  // The descriptor is gone whatever close returns (Linux); never retry it.
  if (::close(fd.release()) != 0) throw Failure(what + ": " + describe_errno(errno));
}

}  // namespace kqctl
