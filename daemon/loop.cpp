#include "daemon/loop.hpp"

#include <sys/epoll.h>

#include <cerrno>
#include <exception>

#include "kqfs/result.hpp"

namespace kqfsd {

Loop::Loop(std::function<void(const char* what)> on_failure)
    : on_failure_(std::move(on_failure)), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
  if (!epoll_) kqfs::throw_errno("epoll_create1");
}

uint64_t Loop::watch(int fd, uint32_t epoll_events, Handler handler) {
  auto id = try_watch(fd, epoll_events, std::move(handler));
  if (!id) {
    errno = id.error();
    kqfs::throw_errno("epoll_ctl");
  }
  return *id;
}

kqfs::Result<uint64_t> Loop::try_watch(int fd, uint32_t epoll_events, Handler handler) {
  const uint64_t id = next_id_++;
  auto& added = watches_.emplace(id, Watch{fd, std::move(handler)}).first->second;
  epoll_event event{};
  event.events = epoll_events;
  event.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, added.fd, &event) < 0) {
    const int error = errno;
    watches_.erase(id);
    return kqfs::Errno{error};
  }
  return id;
}

void Loop::unwatch(uint64_t id) {
  const auto found = watches_.find(id);
  if (found == watches_.end()) return;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, found->second.fd, nullptr);
  watches_.erase(found);
}

// Telling a failure may need memory too: failing there ends nothing either.
void Loop::tell(const char* what) const noexcept {
  try {
    on_failure_(what);
  } catch (...) {
  }
}

void Loop::run_once(int timeout_ms) {
  epoll_event events[64];
  const int ready = ::epoll_wait(epoll_.get(), events, 64, timeout_ms);
  for (int i = 0; i < ready; ++i) {
    // Looked up by id each time: an earlier handler may have unwatched it.
    const auto found = watches_.find(events[i].data.u64);
    if (found == watches_.end()) continue;
    // One failing handler (out of memory, say) must not stop the others.
    try {
      Handler handler = found->second.handler;  // the handler may unwatch itself
      handler(events[i].events);
    } catch (const std::exception& failure) {
      tell(failure.what());
    } catch (...) {
      tell("unknown exception");
    }
  }
}

}  // namespace kqfsd
