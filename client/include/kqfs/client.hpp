// A small C++ API over <sys/event.h>: a kqueue owned by an object, changes
// built by name, std::chrono timeouts, errors as exceptions.
#pragma once

#include <sys/event.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>

#include <kqfs/unique_fd.hpp>

namespace kqfs::client {

using Event = struct ::kevent;

// Changes, each with EV_ADD and the flags given (delete with remove()).
Event timer(uintptr_t ident, std::chrono::nanoseconds period, uint16_t flags = 0,
            uintptr_t udata = 0);
Event user(uintptr_t ident, uint16_t flags = EV_CLEAR, uintptr_t udata = 0);
Event readable(int fd, uint16_t flags = 0, uintptr_t udata = 0);
Event writable(int fd, uint16_t flags = 0, uintptr_t udata = 0);
Event file_changes(int fd, uint32_t notes, uint16_t flags = EV_CLEAR, uintptr_t udata = 0);
Event process(pid_t pid, uint32_t notes = NOTE_EXIT, uintptr_t udata = 0);
Event signal(int number, uintptr_t udata = 0);
// A user event's trigger, with NOTE_FF* and flag bits in `fflags`; the
// knote keeps its udata.
Event trigger(uintptr_t ident, uint32_t fflags = 0);
// The change that deletes the knote `knote` was added with.
Event remove(const Event& knote);

class Queue {
 public:
  // Throws std::system_error when kqfs is not there (ENOENT, ENOTCONN).
  Queue();
  ~Queue();
  Queue(Queue&& other) noexcept;
  Queue& operator=(Queue&& other) noexcept;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  // Pollable: readable while events are pending.
  int fd() const noexcept { return fd_.get(); }

  // Applies the changes in order; throws std::system_error for the first
  // one that fails (later ones are not applied).
  void apply(std::span<const Event> changes);
  void apply(const Event& change) { apply(std::span<const Event>(&change, 1)); }

  // Waits up to `timeout` (none: for ever) and returns the events that
  // came, at most out.size(); empty on timeout or when a signal came.
  std::span<Event> wait(std::span<Event> out,
                        std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

 private:
  UniqueFd fd_;
};

}  // namespace kqfs::client
