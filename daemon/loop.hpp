// The daemon's one event loop: an epoll set of descriptors with handlers.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>

#include "kqfs/result.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfsd {

class Loop {
 public:
  using Handler = std::function<void(uint32_t epoll_events)>;

  // `on_failure` hears of an exception a handler let out; the loop goes on.
  explicit Loop(std::function<void(const char* what)> on_failure);

  // Calls `handler` when `fd` reports `epoll_events`; the id stops it.
  // Throws when the kernel refuses (for setup); try_watch says why instead.
  uint64_t watch(int fd, uint32_t epoll_events, Handler handler);
  kqfs::Result<uint64_t> try_watch(int fd, uint32_t epoll_events, Handler handler);
  // Safe from inside a handler, also for a watch whose event is pending.
  void unwatch(uint64_t id);

  // Waits up to `timeout_ms` (-1: no limit) and runs the handlers of what
  // became ready.
  void run_once(int timeout_ms);

 private:
  void tell(const char* what) const noexcept;
  struct Watch {
    int fd;
    Handler handler;
  };
  std::function<void(const char* what)> on_failure_;
  kqfs::UniqueFd epoll_;
  std::unordered_map<uint64_t, Watch> watches_;
  uint64_t next_id_ = 1;
};

}  // namespace kqfsd
