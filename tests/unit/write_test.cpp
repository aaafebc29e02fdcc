// EVFILT_WRITE on real kernel objects: free space as `data`, EV_EOF when the
// other side is gone, NOTE_LOWAT, and sharing one descriptor with a READ knote.
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace kqfs::test {
namespace {

using namespace std::chrono_literals;

using WriteTcpConnection = TcpConnectionTest;

int64_t pipe_capacity(int fd) {
  return ::fcntl(fd, F_GETPIPE_SZ);
}

// Writes until the kernel refuses more (fd must be non-blocking).
void fill(int fd) {
  std::vector<char> chunk(4096, 'x');
  while (::write(fd, chunk.data(), chunk.size()) > 0) {
  }
  while (::write(fd, chunk.data(), 1) > 0) {
  }
}

// Reads everything there is (fd must be non-blocking).
void empty_out(int fd) {
  char buffer[4096];
  while (::read(fd, buffer, sizeof buffer) > 0) {
  }
}

// SO_SNDBUF minus SIOCOUTQ, as read by the test itself.
int64_t send_space(int fd) {
  int buffer = 0;
  socklen_t length = sizeof buffer;
  int queued = 0;
  if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, &length) != 0 ||
      ::ioctl(fd, SIOCOUTQ, &queued) != 0) {
    return -1;
  }
  return buffer - queued;
}

// The WRITE event for `fd` compared with the send space read right before
// and after collecting. A TCP send buffer changes as ACKs arrive, so this
// retries until the space stayed the same around one collection.
void expect_data_is_send_space(Kqueue& kq, int fd) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (std::chrono::steady_clock::now() < deadline) {
    const int64_t before = send_space(fd);
    ASSERT_GE(before, 0);
    const auto events = drain(kq);
    const int64_t after = send_space(fd);
    if (before != after) continue;
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].ident, static_cast<uint64_t>(fd));
    EXPECT_EQ(events[0].filter, EVFILT_WRITE);
    EXPECT_EQ(events[0].data, before);
    return;
  }
  FAIL() << "the send space never stayed still";
}

// ---------------------------------------------------------------- pipes

TEST(WritePipe, DataIsCapacityMinusQueued) {
  Pipe p;
  write_bytes(p.w(), std::string(100, 'x'));
  Kqueue kq;
  ASSERT_EQ(add_write(kq, p.w()), 0);
  auto events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, static_cast<uint64_t>(p.w()));
  EXPECT_EQ(events[0].filter, EVFILT_WRITE);
  EXPECT_EQ(events[0].flags, EV_ADD);
  EXPECT_EQ(events[0].data, pipe_capacity(p.w()) - 100);

  char buffer[40];
  ASSERT_EQ(::read(p.r(), buffer, sizeof buffer), 40);
  events = drain(kq);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, pipe_capacity(p.w()) - 60);
}

TEST(WritePipe, FullPipeDoesNotFireUntilTheReaderDrainsIt) {
  Pipe p;
  fill(p.w());
  Kqueue kq;
  ASSERT_EQ(add_write(kq, p.w()), 0);
  expect_quiet(kq);

  empty_out(p.r());
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->data, pipe_capacity(p.w()));
  EXPECT_FALSE(ev->flags & EV_EOF);
}

// FreeBSD's pipe_read posts the writer's knotes whenever it leaves room,
// not only when the pipe was full.
TEST(WritePipe, ClearKnoteFiresAgainWhenTheReaderMakesRoom) {
  Pipe p;
  write_bytes(p.w(), std::string(100, 'x'));
  Kqueue kq;
  ASSERT_EQ(add_write(kq, p.w(), EV_CLEAR), 0);
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->data, pipe_capacity(p.w()) - 100);
  expect_quiet(kq);

  empty_out(p.r());
  ASSERT_TRUE(next_event_has_data(kq, pipe_capacity(p.w())));
}

TEST(WritePipe, EofWhenTheReaderCloses) {
  Pipe p;
  Kqueue kq;
  ASSERT_EQ(add_write(kq, p.w(), EV_CLEAR), 0);
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_FALSE(ev->flags & EV_EOF);

  p.read_end.reset();
  ev = wait_for_eof(kq, p.w(), EVFILT_WRITE);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->flags, EV_ADD | EV_CLEAR | EV_EOF);
}

TEST(WritePipe, RegisteringWhenTheReaderIsGoneFailsWithEpipe) {
  Pipe p;
  p.read_end.reset();
  Kqueue kq;
  EXPECT_EQ(add_write(kq, p.w()), EPIPE);
  EXPECT_EQ(kq.knote_count(), 0u);
  // The failed registration left nothing behind: READ on it still works.
  EXPECT_EQ(kq.apply(change(p.w(), EVFILT_READ, EV_ADD)), 0);
  EXPECT_EQ(kq.knote_count(EVFILT_READ), 1u);
}

