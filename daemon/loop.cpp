#include "daemon/loop.hpp"

#include <sys/epoll.h>

#include "kqfs/result.hpp"

namespace kqfsd {

Loop::Loop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_) kqfs::throw_errno("epoll_create1");
}

uint64_t Loop::watch(int fd, uint32_t epoll_events, Handler handler) {
  const uint64_t id = next_id_++;
  epoll_event event{};
  event.events = epoll_events;
  event.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) < 0) kqfs::throw_errno("epoll_ctl");
  watches_.emplace(id, Watch{fd, std::move(handler)});
  return id;
}

void Loop::unwatch(uint64_t id) {
  const auto found = watches_.find(id);
  if (found == watches_.end()) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, found->second.fd, nullptr);
  watches_.erase(found);
}

void Loop::run_once(int timeout_ms) {
  epoll_event events[64];
  const int ready = ::epoll_wait(epoll_.get(), events, 64, timeout_ms);
  for (int i = 0; i < ready; ++i) {
    // Looked up by id each time: an earlier handler may have unwatched it.
    const auto found = watches_.find(events[i].data.u64);
    if (found == watches_.end()) continue;
    Handler handler = found->second.handler;  // the handler may unwatch itself
    handler(events[i].events);
  }
}

}  // namespace kqfsd
