// Descriptor lifetime: a knote lives as long as the registrant's descriptor
// (BSD's rule), the engine never keeps the registrant's file open, and the
// engine reaches descriptors only through the caller's resolver.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <memory>
#include <tuple>
#include <vector>

#include "kqfs/filters/descriptor.hpp"
#include "kqfs/linux/resolver.hpp"
#include "test_support.hpp"

namespace kqfs::test {
namespace {

using namespace std::chrono_literals;

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) >= 0;
}

short poll_now(int fd, short events) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, 0) == 1 ? p.revents : 0;
}

// A resolver standing for another caller: it resolves like this process,
// but is a distinct caller the engine must keep apart.
class ForwardingResolver final : public DescriptorResolver {
 public:
  Result<BorrowedFd> borrow(int fd) override { return own_.borrow(fd); }
  bool names_registered(int fd, int epfd, int registered_as) override {
    return own_.names_registered(fd, epfd, registered_as);
  }
  int process_id() const override { return own_.process_id(); }

 private:
  InProcessResolver own_;
};

// A caller whose descriptor numbers are not ours: its descriptor `ident`
// is our descriptor `real` (as a daemon's client's descriptors would be).
class RemappingResolver final : public DescriptorResolver {
 public:
  RemappingResolver(int ident, int real) : ident_(ident), real_(real) {}
  // The caller closed its descriptor.
  void close_ident() { real_ = -1; }

  Result<BorrowedFd> borrow(int fd) override {
    if (fd != ident_ || real_ < 0) return Errno{EBADF};
    return BorrowedFd::unowned(real_);
  }
  bool names_registered(int fd, int epfd, int registered_as) override {
    if (fd != ident_ || real_ < 0) return false;
    return process_fd_names_registered(::getpid(), real_, epfd, registered_as);
  }
  int process_id() const override { return ::getpid(); }

 private:
  const int ident_;
  int real_;
};

// This process's descriptors, counting how often the engine takes one:
// borrow() for a descriptor not yet matched to a registration, and
// borrow_registered() for one just matched (kcmp) to a registered file.
class CountingResolver final : public DescriptorResolver {
 public:
  Result<BorrowedFd> borrow(int fd) override {
    ++borrows;
    return own_.borrow(fd);
  }
  Result<BorrowedFd> borrow_registered(int fd, int, int) override {
    ++registered_borrows;
    return own_.borrow(fd);
  }
  bool names_registered(int fd, int epfd, int registered_as) override {
    return own_.names_registered(fd, epfd, registered_as);
  }
  int process_id() const override { return own_.process_id(); }

  int borrows = 0;
  int registered_borrows = 0;

 private:
  InProcessResolver own_;
};

// READ on the pipe's read end and WRITE on its write end.
int add_both_ends(Kqueue& kq, const Pipe& p) {
  if (const int error = add_read(kq, p.r())) return error;
  return add_write(kq, p.w());
}

// ------------------------------------------------------ close drops knotes