TEST(WritePipe, NoteLowatAboveTheFreeSpaceDoesNotFire) {
  Pipe p;
  const int64_t capacity = pipe_capacity(p.w());
  const int64_t queued = capacity - 5000;
  write_bytes(p.w(), std::string(static_cast<size_t>(queued), 'x'));

  Kqueue kq;
  ASSERT_EQ(add_write(kq, p.w(), 0, NOTE_LOWAT, 10000), 0);
  expect_quiet(kq);  // 5000 free < 10000

  empty_out(p.r());
  ASSERT_TRUE(next_event_has_data(kq, capacity));
}

TEST(WritePipe, NoteLowatBelowTheFreeSpaceFires) {
  Pipe p;
  const int64_t capacity = pipe_capacity(p.w());
  write_bytes(p.w(), std::string(static_cast<size_t>(capacity - 5000), 'x'));
  Kqueue kq;
  ASSERT_EQ(add_write(kq, p.w(), 0, NOTE_LOWAT, 4000), 0);
  ASSERT_TRUE(next_event_has_data(kq, 5000));
}

// -------------------------------------------------------------- sockets

TEST(WriteUnixStream, DataIsSndbufMinusOutq) {
  SocketPair s;
  write_bytes(s.a.get(), std::string(1000, 'x'));  // queued, unread by the peer
  Kqueue kq;
  ASSERT_EQ(add_write(kq, s.a.get()), 0);
  expect_data_is_send_space(kq, s.a.get());
  EXPECT_LT(send_space(s.a.get()), send_space(s.b.get()));  // the 1000 bytes count
}

TEST(WriteUnixStream, PeerClosedGivesEof) {
  SocketPair s;
  Kqueue kq;
  ASSERT_EQ(add_write(kq, s.a.get(), EV_CLEAR), 0);
  ASSERT_TRUE(wait_one(kq, kPatience));
  s.b.reset();
  auto ev = wait_for_eof(kq, s.a.get(), EVFILT_WRITE);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, 0u);
}

TEST(WriteUnixStream, FullSendBufferDoesNotFireUntilThePeerReads) {
  SocketPair s;
  fill(s.a.get());
  Kqueue kq;
  ASSERT_EQ(add_write(kq, s.a.get()), 0);
  expect_quiet(kq);
  empty_out(s.b.get());
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_GT(ev->data, 0);
}

TEST_F(WriteTcpConnection, DataIsSndbufMinusOutq) {
  write_bytes(c.client.get(), std::string(1000, 'x'));
  ASSERT_EQ(add_write(kq, c.client.get()), 0);
  expect_data_is_send_space(kq, c.client.get());
}

TEST_F(WriteTcpConnection, ResetByThePeerGivesEofWithEconnreset) {
  ASSERT_EQ(add_write(kq, c.server.get(), EV_CLEAR), 0);
  ASSERT_TRUE(wait_one(kq, kPatience));

  ASSERT_NO_FATAL_FAILURE(close_with_reset(c.client));
  auto ev = wait_for_eof(kq, c.server.get(), EVFILT_WRITE);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, static_cast<uint32_t>(ECONNRESET));
}

// BSD reports nothing on a stream socket that is not connected; Linux
// calls it hung up.
TEST(WriteTcp, UnconnectedSocketFiresNothingUntilItConnects) {
  sockaddr_in address{};
  UniqueFd listener = tcp_listener(address);
  ASSERT_TRUE(listener);
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ASSERT_TRUE(client);
  Kqueue kq;
  ASSERT_EQ(add_read_and_write(kq, client.get()), 0);
  expect_quiet(kq);

  const int result =
      ::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ASSERT_TRUE(result == 0 || errno == EINPROGRESS);
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->filter, EVFILT_WRITE);
  EXPECT_EQ(ev->flags & EV_EOF, 0);
  EXPECT_GT(ev->data, 0);
}

TEST(WriteUnixStream, OwnShutdownOfSendingGivesEof) {
  SocketPair pair;
  ASSERT_TRUE(pair.a);
  Kqueue kq;
  ASSERT_EQ(add_write(kq, pair.a.get()), 0);
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->flags & EV_EOF, 0);
  ASSERT_EQ(::shutdown(pair.a.get(), SHUT_WR), 0);
  ev = wait_for_eof(kq, pair.a.get(), EVFILT_WRITE);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, 0u);
}

TEST(WriteUnixStream, UnconnectedSocketFiresNothing) {
  UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(socket);
  Kqueue kq;
  ASSERT_EQ(add_read_and_write(kq, socket.get()), 0);
  expect_quiet(kq);
}

// After a refused non-blocking connect the program asks SO_ERROR why, as on
// BSD: the event must not take the error from it.
TEST(WriteTcp, RefusedConnectGivesEofWithEconnrefusedAndLeavesSoError) {
  sockaddr_in address{};
  {
    UniqueFd closed = tcp_listener(address);  // a port that then has no listener
    ASSERT_TRUE(closed);
  }
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ASSERT_TRUE(client);
  Kqueue kq;
  ASSERT_EQ(add_write(kq, client.get()), 0);
  const int result =
      ::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ASSERT_EQ(result, -1);
  ASSERT_EQ(errno, EINPROGRESS);  // loopback answers the SYN after connect returns

  auto ev = wait_for_eof(kq, client.get(), EVFILT_WRITE);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, static_cast<uint32_t>(ECONNREFUSED));
  int error = 0;
  socklen_t length = sizeof error;
  ASSERT_EQ(::getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &error, &length), 0);
  EXPECT_EQ(error, ECONNREFUSED);
}

