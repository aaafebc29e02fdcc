#include "bench/queue.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "bench/errors.hpp"

namespace kqfs::bench {

MountQueue::MountQueue(const std::string& mount_point, const std::string& name)
    : directory_(mount_point + "/kq/" + name + "-" + std::to_string(::getpid())) {
  if (::mkdir(directory_.c_str(), 0700) != 0) {
    throw_errno("mkdir " + directory_);
  }
}

MountQueue::~MountQueue() {
  ::rmdir(directory_.c_str());
}

UniqueFd MountQueue::open(const std::string& name, int flags) const {
  return open_or_throw(file(name), flags);
}

void write_records(int changes_fd, std::span<const Kevent> records) {
  const size_t length = records.size_bytes();
  ssize_t written;
  do {
    written = ::write(changes_fd, records.data(), length);
  } while (written < 0 && errno == EINTR);
  if (written < 0) throw_errno("write changes.bin");
  if (static_cast<size_t>(written) != length) {
    throw std::runtime_error("changes.bin took " + std::to_string(written) + " of " +
                             std::to_string(length) + " bytes (see the queue's status)");
  }
}

size_t read_records(int events_fd, std::span<Kevent> buffer) {
  ssize_t got;
  do {
    got = ::read(events_fd, buffer.data(), buffer.size_bytes());
  } while (got < 0 && errno == EINTR);
  if (got < 0) throw_errno("read events.bin");
  if (got == 0) throw std::runtime_error("events.bin: end of file (queue removed?)");
  if (got % sizeof(Kevent) != 0) throw std::runtime_error("events.bin: a partial record");
  return static_cast<size_t>(got) / sizeof(Kevent);
}

}  // namespace kqfs::bench
