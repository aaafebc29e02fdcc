#include "kqfs/linux/file_events.hpp"

#include <sys/epoll.h>
#include <sys/inotify.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "kqfs/linux/procfs.hpp"

namespace kqfs {

FileEvents::~FileEvents() {
  if (inotify_) host_.remove_source(inotify_.get());
}

Result<int> FileEvents::subscribe(int fd, uint32_t mask, Subscriber& subscriber) {
  if (!inotify_) {
    UniqueFd created(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!created) return last_errno();
    if (const int error = host_.add_source(created.get(), EPOLLIN, *this); error != 0) {
      return Errno{error};
    }
    inotify_ = std::move(created);
  }
  // inotify follows /proc/self/fd/N to the open inode, even after a rename.
  const int watch =
      ::inotify_add_watch(inotify_.get(), procfs::fd_path(0, fd).c_str(), mask | IN_MASK_ADD);
  if (watch < 0) return last_errno();
  // The same inode twice gives the same watch: list each subscriber once.
  auto& list = subscribers_[watch];
  if (std::find(list.begin(), list.end(), &subscriber) == list.end()) list.push_back(&subscriber);
  return watch;
}

Result<FileWatch> FileEvents::watch(int fd, uint32_t mask, Subscriber& subscriber) {
  auto watch = subscribe(fd, mask, subscriber);
  if (!watch) return Errno{watch.error()};
  return FileWatch(*this, *watch, subscriber);
}

void FileEvents::unsubscribe(int watch, Subscriber& subscriber) {
  auto found = subscribers_.find(watch);
  if (found == subscribers_.end()) return;  // the kernel already ended it
  auto& list = found->second;
  list.erase(std::remove(list.begin(), list.end(), &subscriber), list.end());
  if (list.empty()) {
    ::inotify_rm_watch(inotify_.get(), watch);
    subscribers_.erase(found);
  }
}

void FileEvents::on_ready(uint32_t) {
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    const ssize_t length = ::read(inotify_.get(), buffer, sizeof buffer);
    if (length <= 0) return;
    std::vector<inotify_event> events;  // headers only; a name shows as len > 0
    for (ssize_t offset = 0; offset < length;) {
      inotify_event& event = events.emplace_back();
      std::memcpy(&event, buffer + offset, sizeof event);
      offset += static_cast<ssize_t>(sizeof event + event.len);
    }
    for (size_t i = 0; i < events.size(); ++i) {
      inotify_event event = events[i];
      // A rename within one watched directory: its two halves as one event.
      if ((event.mask & IN_MOVED_FROM) && i + 1 < events.size() &&
          (events[i + 1].mask & IN_MOVED_TO) && events[i + 1].wd == event.wd &&
          events[i + 1].cookie == event.cookie) {
        event.mask |= events[++i].mask;
      }
      if (event.mask & IN_Q_OVERFLOW) {
        notify_all(IN_MODIFY | IN_ATTRIB);
      } else {
        notify(FileEvent{event.wd, event.mask, event.len > 0});
        if (event.mask & IN_IGNORED) subscribers_.erase(event.wd);
      }
    }
  }
}

void FileEvents::notify(const FileEvent& event) {
  auto found = subscribers_.find(event.watch);
  if (found == subscribers_.end()) return;
  // Subscribers only post knotes here; none unsubscribes during the call.
  for (Subscriber* subscriber : found->second)
    subscriber->on_file_event(event);
}

// Events were lost: everyone looks again.
void FileEvents::notify_all(uint32_t mask) {
  for (auto& [watch, list] : subscribers_) {
    for (Subscriber* subscriber : list)
      subscriber->on_file_event(FileEvent{watch, mask, false});
  }
}

}  // namespace kqfs
