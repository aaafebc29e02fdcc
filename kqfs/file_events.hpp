// The queue's one inotify instance, shared by every knote that watches a
// file's inode (regular files for EVFILT_READ, and EVFILT_VNODE).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "kqfs/filter.hpp"
#include "kqfs/result.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs {

class FileEvents final : public Source {
 public:
  class Subscriber {
   public:
    // inotify's event mask (IN_MODIFY, ...); IN_IGNORED when the watch ended.
    virtual void on_file_event(uint32_t mask) = 0;

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

  void on_ready(uint32_t epoll_events) override;

 private:
  void notify(int watch, uint32_t mask);
  void notify_all(uint32_t mask);

  FilterHost& host_;
  UniqueFd inotify_;
  std::unordered_map<int, std::vector<Subscriber*>> subscribers_;
};

}  // namespace kqfs
