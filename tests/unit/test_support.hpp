// Helpers for the engine's unit tests: real kernel objects, owned by RAII.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

#include "kqfs/kevent.hpp"
#include "kqfs/kqueue.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs::test {

inline Kevent change(uint64_t ident, int16_t filter, uint16_t flags, uint32_t fflags = 0,
                     int64_t data = 0, uint64_t udata = 0) {
  return Kevent{ident, filter, flags, fflags, data, udata};
}

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      read_end.reset(fds[0]);
      write_end.reset(fds[1]);
    }
  }
  int r() const { return read_end.get(); }
  int w() const { return write_end.get(); }
};

struct SocketPair {
  UniqueFd a;
  UniqueFd b;
  explicit SocketPair(int type = SOCK_STREAM) {
    int fds[2];
    if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0) {
      a.reset(fds[0]);
      b.reset(fds[1]);
    }
  }
};

inline void write_bytes(int fd, std::string_view bytes) {
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

// Everything collect() returns now.
inline std::vector<Kevent> drain(Kqueue& kq, size_t max = 64) {
  std::vector<Kevent> out(max);
  out.resize(kq.collect(out));
  return out;
}

// Waits on the queue's descriptor (as any poller would) up to `timeout`
// and collects what is there.
inline std::vector<Kevent> wait_events(Kqueue& kq, std::chrono::milliseconds timeout,
                                       size_t max = 64) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto events = drain(kq, max);
    if (!events.empty()) return events;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {};
    pollfd p{kq.fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()) + 1);
  }
}

inline std::optional<Kevent> wait_one(Kqueue& kq, std::chrono::milliseconds timeout) {
  auto events = wait_events(kq, timeout, 1);
  if (events.empty()) return std::nullopt;
  return events.front();
}

inline bool queue_readable(const Kqueue& kq) {
  pollfd p{kq.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

}  // namespace kqfs::test
