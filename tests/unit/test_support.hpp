// Helpers for the engine's unit tests: real kernel objects, owned by RAII.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "kqfs/kevent.hpp"
#include "kqfs/kqueue.hpp"
#include "kqfs/unique_fd.hpp"
#include "tests/support/descriptors.hpp"

namespace kqfs::test {

inline constexpr std::chrono::milliseconds kPatience{2000};  // for something that should happen
inline constexpr std::chrono::milliseconds kQuiet{100};      // for something that should not

inline Kevent change(uint64_t ident, int16_t filter, uint16_t flags, uint32_t fflags = 0,
                     int64_t data = 0, uint64_t udata = 0) {
  return Kevent{ident, filter, flags, fflags, data, udata};
}

inline Kevent user(uint64_t ident, uint16_t flags, uint32_t fflags = 0, int64_t data = 0,
                   uint64_t udata = 0) {
  return change(ident, EVFILT_USER, flags, fflags, data, udata);
}

// Registers `fd` for READ (or WRITE) with EV_ADD | `extra`; returns the error.
inline int add_read(Kqueue& kq, int fd, uint16_t extra = 0, uint32_t fflags = 0, int64_t data = 0) {
  return kq.apply(change(static_cast<uint64_t>(fd), EVFILT_READ, EV_ADD | extra, fflags, data));
}

inline int add_write(Kqueue& kq, int fd, uint16_t extra = 0, uint32_t fflags = 0,
                     int64_t data = 0) {
  return kq.apply(change(static_cast<uint64_t>(fd), EVFILT_WRITE, EV_ADD | extra, fflags, data));
}

// A READ and a WRITE knote on one descriptor, each with EV_ADD | its
// `extra` flags; returns the first error.
inline int add_read_and_write(Kqueue& kq, int fd, uint16_t read_extra = 0,
                              uint16_t write_extra = 0) {
  if (const int error = add_read(kq, fd, read_extra)) return error;
  return add_write(kq, fd, write_extra);
}

// ------------------------------------------------------- kernel objects

using test_support::Pipe;

// A test on a pipe and a queue.
class PipeQueueTest : public ::testing::Test {
 protected:
  Kqueue kq;
  Pipe p;
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

// A directory /tmp/kqfs-<tag>-XXXXXX, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(std::string_view tag = "test") {
    std::string name = "/tmp/kqfs-" + std::string(tag) + "-XXXXXX";
    if (::mkdtemp(name.data()) != nullptr) path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  bool ok() const { return !path_.empty(); }

 private:
  std::string path_;
};

inline void write_bytes(int fd, std::string_view bytes) {
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

// The entries of /proc/self/fd.
inline size_t open_descriptor_count() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

// -------------------------------------------------------------- sockets

// A TCP listener on 127.0.0.1 with a kernel-chosen port.
inline UniqueFd tcp_listener(sockaddr_in& address) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd.get(), 16) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return UniqueFd();
  }
  return fd;
}

// A blocking stream socket connected to `address`, or none.
inline UniqueFd stream_connect(int domain, const sockaddr* address, socklen_t length) {
  UniqueFd fd(::socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(fd.get(), address, length) != 0) return UniqueFd();
  return fd;
}

inline UniqueFd tcp_connect(const sockaddr_in& address) {
  return stream_connect(AF_INET, reinterpret_cast<const sockaddr*>(&address), sizeof address);
}

struct TcpConnection {
  UniqueFd client;
  UniqueFd server;  // non-blocking
};

inline TcpConnection tcp_connection() {
  sockaddr_in address{};
  UniqueFd listener = tcp_listener(address);
  TcpConnection c;
  c.client = tcp_connect(address);
  c.server.reset(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  return c;
}

// A test on a connected pair of TCP sockets and a queue.
class TcpConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    c = tcp_connection();
    ASSERT_TRUE(c.client);
    ASSERT_TRUE(c.server);
  }

  TcpConnection c;
  Kqueue kq;
};

// Closes a connected TCP socket with a zero linger time, which sends RST.
inline void close_with_reset(UniqueFd& socket) {
  linger abort_on_close{1, 0};
  ASSERT_EQ(
      ::setsockopt(socket.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close), 0);
  socket.reset();
}

inline sockaddr_un unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  return address;
}

// A non-blocking Unix stream socket listening on `address`.
inline UniqueFd unix_listener(const sockaddr_un& address) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd.get(), 16) != 0) {
    return UniqueFd();
  }
  return fd;
}

inline UniqueFd unix_connect(const sockaddr_un& address) {
  return stream_connect(AF_UNIX, reinterpret_cast<const sockaddr*>(&address), sizeof address);
}

// A unix_listener() at a new path in a temporary directory.
struct UnixListener {
  explicit UnixListener(std::string_view tag)
      : dir(tag), address(unix_address(dir / "listener")), fd(unix_listener(address)) {}

  TempDir dir;
  sockaddr_un address;
  UniqueFd fd;
};

// ------------------------------------------------------------ the queue

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

// The next event, within kPatience, has `data`.
inline ::testing::AssertionResult next_event_has_data(Kqueue& kq, int64_t data) {
  const auto ev = wait_one(kq, kPatience);
  if (!ev) return ::testing::AssertionFailure() << "no event";
  if (ev->data != data) {
    return ::testing::AssertionFailure() << "data " << ev->data << ", not " << data;
  }
  return ::testing::AssertionSuccess();
}

// Collects until an event satisfies `matches` (other events are dropped).
inline std::optional<Kevent> wait_for(Kqueue& kq, const std::function<bool(const Kevent&)>& matches,
                                      std::chrono::milliseconds timeout = kPatience) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    for (const Kevent& ev : wait_events(kq, left)) {
      if (matches(ev)) return ev;
    }
  }
}

// The first `filter` event on `ident` with EV_EOF set.
inline std::optional<Kevent> wait_for_eof(Kqueue& kq, uint64_t ident, int16_t filter) {
  return wait_for(kq, [&](const Kevent& ev) {
    return ev.ident == ident && ev.filter == filter && (ev.flags & EV_EOF);
  });
}

// Expects no event within kQuiet.
inline void expect_quiet(Kqueue& kq) {
  const auto events = wait_events(kq, kQuiet);
  EXPECT_TRUE(events.empty()) << "unexpected event on ident " << events.front().ident << " filter "
                              << events.front().filter << " data " << events.front().data;
}

// Waits until the queue has taken in what the kernel reported and has
// something on its ready list.
inline bool wait_pending(Kqueue& kq, std::chrono::milliseconds timeout = kPatience) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    kq.drain_sources();
    if (kq.pending() > 0) return true;
    pollfd p{kq.fd(), POLLIN, 0};
    ::poll(&p, 1, 10);
  }
  return false;
}

inline bool queue_readable(const Kqueue& kq) {
  pollfd p{kq.fd(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

inline std::vector<uint64_t> idents_of(const std::vector<Kevent>& events) {
  std::vector<uint64_t> idents;
  for (const Kevent& ev : events)
    idents.push_back(ev.ident);
  return idents;
}

inline std::chrono::nanoseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::steady_clock::now() - start;
}

}  // namespace kqfs::test