// BSD: once the socket can send no more, WRITE has EV_EOF.
TEST_F(WriteTcpConnection, OwnShutdownOfSendingGivesEof) {
  ASSERT_EQ(add_write(kq, c.client.get()), 0);
  ASSERT_EQ(::shutdown(c.client.get(), SHUT_WR), 0);
  auto ev = wait_for_eof(kq, c.client.get(), EVFILT_WRITE);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, 0u);
}

// A WRITE knote on `listener` stays quiet, before and after a client
// connects with `connect()`.
template <typename Connect>
void expect_write_never_fires(int listener, Connect connect) {
  Kqueue kq;
  ASSERT_EQ(add_write(kq, listener), 0);
  expect_quiet(kq);
  UniqueFd client = connect();
  ASSERT_TRUE(client);
  expect_quiet(kq);
}

TEST(WriteListener, TcpListeningSocketNeverFires) {
  sockaddr_in address{};
  UniqueFd listener = tcp_listener(address);
  ASSERT_TRUE(listener);
  expect_write_never_fires(listener.get(), [&] { return tcp_connect(address); });
}

TEST(WriteListener, UnixListeningSocketNeverFires) {
  const UnixListener listener("write");
  ASSERT_TRUE(listener.dir.ok());
  ASSERT_TRUE(listener.fd);
  expect_write_never_fires(listener.fd.get(), [&] { return unix_connect(listener.address); });
}

// ---------------------------------------------------------------- files

TEST(WriteRegularFile, AlwaysFiresWithDataZero) {
  TempDir dir("write");
  ASSERT_TRUE(dir.ok());
  UniqueFd file(::open((dir / "file").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(file);
  write_bytes(file.get(), "some bytes");
  Kqueue kq;
  ASSERT_EQ(add_write(kq, file.get()), 0);
  for (int i = 0; i < 3; ++i) {
    auto events = drain(kq);
    ASSERT_EQ(events.size(), 1u) << "collect " << i;
    EXPECT_EQ(events[0].data, 0);
    EXPECT_EQ(events[0].flags, EV_ADD);
  }
}

// ------------------------------------------- READ and WRITE on one file

TEST(WriteWithRead, BothKnotesOnOneSocketReport) {
  SocketPair s;
  Kqueue kq;
  ASSERT_EQ(add_read_and_write(kq, s.a.get()), 0);
  EXPECT_EQ(kq.knote_count(), 2u);

  write_bytes(s.b.get(), "abc");
  auto ev = wait_for(kq, [&](const Kevent& e) { return e.filter == EVFILT_READ; });
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->data, 3);
  auto events = drain(kq);
  ASSERT_EQ(events.size(), 2u);  // both level-triggered, both due
  EXPECT_NE(events[0].filter, events[1].filter);
}

TEST(WriteWithRead, DeletingReadLeavesWriteWorking) {
  SocketPair s;
  fill(s.a.get());
  Kqueue kq;
  ASSERT_EQ(add_read_and_write(kq, s.a.get(), 0, EV_CLEAR), 0);
  expect_quiet(kq);

  ASSERT_EQ(kq.apply(change(s.a.get(), EVFILT_READ, EV_DELETE)), 0);
  EXPECT_EQ(kq.knote_count(), 1u);
  // Only the kernel's report of new room can fire an EV_CLEAR knote.
  empty_out(s.b.get());
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->filter, EVFILT_WRITE);
  EXPECT_GT(ev->data, 0);
}

TEST(WriteWithRead, DeletingWriteLeavesReadWorking) {
  SocketPair s;
  Kqueue kq;
  ASSERT_EQ(add_read_and_write(kq, s.a.get(), EV_CLEAR, 0), 0);
  ASSERT_EQ(kq.apply(change(s.a.get(), EVFILT_WRITE, EV_DELETE)), 0);
  EXPECT_EQ(kq.knote_count(), 1u);
  expect_quiet(kq);

  write_bytes(s.b.get(), "abcd");
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->filter, EVFILT_READ);
  EXPECT_EQ(ev->data, 4);
}

TEST(WriteWithRead, PipeEndsInOneQueueReportIndependently) {
  Pipe p;
  Kqueue kq;
  ASSERT_EQ(add_read(kq, p.r(), EV_CLEAR), 0);
  ASSERT_EQ(add_write(kq, p.w(), EV_CLEAR), 0);
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->ident, static_cast<uint64_t>(p.w()));
  EXPECT_EQ(ev->data, pipe_capacity(p.w()));

  write_bytes(p.w(), "12345");
  ev = wait_for(kq, [&](const Kevent& e) { return e.filter == EVFILT_READ; });
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->ident, static_cast<uint64_t>(p.r()));
  EXPECT_EQ(ev->data, 5);
}

}  // namespace
}  // namespace kqfs::test
