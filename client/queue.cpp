#include <cerrno>
#include <system_error>

#include "kqfs/client.hpp"

namespace kqfs::client {
namespace {

Event change(uintptr_t ident, int16_t filter, uint16_t flags, uint32_t fflags, int64_t data,
             uintptr_t udata) {
  Event event;
  EV_SET(&event, ident, filter, flags, fflags, data, udata);
  return event;
}

}  // namespace

Event timer(uintptr_t ident, std::chrono::nanoseconds period, uint16_t flags, uintptr_t udata) {
  return change(ident, EVFILT_TIMER, EV_ADD | flags, NOTE_NSECONDS, period.count(), udata);
}

Event user(uintptr_t ident, uint16_t flags, uintptr_t udata) {
  return change(ident, EVFILT_USER, EV_ADD | flags, 0, 0, udata);
}

Event readable(int fd, uint16_t flags, uintptr_t udata) {
  return change(static_cast<uintptr_t>(fd), EVFILT_READ, EV_ADD | flags, 0, 0, udata);
}

Event writable(int fd, uint16_t flags, uintptr_t udata) {
  return change(static_cast<uintptr_t>(fd), EVFILT_WRITE, EV_ADD | flags, 0, 0, udata);
}

Event file_changes(int fd, uint32_t notes, uint16_t flags, uintptr_t udata) {
  return change(static_cast<uintptr_t>(fd), EVFILT_VNODE, EV_ADD | flags, notes, 0, udata);
}

Event process(pid_t pid, uint32_t notes, uintptr_t udata) {
  return change(static_cast<uintptr_t>(pid), EVFILT_PROC, EV_ADD, notes, 0, udata);
}

Event signal(int number, uintptr_t udata) {
  return change(static_cast<uintptr_t>(number), EVFILT_SIGNAL, EV_ADD, 0, 0, udata);
}

// EV_KEEPUDATA: a trigger leaves the udata the knote was added with.
Event trigger(uintptr_t ident, uint32_t fflags) {
  return change(ident, EVFILT_USER, EV_KEEPUDATA, NOTE_TRIGGER | fflags, 0, 0);
}

Event remove(const Event& knote) {
  return change(knote.ident, knote.filter, EV_DELETE, 0, 0, 0);
}

Queue::Queue() : fd_(::kqueue()) {
  if (!fd_) throw std::system_error(errno, std::generic_category(), "kqueue");
}

Queue::~Queue() = default;
Queue::Queue(Queue&& other) noexcept = default;
Queue& Queue::operator=(Queue&& other) noexcept = default;

void Queue::apply(std::span<const Event> changes) {
  // No room for entries: the first failure is the call's error.
  if (::kevent(fd_.get(), changes.data(), static_cast<int>(changes.size()), nullptr, 0, nullptr) <
      0) {
    throw std::system_error(errno, std::generic_category(), "kevent");
  }
}

std::span<Event> Queue::wait(std::span<Event> out,
                             std::optional<std::chrono::nanoseconds> timeout) {
  timespec limit{};
  if (timeout) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*timeout);
    limit.tv_sec = seconds.count();
    limit.tv_nsec = (*timeout - seconds).count();
  }
  const int count = ::kevent(fd_.get(), nullptr, 0, out.data(), static_cast<int>(out.size()),
                             timeout ? &limit : nullptr);
  if (count < 0) {
    if (errno == EINTR) return {};
    throw std::system_error(errno, std::generic_category(), "kevent");
  }
  return out.first(static_cast<size_t>(count));
}

}  // namespace kqfs::client
