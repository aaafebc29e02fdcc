#include "kqfs/file_events.hpp"

#include <sys/epoll.h>
#include <sys/inotify.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace kqfs {

FileEvents::~FileEvents() {
  if (inotify_) host_.remove_source(inotify_.get());
}

Result<int> FileEvents::subscribe(int fd, uint32_t mask, Subscriber& subscriber) {
  if (!inotify_) {
    UniqueFd created(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (!created) return last_errno();
    inotify_ = std::move(created);
    host_.add_source(inotify_.get(), EPOLLIN, *this);
  }
  // inotify follows /proc/self/fd/N to the open inode, even after a rename.
  char path[32];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  const int watch = ::inotify_add_watch(inotify_.get(), path, mask | IN_MASK_ADD);
  if (watch < 0) return last_errno();
  subscribers_[watch].push_back(&subscriber);
  return watch;
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
    for (ssize_t offset = 0; offset < length;) {
      inotify_event event;
      std::memcpy(&event, buffer + offset, sizeof event);
      offset += static_cast<ssize_t>(sizeof event + event.len);
      if (event.mask & IN_Q_OVERFLOW) {
        notify_all(IN_MODIFY | IN_ATTRIB);
      } else {
        notify(event.wd, event.mask);
        if (event.mask & IN_IGNORED) subscribers_.erase(event.wd);
      }
    }
  }
}

void FileEvents::notify(int watch, uint32_t mask) {
  auto found = subscribers_.find(watch);
  if (found == subscribers_.end()) return;
  // Subscribers only post knotes here; none unsubscribes during the call.
  for (Subscriber* subscriber : found->second)
    subscriber->on_file_event(mask);
}

void FileEvents::notify_all(uint32_t mask) {
  for (auto& [watch, list] : subscribers_) {
    for (Subscriber* subscriber : list)
      subscriber->on_file_event(mask);
  }
}

}  // namespace kqfs