TEST(Lifetime, ClosingARegisteredDescriptorDropsItsKnote) {
  Kqueue kq;
  Pipe p;
  ASSERT_EQ(add_both_ends(kq, p), 0);
  EXPECT_EQ(kq.knote_count(), 2u);

  p.read_end.reset();
  kq.sweep();
  EXPECT_EQ(kq.knote_count(EVFILT_READ), 0u);
  p.write_end.reset();
  kq.sweep();
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(Lifetime, AQueuedKnoteWhoseDescriptorWasClosedIsNotDelivered) {
  Kqueue kq;
  Pipe p;
  write_bytes(p.w(), "abc");
  ASSERT_EQ(kq.apply(change(p.r(), EVFILT_READ, EV_ADD)), 0);
  ASSERT_EQ(kq.pending(), 1u);

  p.read_end.reset();
  EXPECT_TRUE(drain(kq).empty());
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(Lifetime, ClosingTheRegisteredNumberDropsTheKnoteEvenWhileADupKeepsTheFileOpen) {
  Kqueue kq;
  Pipe p;
  UniqueFd dup_of_reader(::dup(p.r()));
  ASSERT_TRUE(dup_of_reader);
  ASSERT_EQ(kq.apply(change(p.r(), EVFILT_READ, EV_ADD)), 0);

  p.read_end.reset();
  write_bytes(p.w(), "abc");  // the file is still open and readable
  EXPECT_TRUE(wait_events(kq, kQuiet).empty());
  kq.sweep();
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(Lifetime, DeleteOnAClosedDescriptorIsEbadf) {
  Kqueue kq;
  Pipe p;
  const int number = p.r();
  ASSERT_EQ(kq.apply(change(number, EVFILT_READ, EV_ADD)), 0);
  p.read_end.reset();
  ASSERT_FALSE(is_open(number));
  EXPECT_EQ(kq.apply(change(number, EVFILT_READ, EV_DELETE)), EBADF);
}

// ------------------------------------------------- no hidden references

// One end of a pipe closed with both ends registered: the kernel sees that
// end gone (the engine kept no duplicate of it), the other end's knote gets
// EOF, and the closed end's idle knote goes at the next sweep.
struct ClosedPipeEnd {
  const char* name;
  UniqueFd Pipe::*closed;
  UniqueFd Pipe::*other;
  short poll_for;       // what poll asks of the other end
  short kernel_sees;    // and what it must show
  int16_t eof_filter;   // the other end's knote
  int16_t gone_filter;  // the closed end's
};

class ClosingOnePipeEnd : public ::testing::TestWithParam<ClosedPipeEnd> {};

TEST_P(ClosingOnePipeEnd, GivesTheOtherEndsKnoteEofWithBothEndsRegistered) {
  const ClosedPipeEnd& end = GetParam();
  Kqueue kq;
  Pipe p;
  const int other = (p.*end.other).get();
  ASSERT_EQ(add_both_ends(kq, p), 0);

  (p.*end.closed).reset();
  EXPECT_TRUE(poll_now(other, end.poll_for) & end.kernel_sees);
  EXPECT_TRUE(wait_for_eof(kq, other, end.eof_filter));
  kq.sweep();  // an idle knote goes at the next sweep
  EXPECT_EQ(kq.knote_count(end.gone_filter), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Lifetime, ClosingOnePipeEnd,
    ::testing::Values(ClosedPipeEnd{"TheWriteEnd", &Pipe::write_end, &Pipe::read_end, POLLIN,
                                    POLLHUP, EVFILT_READ, EVFILT_WRITE},
                      ClosedPipeEnd{"TheReadEnd", &Pipe::read_end, &Pipe::write_end, POLLOUT,
                                    POLLERR, EVFILT_WRITE, EVFILT_READ}),
    [](const ::testing::TestParamInfo<ClosedPipeEnd>& info) { return info.param.name; });

TEST(Lifetime, ClosingARegisteredSocketSendsFinToThePeer) {
  Kqueue kq;
  SocketPair s;
  ASSERT_EQ(add_read_and_write(kq, s.a.get()), 0);
  drain(kq);

  s.a.reset();
  char byte;
  EXPECT_EQ(::read(s.b.get(), &byte, 1), 0);  // end of file, not EAGAIN
}

// ---------------------------------------------------- descriptor reuse

TEST(Lifetime, AReusedDescriptorNumberIsANewFile) {
  Kqueue kq;
  Pipe first;
  const int number = first.r();
  UniqueFd first_reader(::dup(number));  // keeps the first pipe alive
  ASSERT_TRUE(first_reader);
  ASSERT_EQ(kq.apply(change(number, EVFILT_READ, EV_ADD, 0, 0, 1)), 0);
  first.read_end.reset();

  Pipe second;  // its read end is made to take the freed number
  UniqueFd second_reader(second.read_end.release());
  if (second_reader.get() != number) {
    ASSERT_EQ(::dup2(second_reader.get(), number), number);
    second_reader.reset(number);
  }

  // The old knote belonged to the closed descriptor, not to this file.
  EXPECT_EQ(kq.apply(change(number, EVFILT_READ, EV_DELETE)), ENOENT);
  ASSERT_EQ(kq.apply(change(number, EVFILT_READ, EV_ADD, 0, 0, 2)), 0);
  EXPECT_EQ(kq.knote_count(), 1u);

  write_bytes(first.w(), "old");
  expect_quiet(kq);
  write_bytes(second.w(), "new!");
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->ident, static_cast<uint64_t>(number));
  EXPECT_EQ(ev->udata, 2u);
  EXPECT_EQ(ev->data, 4);
}

TEST(Lifetime, Dup2OverARegisteredNumberDropsTheOldKnote) {
  Kqueue kq;
  Pipe first;
  Pipe second;
  ASSERT_EQ(kq.apply(change(first.r(), EVFILT_READ, EV_ADD)), 0);
  ASSERT_EQ(::dup2(second.r(), first.r()), first.r());

  write_bytes(second.w(), "x");  // readable through the number, but a new file
  expect_quiet(kq);
  kq.sweep();
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(Lifetime, AddOnAnIdentAboveIntMaxIsEbadf) {
  Kqueue kq;
  Pipe p;
  // Truncated to 32 bits this would be an open descriptor.
  const uint64_t wide = (uint64_t{1} << 32) + static_cast<uint64_t>(p.r());
  EXPECT_EQ(kq.apply(change(wide, EVFILT_READ, EV_ADD)), EBADF);
  EXPECT_EQ(kq.apply(change(uint64_t{INT_MAX} + 1, EVFILT_WRITE, EV_ADD)), EBADF);
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(Lifetime, AddOnANeverOpenedDescriptorIsEbadf) {
  constexpr int kUnused = 19999;
  ASSERT_FALSE(is_open(kUnused));
  Kqueue kq;
  EXPECT_EQ(kq.apply(change(kUnused, EVFILT_READ, EV_ADD)), EBADF);
  EXPECT_EQ(kq.apply(change(kUnused, EVFILT_WRITE, EV_ADD)), EBADF);
  EXPECT_EQ(kq.knote_count(), 0u);
}

// ------------------------------------ a watch kept for the next EV_ADD

Kevent oneshot_read(int fd, uint64_t udata = 0) {
  return change(static_cast<uint64_t>(fd), EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, udata);
}

TEST(LifetimeKeptWatch, ReArmingAOneshotReusesTheRegistration) {
  Kqueue kq;
  SocketPair s;
  auto counting = std::make_shared<CountingResolver>();
  const Caller caller = counting;
  ASSERT_EQ(kq.apply(oneshot_read(s.a.get(), 1), caller), 0);
  write_bytes(s.b.get(), "ab");
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->data, 2);
  EXPECT_EQ(kq.knote_count(), 0u);  // delivered, then gone (EV_ONESHOT)
  const size_t descriptors = open_descriptor_count();
  const int borrows = counting->borrows;

  // Still readable: the re-armed knote fires at once, with its data, and no
  // descriptor was taken or epoll instance made for it.
  ASSERT_EQ(kq.apply(oneshot_read(s.a.get(), 2), caller), 0);
  EXPECT_EQ(counting->borrows, borrows);
  EXPECT_EQ(open_descriptor_count(), descriptors);
  ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->udata, 2u);
  EXPECT_EQ(ev->data, 2);

  // Drained, re-armed: quiet until the next byte.
  char bytes[2];
  ASSERT_EQ(::read(s.a.get(), bytes, sizeof bytes), 2);
  ASSERT_EQ(kq.apply(oneshot_read(s.a.get(), 3), caller), 0);
  expect_quiet(kq);
  write_bytes(s.b.get(), "c");
  ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->udata, 3u);
  EXPECT_EQ(ev->data, 1);
  EXPECT_EQ(counting->borrows, borrows);
}

TEST(LifetimeKeptWatch, AReusedNumberAfterAOneshotIsANewFile) {
  Kqueue kq;
  Pipe first;
  const int number = first.r();
  ASSERT_EQ(kq.apply(oneshot_read(number, 1)), 0);
  write_bytes(first.w(), "x");
  ASSERT_TRUE(wait_one(kq, kPatience));

  Pipe second;  // its read end takes the number the first pipe's had
  ASSERT_EQ(::dup2(second.r(), number), number);
  ASSERT_EQ(kq.apply(oneshot_read(number, 2)), 0);
  EXPECT_EQ(kq.apply(change(number, EVFILT_READ, EV_DELETE)), 0);
  ASSERT_EQ(kq.apply(oneshot_read(number, 3)), 0);
  expect_quiet(kq);  // the first pipe, unread, is not this file
  write_bytes(second.w(), "new");
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->udata, 3u);
  EXPECT_EQ(ev->data, 3);
}

TEST(LifetimeKeptWatch, KeptWatchesAreFewAndTheSweepDropsThoseOfClosedDescriptors) {
  Kqueue kq;
  const size_t before = open_descriptor_count();
  {
    std::vector<SocketPair> sockets(DescriptorWatches::kKeptWatches + 8);
    const size_t opened = open_descriptor_count();
    for (SocketPair& s : sockets) {
      ASSERT_EQ(kq.apply(change(static_cast<uint64_t>(s.a.get()), EVFILT_READ, EV_ADD)), 0);
      ASSERT_EQ(kq.apply(change(static_cast<uint64_t>(s.a.get()), EVFILT_READ, EV_DELETE)), 0);
    }
    EXPECT_EQ(open_descriptor_count(), opened + DescriptorWatches::kKeptWatches);
  }
  kq.sweep();
  EXPECT_EQ(open_descriptor_count(), before);
}

TEST(LifetimeKeptWatch, AKeptWatchServesOnlyItsCallerAndGoesWithIt) {
  Kqueue kq;
  SocketPair s;
  auto them = std::make_shared<CountingResolver>();
  auto others = std::make_shared<CountingResolver>();
  const size_t before = open_descriptor_count();
  ASSERT_EQ(kq.apply(oneshot_read(s.a.get()), Caller(them)), 0);
  ASSERT_EQ(
      kq.apply(change(static_cast<uint64_t>(s.a.get()), EVFILT_READ, EV_DELETE), Caller(them)), 0);
  EXPECT_EQ(open_descriptor_count(), before + 1);  // kept: its epoll instance

  const int borrows = others->borrows;
  ASSERT_EQ(kq.apply(oneshot_read(s.a.get()), Caller(others)), 0);
  EXPECT_GT(others->borrows, borrows);  // a registration of its own
  kq.forget(*them);
  EXPECT_EQ(open_descriptor_count(), before + 1);  // the other caller's knote's
  write_bytes(s.b.get(), "x");
  EXPECT_TRUE(wait_one(kq, kPatience));
}

// ---------------------------------------------------------- resolvers

TEST(LifetimeResolver, ForgetDropsOnlyThatCallersKnotes) {
  Kqueue kq;
  Pipe mine;
  Pipe theirs;
  Pipe others;
  auto them = std::make_shared<ForwardingResolver>();
  auto someone_else = std::make_shared<ForwardingResolver>();
  const Caller them_caller = them;
  const Caller someone_else_caller = someone_else;

  ASSERT_EQ(kq.apply(change(mine.r(), EVFILT_READ, EV_ADD)), 0);
  ASSERT_EQ(kq.apply(change(theirs.r(), EVFILT_READ, EV_ADD), them_caller), 0);
  ASSERT_EQ(kq.apply(change(theirs.w(), EVFILT_WRITE, EV_ADD | EV_CLEAR), them_caller), 0);
  ASSERT_EQ(kq.apply(change(others.r(), EVFILT_READ, EV_ADD), someone_else_caller), 0);
  ASSERT_EQ(kq.apply(change(7, EVFILT_USER, EV_ADD)), 0);
  drain(kq);  // their WRITE knote fired once
  ASSERT_EQ(kq.knote_count(), 5u);

  kq.forget(*them);
  EXPECT_EQ(kq.knote_count(), 3u);
  EXPECT_EQ(kq.knote_count(EVFILT_WRITE), 0u);

  write_bytes(theirs.w(), "gone");
  expect_quiet(kq);
  write_bytes(mine.w(), "a");
  write_bytes(others.w(), "bb");
  auto events = wait_events(kq, kPatience);
  for (int i = 0; events.size() < 2 && i < 10; ++i)
    events = wait_events(kq, kPatience);
  ASSERT_EQ(events.size(), 2u);
  for (const Kevent& ev : events) {
    EXPECT_NE(ev.ident, static_cast<uint64_t>(theirs.r()));
    EXPECT_EQ(ev.data, ev.ident == static_cast<uint64_t>(mine.r()) ? 1 : 2);
  }
}

// ---------------------------------------------- losses told to a listener

using Lost = Kqueue::LostKnote;

// What the listener heard, as (ident, filter, pid, cause).
struct HeardLosses {
  std::vector<std::tuple<uint64_t, int16_t, int, Lost::Cause>> heard;
  void listen_to(Kqueue& kq) {
    kq.on_knote_lost([this](const Lost& lost) {
      heard.emplace_back(lost.ident, lost.filter, lost.pid, lost.cause);
    });
  }
};

TEST(LifetimeLosses, AClosedDescriptorsKnoteIsToldAsClosedWithItsOwner) {
  Kqueue kq;
  HeardLosses losses;
  losses.listen_to(kq);
  Pipe p;
  ASSERT_EQ(add_both_ends(kq, p), 0);
  const auto read_end = static_cast<uint64_t>(p.r());
  p.read_end.reset();
  kq.sweep();
  ASSERT_EQ(losses.heard.size(), 1u);
  EXPECT_EQ(losses.heard[0],
            std::make_tuple(read_end, int16_t{EVFILT_READ}, ::getpid(), Lost::Cause::closed));
}

TEST(LifetimeLosses, AQueuedKnoteOfAClosedDescriptorIsToldWhenCollected) {
  Kqueue kq;
  HeardLosses losses;
  losses.listen_to(kq);
  Pipe p;
  ASSERT_EQ(add_write(kq, p.w()), 0);  // writable: queued at once
  ASSERT_EQ(kq.pending(), 1u);
  p.write_end.reset();
  expect_quiet(kq);
  ASSERT_EQ(losses.heard.size(), 1u);
  EXPECT_EQ(std::get<Lost::Cause>(losses.heard[0]), Lost::Cause::closed);
}

TEST(LifetimeLosses, ForgetTellsEachOfThatCallersKnotesAsExited) {
  Kqueue kq;
  HeardLosses losses;
  losses.listen_to(kq);
  Pipe theirs;
  auto them = std::make_shared<ForwardingResolver>();
  ASSERT_EQ(kq.apply(change(theirs.r(), EVFILT_READ, EV_ADD), Caller(them)), 0);
  ASSERT_EQ(kq.apply(change(7, EVFILT_USER, EV_ADD)), 0);
  kq.forget(*them);
  ASSERT_EQ(losses.heard.size(), 1u);
  EXPECT_EQ(losses.heard[0],
            std::make_tuple(static_cast<uint64_t>(theirs.r()), int16_t{EVFILT_READ}, ::getpid(),
                            Lost::Cause::exited));
}

TEST(LifetimeLosses, ChangesAndReplacementsAreNotLosses) {
  Kqueue kq;
  HeardLosses losses;
  losses.listen_to(kq);
  Pipe p;
  ASSERT_EQ(add_read(kq, p.r()), 0);
  ASSERT_EQ(kq.apply(change(p.r(), EVFILT_READ, EV_DELETE)), 0);
  ASSERT_EQ(kq.apply(change(p.r(), EVFILT_READ, EV_ADD | EV_ONESHOT)), 0);
  write_bytes(p.w(), "x");
  EXPECT_EQ(wait_events(kq, kPatience).size(), 1u);  // a oneshot delivered
  // Another caller whose descriptor of that number is another file takes
  // the knote over: the first caller's file is still open.
  ASSERT_EQ(add_read(kq, p.r()), 0);
  Pipe other;
  auto remapped = std::make_shared<RemappingResolver>(p.r(), other.r());
  ASSERT_EQ(kq.apply(change(p.r(), EVFILT_READ, EV_ADD), Caller(remapped)), 0);
  EXPECT_TRUE(losses.heard.empty());
}

TEST(LifetimeResolver, EngineAsksTheResolverForTheCallersDescriptors) {
  constexpr int kCallersNumber = 1000;
  ASSERT_FALSE(is_open(kCallersNumber));  // means nothing in this process
  Pipe p;
  auto resolver = std::make_shared<RemappingResolver>(kCallersNumber, p.r());
  const Caller caller = resolver;
  Kqueue kq;

  EXPECT_EQ(kq.apply(change(kCallersNumber, EVFILT_READ, EV_ADD)), EBADF);  // as ourselves
  ASSERT_EQ(kq.apply(change(kCallersNumber, EVFILT_READ, EV_ADD), caller), 0);
  expect_quiet(kq);

  write_bytes(p.w(), "remap");
  auto ev = wait_one(kq, kPatience);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->ident, static_cast<uint64_t>(kCallersNumber));
  EXPECT_EQ(ev->data, 5);
  EXPECT_EQ(ev->flags, EV_ADD);

  EXPECT_EQ(kq.apply(change(kCallersNumber, EVFILT_READ, EV_DELETE), caller), 0);
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(LifetimeResolver, KnoteIsDroppedWhenTheCallerNoLongerHasTheDescriptor) {
  constexpr int kCallersNumber = 1000;
  ASSERT_FALSE(is_open(kCallersNumber));
  Pipe p;
  auto resolver = std::make_shared<RemappingResolver>(kCallersNumber, p.r());
  Kqueue kq;
  ASSERT_EQ(kq.apply(change(kCallersNumber, EVFILT_READ, EV_ADD), Caller(resolver)), 0);

  resolver->close_ident();  // our file stays open; only the caller's number is gone
  write_bytes(p.w(), "abc");
  expect_quiet(kq);
  kq.sweep();
  EXPECT_EQ(kq.knote_count(), 0u);
}

}  // namespace
}  // namespace kqfs::test
