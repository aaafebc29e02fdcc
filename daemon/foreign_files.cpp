#include "daemon/foreign_files.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <sstream>
#include <string_view>
#include <system_error>
#include <thread>

#include "kqfs/linux/procfs.hpp"

namespace kqfsd {
namespace {

std::string read_all(int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t length = ::read(fd, buffer, sizeof buffer);
    if (length < 0 && errno == EINTR) continue;
    if (length <= 0) return text;
    text.append(buffer, static_cast<size_t>(length));
  }
}

void each_mount(const std::string& table, auto&& visit) {
  for (kqfs::procfs::Mount& mount : kqfs::procfs::parse_mountinfo(table))
    visit(mount.id, std::move(mount.type));
}

bool is_fuse(std::string_view type) {
  return type == "fuse" || type == "fuseblk" || type.starts_with("fuse.") ||
         type.starts_with("fuseblk.");
}

// The closing thread: one, started on first need; it may wait forever on a
// FLUSH, and whatever comes after it then waits in the queue (held, not lost).
class Closer {
 public:
  void close(kqfs::UniqueFd fd) {
    {
      const std::lock_guard lock(shared_->mutex);
      shared_->queue.push_back(std::move(fd));
    }
    shared_->wake.notify_one();
    if (started_) return;
    try {
      std::thread([shared = shared_] {
        for (;;) {
          kqfs::UniqueFd next;
          {
            std::unique_lock lock(shared->mutex);
            shared->wake.wait(lock, [&] { return !shared->queue.empty(); });
            next = std::move(shared->queue.front());
            shared->queue.pop_front();
          }
          next.reset();
        }
      }).detach();
      started_ = true;
    } catch (const std::system_error&) {
      // No thread now: the descriptor stays queued for the next try.
    }
  }

 private:
  struct Shared {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<kqfs::UniqueFd> queue;
  };
  // Shared with the thread, which outlives this object at exit.
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  bool started_ = false;
};

}  // namespace

uint64_t mount_of_descriptor(pid_t pid, int fd) {
  const auto info = kqfs::procfs::read_file(kqfs::procfs::fdinfo_path(pid, fd));
  if (!info) {
    errno = info.error();  // callers tell a shortage from a 0 by errno
    return 0;
  }
  return static_cast<uint64_t>(kqfs::procfs::number_of(*info, "mnt_id:").value_or(0));
}

MountTypes::MountTypes() : own_table_(::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)) {
  if (own_table_) {
    each_mount(read_all(own_table_.get()),
               [&](uint64_t id, std::string type) { own_types_[id] = std::move(type); });
  }
  // One object of each internal kind, to learn its mount.
  int pipe_ends[2];
  if (::pipe2(pipe_ends, O_CLOEXEC) == 0) {
    const kqfs::UniqueFd read_end(pipe_ends[0]), write_end(pipe_ends[1]);
    internal_.insert(mount_of_descriptor(0, read_end.get()));
  }
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) == 0) {
    const kqfs::UniqueFd one(sockets[0]), other(sockets[1]);
    internal_.insert(mount_of_descriptor(0, one.get()));
  }
  const kqfs::UniqueFd counter(::eventfd(0, EFD_CLOEXEC));
  const kqfs::UniqueFd memory(::memfd_create("kqfs-probe", MFD_CLOEXEC));
  const kqfs::UniqueFd self(static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0)));
  for (const auto* fd : {&counter, &memory, &self}) {
    if (*fd) internal_.insert(mount_of_descriptor(0, fd->get()));
  }
  internal_.erase(0);
  if (counter) anonymous_mount_ = mount_of_descriptor(0, counter.get());
}

const std::string* MountTypes::own_type(uint64_t mount_id) {
  if (!own_table_) return nullptr;
  pollfd changed{own_table_.get(), POLLPRI, 0};
  if (::poll(&changed, 1, 0) > 0 && (changed.revents & (POLLPRI | POLLERR))) {
    own_types_.clear();
    ::lseek(own_table_.get(), 0, SEEK_SET);
    each_mount(read_all(own_table_.get()),
               [&](uint64_t id, std::string type) { own_types_[id] = std::move(type); });
  }
  const auto found = own_types_.find(mount_id);
  return found == own_types_.end() ? nullptr : &found->second;
}

Refusal MountTypes::vet(uint64_t mount_id, pid_t pid, const char* link) {
  if (mount_id == anonymous_mount_) {
    // An epoll set polls its files whenever it is polled, and may gain a
    // FUSE file (or a kqfs one) at any time after it was registered.
    char target[32];
    const ssize_t length = ::readlink(link, target, sizeof target);
    if (length <= 0) return {EBADF, {}};
    if (std::string_view(target, static_cast<size_t>(length)) == "anon_inode:[eventpoll]") {
      return {ENOTSUP,
              "it is an epoll set: polling it polls its files, any of which may be a FUSE file "
              "whose server could stall kqfsd"};
    }
    return {};
  }
  if (internal_.contains(mount_id)) return {};
  std::string type;
  if (const std::string* own = own_type(mount_id)) {
    type = *own;
  } else {
    // Another mount namespace (a container, an unprivileged user's own).
    const auto table = kqfs::procfs::read_mountinfo(pid);
    const int error = table.error();
    if (error == EMFILE || error == ENFILE || error == ENOMEM) {
      return {error, "daemon out of descriptors or memory"};
    }
    if (table) {
      for (const kqfs::procfs::Mount& mount : *table) {
        if (mount.id == mount_id) type = mount.type;
      }
    }
  }
  if (type.empty()) {
    // In no table: a kernel object shows a name (pipe:[...], socket:[...],
    // anon_inode:...), a file on a detached mount a path.
    char target[2];
    const ssize_t length = ::readlink(link, target, sizeof target);
    if (length <= 0) return {EBADF, {}};
    if (target[0] != '/') return {};
    return {ENOTSUP,
            "its filesystem is in no mount table kqfsd can read (detached or lazily unmounted), "
            "so it may have a server that could stall kqfsd"};
  }
  if (is_fuse(type)) {
    return {ENOTSUP, "it is on a FUSE filesystem (" + type +
                         ") other than this kqfs mount: its server could stall kqfsd"};
  }
  return {};
}

void close_elsewhere(kqfs::UniqueFd fd) {
  static Closer closer;
  closer.close(std::move(fd));
}

}  // namespace kqfsd
