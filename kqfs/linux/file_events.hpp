// The queue's one inotify instance, shared by every knote that watches a
// file's inode (regular files for EVFILT_READ, and EVFILT_VNODE).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kqfs/filter.hpp"
#include "kqfs/result.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs {

// One inotify event as subscribers see it.
struct FileEvent {
  int watch;
  // inotify's mask (IN_MODIFY, ...); IN_IGNORED when the watch ended;
  // IN_MOVED_FROM|IN_MOVED_TO together for a rename within one directory.
  uint32_t mask;
  bool about_entry;  // it names an entry of the watched directory
};

class FileWatch;

class FileEvents final : public Source {
 public:
  class Subscriber {
   public:
    virtual void on_file_event(const FileEvent& event) = 0;

   protected:
    ~Subscriber() = default;
  };

  explicit FileEvents(FilterHost& host) : host_(host) {}
  ~FileEvents();
  FileEvents(const FileEvents&) = delete;
  FileEvents& operator=(const FileEvents&) = delete;

  // Watch the inode of `fd` (a descriptor of this process) for `mask`.
  // Returns the watch descriptor to unsubscribe with.
  Result<int> subscribe(int fd, uint32_t mask, Subscriber& subscriber);
  void unsubscribe(int watch, Subscriber& subscriber);
  // subscribe(), owned: the watch goes with the FileWatch.
  Result<FileWatch> watch(int fd, uint32_t mask, Subscriber& subscriber);

  void on_ready(uint32_t epoll_events) override;

 private:
  void notify(const FileEvent& event);
  void notify_all(uint32_t mask);

  FilterHost& host_;
  UniqueFd inotify_;
  std::unordered_map<int, std::vector<Subscriber*>> subscribers_;
};

// Ends one subscriber's inotify watch.
struct Unsubscribe {
  FileEvents* files = nullptr;
  FileEvents::Subscriber* subscriber = nullptr;
  void operator()(int watch) const { files->unsubscribe(watch, *subscriber); }
};

// One subscriber's inotify watch; unsubscribed when it goes. release():
// the kernel ended the watch (IN_IGNORED), and nothing is left to remove.
class FileWatch : public UniqueHandle<Unsubscribe> {
 public:
  FileWatch() = default;
  FileWatch(FileEvents& files, int watch, FileEvents::Subscriber& subscriber)
      : UniqueHandle(watch, Unsubscribe{&files, &subscriber}) {}
};

}  // namespace kqfs
