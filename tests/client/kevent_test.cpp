// kqueue(2) and kevent(2) from libkqfs-client, through a live kqfsd: every
// rule of the kevent() contract (docs/design.md#the-client,
// #where-bsds-differ and #the-kevent-call), each proved with real descriptors, threads,
// signals and processes.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/event.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "kqfs/mount_point.hpp"
#include "kqfs/unique_fd.hpp"
#include "tests/client/mount.hpp"
#include "tests/support/descriptors.hpp"
#include "tests/support/signals.hpp"

namespace kqfs::client_test {
namespace {

using test_support::Pipe;
using test_support::ScopedSignalAction;
using ::testing::UnorderedElementsAre;
using Clock = std::chrono::steady_clock;

using Event = struct kevent;

constexpr timespec kZeroTimeout{0, 0};
// A timeout no call in these tests should reach: a call that returns well
// before it did not wait for it.
constexpr timespec kLongTimeout{30, 0};
constexpr auto kWellBeforeLongTimeout = 15s;
// A bounded stand-in for "for ever" where a broken wait must not hang.
constexpr timespec kPatienceTimeout{10, 0};
// How long to watch for something that should not happen.
constexpr int kQuietMs = 100;
constexpr int kPatienceMs = 10'000;

Event change(uintptr_t ident, int16_t filter, uint16_t flags, uint32_t fflags = 0, int64_t data = 0,
             uintptr_t udata = 0) {
  Event event;
  EV_SET(&event, ident, filter, flags, fflags, data, udata);
  return event;
}

Event add_user(uintptr_t ident, uint16_t extra_flags = EV_CLEAR, uintptr_t udata = 0) {
  return change(ident, EVFILT_USER, EV_ADD | extra_flags, 0, 0, udata);
}

Event trigger_user(uintptr_t ident) {
  return change(ident, EVFILT_USER, 0, NOTE_TRIGGER);
}

Event delete_user(uintptr_t ident, uintptr_t udata = 0) {
  return change(ident, EVFILT_USER, EV_DELETE, 0, 0, udata);
}

uintptr_t udata_of(const Event& event) {
  return reinterpret_cast<uintptr_t>(event.udata);
}

std::vector<uintptr_t> idents_of(const std::vector<Event>& events) {
  std::vector<uintptr_t> idents;
  for (const Event& event : events)
    idents.push_back(event.ident);
  return idents;
}

// A named queue directory on the mount, removed at the end of the test.
class NamedQueue {
 public:
  explicit NamedQueue(const std::string& name)
      : path_(default_mount_point() + "/kq/" + name + "-" + std::to_string(::getpid())) {
    created_ = ::mkdir(path_.c_str(), 0700) == 0;
  }
  ~NamedQueue() {
    if (created_) ::rmdir(path_.c_str());
  }
  NamedQueue(const NamedQueue&) = delete;
  NamedQueue& operator=(const NamedQueue&) = delete;

  bool created() const { return created_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  bool created_ = false;
};

class KeventTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(kq_) << "kqueue: " << std::strerror(errno); }

  int kq() const { return kq_.get(); }

  // kevent() with these changes, no room for entries and no waiting.
  static int apply(int kq, const std::vector<Event>& changes) {
    return ::kevent(kq, changes.data(), static_cast<int>(changes.size()), nullptr, 0,
                    &kZeroTimeout);
  }
  int apply(const std::vector<Event>& changes) const { return apply(kq(), changes); }
  // The same with room for error entries in `out`; what kevent() returned.
  int apply(const std::vector<Event>& changes, std::span<Event> out) const {
    return ::kevent(kq(), changes.data(), static_cast<int>(changes.size()), out.data(),
                    static_cast<int>(out.size()), &kZeroTimeout);
  }

  // The events kevent() returns with no changes and this timeout; a failed
  // call is a test failure.
  static std::vector<Event> collect(int kq, const timespec* timeout, int room = 8) {
    std::vector<Event> events(static_cast<size_t>(room));
    const int count = ::kevent(kq, nullptr, 0, events.data(), room, timeout);
    EXPECT_GE(count, 0) << "kevent: " << std::strerror(errno);
    events.resize(static_cast<size_t>(std::max(count, 0)));
    return events;
  }
  std::vector<Event> collect(const timespec* timeout, int room = 8) const {
    return collect(kq(), timeout, room);
  }

  UniqueFd kq_{::kqueue()};
};

// ------------------------------------------------------------ changelist

TEST_F(KeventTest, ChangesAreAppliedInOrder) {
  // Out of order, the trigger or the delete of knote 1 would find no knote
  // and, with no room for entries, fail the call.
  const std::vector<Event> changes = {add_user(1), trigger_user(1), delete_user(1), add_user(2),
                                      trigger_user(2)};
  ASSERT_EQ(apply(changes), 0) << std::strerror(errno);

  const auto events = collect(&kZeroTimeout);
  EXPECT_THAT(idents_of(events), UnorderedElementsAre(2u));
  EXPECT_EQ(apply({trigger_user(1)}), -1) << "knote 1 should have been deleted";
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(KeventTest, FailingChangeWithRoomBecomesErrorEntryAndProcessingGoesOn) {
  UniqueFd closed(::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0));
  const int closed_fd = closed.get();
  closed.reset();
  const std::vector<Event> changes = {
      add_user(1),
      delete_user(99, 0x51),                                          // ENOENT: no such knote
      change(closed_fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, 0x52),  // EBADF: fd is closed
      add_user(2),
      trigger_user(2),
  };
  std::array<Event, 8> out{};

  const int count = apply(changes, out);

  ASSERT_EQ(count, 2) << (count < 0 ? std::strerror(errno) : "");
  // Each entry is the change itself with EV_ERROR added and data = errno.
  EXPECT_EQ(out[0].ident, 99u);
  EXPECT_EQ(out[0].filter, EVFILT_USER);
  EXPECT_EQ(out[0].flags, EV_DELETE | EV_ERROR);
  EXPECT_EQ(out[0].fflags, 0u);
  EXPECT_EQ(out[0].data, ENOENT);
  EXPECT_EQ(udata_of(out[0]), 0x51u);
  EXPECT_EQ(out[1].ident, static_cast<uintptr_t>(closed_fd));
  EXPECT_EQ(out[1].filter, EVFILT_READ);
  EXPECT_EQ(out[1].flags, EV_ADD | EV_CLEAR | EV_ERROR);
  EXPECT_EQ(out[1].data, EBADF);
  EXPECT_EQ(udata_of(out[1]), 0x52u);

  // The changes after the failures were applied; the one before too.
  EXPECT_THAT(idents_of(collect(&kZeroTimeout)), UnorderedElementsAre(2u));
  ASSERT_EQ(apply({trigger_user(1)}), 0) << std::strerror(errno);
  EXPECT_THAT(idents_of(collect(&kZeroTimeout)), UnorderedElementsAre(1u));
}

TEST_F(KeventTest, FailingChangeWithoutRoomFailsTheCallAndStopsThere) {
  const std::vector<Event> changes = {add_user(1), delete_user(99), add_user(2)};

  EXPECT_EQ(apply(changes), -1);
  EXPECT_EQ(errno, ENOENT);

  // The change before the failure was applied, the one after it was not.
  EXPECT_EQ(apply({trigger_user(1)}), 0) << std::strerror(errno);
  EXPECT_EQ(apply({trigger_user(2)}), -1) << "knote 2 must not exist";
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(KeventTest, FailingChangeAfterTheEventListIsFullFailsTheCall) {
  const std::vector<Event> changes = {delete_user(98), delete_user(99), add_user(2)};
  std::array<Event, 1> out{};

  EXPECT_EQ(apply(changes, out), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(apply({trigger_user(2)}), -1) << "knote 2 must not exist";
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(KeventTest, ReceiptIsAnErrorEntryWithDataZero) {
  const std::vector<Event> changes = {add_user(1, EV_CLEAR | EV_RECEIPT, 0x77),
                                      add_user(2, EV_RECEIPT, 0x78)};
  std::array<Event, 8> out{};

  const int count = apply(changes, out);

  ASSERT_EQ(count, 2) << (count < 0 ? std::strerror(errno) : "");
  EXPECT_EQ(out[0].ident, 1u);
  EXPECT_EQ(out[0].filter, EVFILT_USER);
  EXPECT_EQ(out[0].flags, EV_ADD | EV_CLEAR | EV_RECEIPT | EV_ERROR);
  EXPECT_EQ(out[0].data, 0);
  EXPECT_EQ(udata_of(out[0]), 0x77u);
  EXPECT_EQ(out[1].ident, 2u);
  EXPECT_EQ(out[1].flags, EV_ADD | EV_RECEIPT | EV_ERROR);
  EXPECT_EQ(out[1].data, 0);
  EXPECT_EQ(udata_of(out[1]), 0x78u);
  // Both knotes were registered.
  ASSERT_EQ(apply({trigger_user(1), trigger_user(2)}), 0) << std::strerror(errno);
  EXPECT_THAT(idents_of(collect(&kZeroTimeout)), UnorderedElementsAre(1u, 2u));
}

TEST_F(KeventTest, ReceiptReturnsOnlyReceiptsWhileEventsArePending) {
  ASSERT_EQ(apply({add_user(1), trigger_user(1)}), 0) << std::strerror(errno);
  const Event receipt = add_user(2, EV_RECEIPT);
  std::array<Event, 8> out{};

  // With no timeout at all: pending events must not be collected either.
  const int count = ::kevent(kq(), &receipt, 1, out.data(), static_cast<int>(out.size()), nullptr);

  ASSERT_EQ(count, 1) << (count < 0 ? std::strerror(errno) : "");
  EXPECT_EQ(out[0].ident, 2u);
  EXPECT_EQ(out[0].flags & EV_ERROR, EV_ERROR);
  EXPECT_EQ(out[0].data, 0);
  EXPECT_THAT(idents_of(collect(&kZeroTimeout)), UnorderedElementsAre(1u))
      << "the pending event must still be there";
}

TEST_F(KeventTest, ErrorOrReceiptEntryReturnsAtOnceWithoutWaiting) {
  std::array<Event, 8> out{};
  for (const Event& change_with_entry : {delete_user(99), add_user(3, EV_RECEIPT)}) {
    SCOPED_TRACE(change_with_entry.flags & EV_RECEIPT ? "receipt" : "error");
    const auto start = Clock::now();
    const int count = ::kevent(kq(), &change_with_entry, 1, out.data(),
                               static_cast<int>(out.size()), &kLongTimeout);
    EXPECT_LT(Clock::now() - start, kWellBeforeLongTimeout) << "it waited for the timeout";
    ASSERT_EQ(count, 1) << (count < 0 ? std::strerror(errno) : "");
    EXPECT_EQ(out[0].flags & EV_ERROR, EV_ERROR);
  }
}

TEST_F(KeventTest, ReceiptWithoutRoomEndsTheChangelistAfterIt) {
  // FreeBSD: the receipt's change is applied, the call returns 0 and no
  // later change is processed.
  const std::vector<Event> changes = {add_user(1, EV_RECEIPT), add_user(2)};
  EXPECT_EQ(apply(changes), 0) << std::strerror(errno);
  EXPECT_EQ(apply({trigger_user(1)}), 0) << std::strerror(errno);
  EXPECT_EQ(apply({trigger_user(2)}), -1) << "knote 2 must not exist";
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(KeventTest, ChangelistAndEventlistMayBeOneArray) {
  // Each change gives at most one entry, at an index no later than its own.
  std::array<Event, 3> both = {add_user(1, EV_RECEIPT, 0x61), delete_user(99, 0x62),
                               add_user(2, EV_RECEIPT, 0x63)};
  const int count = ::kevent(kq(), both.data(), static_cast<int>(both.size()), both.data(),
                             static_cast<int>(both.size()), &kZeroTimeout);
  ASSERT_EQ(count, 3) << (count < 0 ? std::strerror(errno) : "");
  EXPECT_EQ(both[0].ident, 1u);
  EXPECT_EQ(both[0].data, 0);
  EXPECT_EQ(udata_of(both[0]), 0x61u);
  EXPECT_EQ(both[1].ident, 99u);
  EXPECT_EQ(both[1].flags, EV_DELETE | EV_ERROR);
  EXPECT_EQ(both[1].data, ENOENT);
  EXPECT_EQ(both[2].ident, 2u);
  EXPECT_EQ(both[2].flags, EV_ADD | EV_RECEIPT | EV_ERROR);
  EXPECT_EQ(both[2].data, 0);
}

TEST_F(KeventTest, ChangelistLongerThanOneRequestKeepsEveryRule) {
  // 1 200 changes go in parts (kqfs/call_ioctl.h: 510 records a request);
  // errors and receipts anywhere keep their order and their room.
  std::vector<Event> changes;
  for (uintptr_t ident = 1; ident <= 1200; ++ident)
    changes.push_back(add_user(ident));
  changes[99] = delete_user(5000);    // an error in the first part
  changes[700] = delete_user(5001);   // and one in the second
  changes[1150].flags |= EV_RECEIPT;  // a receipt in the third
  std::vector<Event> entries(8);
  const int count = ::kevent(kq(), changes.data(), static_cast<int>(changes.size()), entries.data(),
                             static_cast<int>(entries.size()), &kLongTimeout);
  ASSERT_EQ(count, 3) << (count < 0 ? std::strerror(errno) : "");
  EXPECT_EQ(entries[0].ident, 5000u);
  EXPECT_EQ(entries[0].data, ENOENT);
  EXPECT_EQ(entries[1].ident, 5001u);
  EXPECT_EQ(entries[2].ident, 1151u);
  EXPECT_EQ(entries[2].data, 0);
  // Every add was applied, the last part's too.
  EXPECT_EQ(apply({trigger_user(1), trigger_user(600), trigger_user(1200)}), 0)
      << std::strerror(errno);
}

TEST_F(KeventTest, FailureWithoutRoomInALaterPartFailsTheCallAndStopsThere) {
  std::vector<Event> changes;
  for (uintptr_t ident = 1; ident <= 1100; ++ident)
    changes.push_back(add_user(ident));
  changes[900] = delete_user(5000);
  errno = 0;
  EXPECT_EQ(
      ::kevent(kq(), changes.data(), static_cast<int>(changes.size()), nullptr, 0, &kZeroTimeout),
      -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(apply({trigger_user(900)}), 0) << "the changes before it stand";
  EXPECT_EQ(apply({trigger_user(902)}), -1) << "the changes after it were not applied";
  EXPECT_EQ(errno, ENOENT);
}

// ---------------------------------------------------------------- waiting

TEST_F(KeventTest, ZeroEventsReturnsZeroAtOnceEvenWithLongTimeout) {
  const auto start = Clock::now();
  EXPECT_EQ(::kevent(kq(), nullptr, 0, nullptr, 0, &kLongTimeout), 0) << std::strerror(errno);
  EXPECT_LT(Clock::now() - start, kWellBeforeLongTimeout) << "it waited for the timeout";

  // Changes are applied and pending events stay pending.
  const std::vector<Event> changes = {add_user(1), trigger_user(1)};
  std::array<Event, 1> unused{};
  EXPECT_EQ(::kevent(kq(), changes.data(), 2, unused.data(), 0, &kLongTimeout), 0)
      << std::strerror(errno);
  EXPECT_THAT(idents_of(collect(&kZeroTimeout)), UnorderedElementsAre(1u));
}

TEST_F(KeventTest, NullTimeoutWaitsUntilAnEvent) {
  const auto start = Clock::now();
  ASSERT_EQ(apply({change(5, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 300)}), 0)
      << std::strerror(errno);
  Event event{};

  const int count = ::kevent(kq(), nullptr, 0, &event, 1, nullptr);

  ASSERT_EQ(count, 1) << (count < 0 ? std::strerror(errno) : "");
  EXPECT_EQ(event.ident, 5u);
  EXPECT_EQ(event.filter, EVFILT_TIMER);
  EXPECT_EQ(event.data, 1);
  EXPECT_GE(Clock::now() - start, 300ms) << "returned before the timer could fire";
}

TEST_F(KeventTest, ZeroTimeoutPolls) {
  ASSERT_EQ(apply({change(5, EVFILT_TIMER, EV_ADD, 0, 60'000), add_user(1)}), 0)
      << std::strerror(errno);
  const auto start = Clock::now();
  EXPECT_THAT(collect(&kZeroTimeout), ::testing::IsEmpty());
  EXPECT_LT(Clock::now() - start, kWellBeforeLongTimeout);

  ASSERT_EQ(apply({trigger_user(1)}), 0) << std::strerror(errno);
  EXPECT_THAT(idents_of(collect(&kZeroTimeout)), UnorderedElementsAre(1u));
}

TEST_F(KeventTest, RelativeTimeoutWaitsThatLongThenReturnsZero) {
  ASSERT_EQ(apply({change(5, EVFILT_TIMER, EV_ADD, 0, 60'000)}), 0) << std::strerror(errno);
  const timespec timeout{0, 400'000'000};
  Event event{};
  const auto start = Clock::now();

  EXPECT_EQ(::kevent(kq(), nullptr, 0, &event, 1, &timeout), 0) << std::strerror(errno);

  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, 400ms);
  EXPECT_LT(waited, kWellBeforeLongTimeout);
}

TEST_F(KeventTest, RelativeTimeoutEndsEarlyWhenAnEventComes) {
  ASSERT_EQ(apply({change(5, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 200)}), 0)
      << std::strerror(errno);
  const auto start = Clock::now();
  const auto events = collect(&kLongTimeout);
  EXPECT_LT(Clock::now() - start, kWellBeforeLongTimeout);
  EXPECT_THAT(idents_of(events), UnorderedElementsAre(5u));
}

TEST_F(KeventTest, TimeoutTooLongToRepresentWaitsForever) {
  // Above INT32_MAX seconds is for ever (FreeBSD); INT32_MAX itself is a
  // deadline some 68 years away. Either way the timer comes first.
  const std::array<timespec, 4> timeouts = {
      timespec{INT32_MAX, 999'999'999}, timespec{static_cast<time_t>(INT32_MAX) + 1, 0},
      timespec{10'000'000'000, 0}, timespec{std::numeric_limits<time_t>::max(), 999'999'999}};
  for (const timespec& timeout : timeouts) {
    SCOPED_TRACE("tv_sec " + std::to_string(timeout.tv_sec));
    ASSERT_EQ(apply({change(5, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 200)}), 0)
        << std::strerror(errno);
    Event event{};
    const auto start = Clock::now();

    const int count = ::kevent(kq(), nullptr, 0, &event, 1, &timeout);

    ASSERT_EQ(count, 1) << (count < 0 ? std::strerror(errno) : "returned without the timer");
    EXPECT_EQ(event.ident, 5u);
    EXPECT_EQ(event.filter, EVFILT_TIMER);
    EXPECT_GE(Clock::now() - start, 150ms) << "returned long before the timer could fire";
  }
}

TEST_F(KeventTest, MalformedTimeoutIsEinval) {
  Event event{};
  for (const timespec timeout : {timespec{0, -1}, timespec{0, 1'000'000'000}, timespec{-1, 0}}) {
    SCOPED_TRACE("tv_sec " + std::to_string(timeout.tv_sec) + " tv_nsec " +
                 std::to_string(timeout.tv_nsec));
    EXPECT_EQ(::kevent(kq(), nullptr, 0, &event, 1, &timeout), -1);
    EXPECT_EQ(errno, EINVAL);
  }
}

TEST_F(KeventTest, NegativeCountsAreEinval) {
  Event event = add_user(1);
  EXPECT_EQ(::kevent(kq(), &event, -1, nullptr, 0, &kZeroTimeout), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(::kevent(kq(), nullptr, 0, &event, -1, &kZeroTimeout), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(KeventTest, SignalInterruptsTheWaitWithEintr) {
  const ScopedSignalAction on_usr1(
      SIGUSR1, [](int) {}, 0);  // no SA_RESTART
  const pthread_t waiter = ::pthread_self();
  std::atomic<bool> returned{false};
  // Signals until the wait returns: one sent before kevent() blocks is lost.
  std::thread signaller([&] {
    while (!returned) {
      ::pthread_kill(waiter, SIGUSR1);
      std::this_thread::sleep_for(100ms);
    }
  });
  Event event{};

  const int count = ::kevent(kq(), nullptr, 0, &event, 1, &kLongTimeout);
  const int error = errno;
  returned = true;
  signaller.join();

  EXPECT_EQ(count, -1);
  EXPECT_EQ(error, EINTR) << std::strerror(error);
}

// ------------------------------------------------------------ descriptors

TEST_F(KeventTest, ClosedDescriptorIsEbadf) {
  const int number = kq_.release();
  ASSERT_EQ(::close(number), 0);
  Event event = add_user(1);
  EXPECT_EQ(::kevent(number, &event, 1, nullptr, 0, &kZeroTimeout), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(::kevent(number, nullptr, 0, &event, 1, &kZeroTimeout), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST_F(KeventTest, ForeignDescriptorIsEbadfAndIsNotWritten) {
  Pipe pipe;
  ASSERT_TRUE(pipe.write_end);
  UniqueFd null_device(::open("/dev/null", O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(null_device);
  TemporaryDirectory directory("kqfs-client-foreign");
  const std::string regular_path = directory.path() + "/regular";
  UniqueFd regular(::open(regular_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(regular);

  for (const auto& [what, fd] :
       {std::pair{"pipe", pipe.write_end.get()}, std::pair{"/dev/null", null_device.get()},
        std::pair{"regular file", regular.get()}}) {
    SCOPED_TRACE(what);
    Event event = add_user(1);
    EXPECT_EQ(::kevent(fd, &event, 1, nullptr, 0, &kZeroTimeout), -1);
    EXPECT_EQ(errno, EBADF);
    EXPECT_EQ(::kevent(fd, nullptr, 0, &event, 1, &kZeroTimeout), -1);
    EXPECT_EQ(errno, EBADF);
  }
  // The change records never reached the files.
  int pipe_bytes = -1;
  ASSERT_EQ(::ioctl(pipe.read_end.get(), FIONREAD, &pipe_bytes), 0);
  EXPECT_EQ(pipe_bytes, 0);
  struct stat regular_status {};
  ASSERT_EQ(::fstat(regular.get(), &regular_status), 0);
  EXPECT_EQ(regular_status.st_size, 0);
}

TEST_F(KeventTest, KqfsFileThatIsNotAKqueueIsEbadf) {
  NamedQueue queue("client-not-a-kqueue");
  ASSERT_TRUE(queue.created()) << std::strerror(errno);
  UniqueFd changes(::open(queue.file("changes.bin").c_str(), O_WRONLY | O_CLOEXEC));
  UniqueFd events(::open(queue.file("events.bin").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(changes && events) << std::strerror(errno);

  Event event = add_user(1);
  EXPECT_EQ(::kevent(changes.get(), &event, 1, nullptr, 0, &kZeroTimeout), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(::kevent(events.get(), nullptr, 0, &event, 1, &kZeroTimeout), -1);
  EXPECT_EQ(errno, EBADF);
  // The change was not written through the changes file either.
  EXPECT_THAT(read_whole_file(queue.file("status")), ::testing::HasSubstr("\nknotes: 0\n"));
}

// ----------------------------------------------------------------- kqueue()

// kevent() with `change` fails with `error`, both with room for an error
// entry and without.
::testing::AssertionResult change_fails_with(int kq, const Event& change, int error) {
  std::array<Event, 2> entries{};
  for (const int room : {2, 0}) {
    errno = 0;
    if (::kevent(kq, &change, 1, room > 0 ? entries.data() : nullptr, room, &kZeroTimeout) != -1) {
      return ::testing::AssertionFailure() << "kevent() succeeded with room for " << room;
    }
    if (errno != error) {
      return ::testing::AssertionFailure()
             << "with room for " << room << ": " << std::strerror(errno);
    }
  }
  return ::testing::AssertionSuccess();
}

// kqueue() in a child whose KQFS_MOUNT is `mount`: it exits with the
// errno, or 255 if kqueue() succeeded.
ChildOutcome kqueue_in_child(const std::string& mount) {
  return run_in_child([&] {
    ::setenv("KQFS_MOUNT", mount.c_str(), 1);
    const int fd = ::kqueue();
    return fd >= 0 ? 255 : errno;
  });
}

TEST(KqueueCallTest, MissingMountIsEnoent) {
  TemporaryDirectory empty("kqfs-client-no-mount");
  const ChildOutcome outcome = kqueue_in_child(empty.path());
  ASSERT_TRUE(outcome.finished) << "kqueue() hung on a directory with no mount";
  EXPECT_EQ(outcome.exit_code, ENOENT) << "255 means kqueue() succeeded";
}

TEST(KqueueCallTest, DeadMountIsEnotconn) {
  Daemon doomed;
  ASSERT_TRUE(doomed.kill_hard());
  const ChildOutcome outcome = kqueue_in_child(doomed.mount_point());
  ASSERT_TRUE(outcome.finished) << "kqueue() hung on a dead mount";
  EXPECT_EQ(outcome.exit_code, ENOTCONN) << "255 means kqueue() succeeded";
}

// kqfs_explain() after kqueue() failed in a child whose KQFS_MOUNT is
// `mount`: exits 0 when it says `expected` and leaves errno alone.
ChildOutcome explained_in_child(const std::string& mount, const std::string& expected) {
  return run_in_child([&] {
    ::setenv("KQFS_MOUNT", mount.c_str(), 1);
    if (::kqueue() >= 0) return 255;
    const int error = errno;
    const std::string text = kqfs_explain(error);
    if (errno != error) return 2;
    if (text != expected) {
      std::fprintf(stderr, "kqfs_explain: \"%s\"\n", text.c_str());
      return 1;
    }
    return 0;
  });
}

TEST(KqueueCallTest, ExplainNamesTheMissingMountAndKqfsd) {
  TemporaryDirectory empty("kqfs-client-explain");
  const ChildOutcome outcome =
      explained_in_child(empty.path(), "no kqfs mount at " + empty.path() + ": start kqfsd " +
                                           empty.path() + ", or set KQFS_MOUNT to its mount point");
  ASSERT_TRUE(outcome.finished);
  EXPECT_EQ(outcome.exit_code, 0) << "1: another text, 2: errno changed, 255: kqueue() succeeded";
}

TEST(KqueueCallTest, ExplainSaysTheDaemonIsGone) {
  Daemon doomed;
  ASSERT_TRUE(doomed.kill_hard());
  const std::string mount = doomed.mount_point();
  const ChildOutcome outcome = explained_in_child(
      mount, "kqfsd of " + mount +
                 " is not running (transport endpoint not connected): unmount with fusermount3 "
                 "-u " +
                 mount + " and start it again");
  ASSERT_TRUE(outcome.finished);
  EXPECT_EQ(outcome.exit_code, 0) << "1: another text, 2: errno changed, 255: kqueue() succeeded";
}

TEST_F(KeventTest, KqueueIsCloseOnExec) {
  const int descriptor_flags = ::fcntl(kq(), F_GETFD);
  ASSERT_GE(descriptor_flags, 0);
  EXPECT_TRUE(descriptor_flags & FD_CLOEXEC);

  // A program run from here does not have it.
  std::string script = "test -e /proc/$$/fd/" + std::to_string(kq());
  std::string shell = "sh", option = "-c";
  char* argv[] = {shell.data(), option.data(), script.data(), nullptr};
  pid_t child = -1;
  ASSERT_EQ(::posix_spawnp(&child, "sh", nullptr, nullptr, argv, environ), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << "the exec'd shell has the kqueue descriptor";
}

// ------------------------------------------------------------ readiness

TEST_F(KeventTest, PollReportsReadableExactlyWhileEventsArePending) {
  pollfd handle{kq(), POLLIN, 0};
  EXPECT_EQ(::poll(&handle, 1, kQuietMs), 0);

  ASSERT_EQ(apply({add_user(1), trigger_user(1)}), 0) << std::strerror(errno);
  handle.revents = 0;
  ASSERT_EQ(::poll(&handle, 1, kPatienceMs), 1);
  EXPECT_TRUE(handle.revents & POLLIN);

  EXPECT_THAT(idents_of(collect(&kZeroTimeout)), UnorderedElementsAre(1u));
  handle.revents = 0;
  EXPECT_EQ(::poll(&handle, 1, kQuietMs), 0) << "readable after the events were collected";
}

TEST_F(KeventTest, SelectReportsReadableExactlyWhileEventsArePending) {
  ASSERT_LT(kq(), FD_SETSIZE);
  auto readable = [this](int ms) {
    fd_set set;
    FD_ZERO(&set);
    FD_SET(kq(), &set);
    timeval limit{ms / 1000, (ms % 1000) * 1000};
    const int ready = ::select(kq() + 1, &set, nullptr, nullptr, &limit);
    return ready == 1 && FD_ISSET(kq(), &set);
  };
  EXPECT_FALSE(readable(kQuietMs));

  ASSERT_EQ(apply({add_user(1), trigger_user(1)}), 0) << std::strerror(errno);
  EXPECT_TRUE(readable(kPatienceMs));

  EXPECT_THAT(idents_of(collect(&kZeroTimeout)), UnorderedElementsAre(1u));
  EXPECT_FALSE(readable(kQuietMs)) << "readable after the events were collected";
}

TEST_F(KeventTest, EpollReportsReadableExactlyWhileEventsArePending) {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  ASSERT_TRUE(epoll);
  epoll_event interest{};
  interest.events = EPOLLIN;
  interest.data.fd = kq();
  ASSERT_EQ(::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, kq(), &interest), 0) << std::strerror(errno);
  epoll_event ready{};
  EXPECT_EQ(::epoll_wait(epoll.get(), &ready, 1, kQuietMs), 0);

  ASSERT_EQ(apply({add_user(1), trigger_user(1)}), 0) << std::strerror(errno);
  ASSERT_EQ(::epoll_wait(epoll.get(), &ready, 1, kPatienceMs), 1);
  EXPECT_EQ(ready.data.fd, kq());
  EXPECT_TRUE(ready.events & EPOLLIN);

  EXPECT_THAT(idents_of(collect(&kZeroTimeout)), UnorderedElementsAre(1u));
  EXPECT_EQ(::epoll_wait(epoll.get(), &ready, 1, kQuietMs), 0)
      << "readable after the events were collected";
}

// ---------------------------------------------------------------- nesting

TEST_F(KeventTest, KqueueWatchedByAnotherKqueueFiresWhenItHasEvents) {
  UniqueFd inner(::kqueue());
  ASSERT_TRUE(inner) << std::strerror(errno);
  ASSERT_EQ(apply({change(inner.get(), EVFILT_READ, EV_ADD, 0, 0, 0x99)}), 0)
      << std::strerror(errno);
  EXPECT_THAT(collect(&kZeroTimeout), ::testing::IsEmpty()) << "the inner queue has no events";

  ASSERT_EQ(apply(inner.get(), {add_user(5), trigger_user(5)}), 0) << std::strerror(errno);
  const auto outer_events = collect(&kPatienceTimeout);

  ASSERT_EQ(outer_events.size(), 1u);
  EXPECT_EQ(outer_events[0].ident, static_cast<uintptr_t>(inner.get()));
  EXPECT_EQ(outer_events[0].filter, EVFILT_READ);
  EXPECT_GE(outer_events[0].data, 1);
  EXPECT_EQ(udata_of(outer_events[0]), 0x99u);
  // The inner queue's event is still there to collect; then neither fires.
  EXPECT_THAT(idents_of(collect(inner.get(), &kZeroTimeout)), UnorderedElementsAre(5u));
  EXPECT_THAT(collect(&kZeroTimeout), ::testing::IsEmpty());
}

TEST_F(KeventTest, KqueueWatchingItselfIsEinval) {
  const Event itself = change(kq(), EVFILT_READ, EV_ADD);
  Event entry{};
  ASSERT_EQ(::kevent(kq(), &itself, 1, &entry, 1, &kZeroTimeout), 1) << std::strerror(errno);
  EXPECT_EQ(entry.ident, static_cast<uintptr_t>(kq()));
  EXPECT_EQ(entry.flags, EV_ADD | EV_ERROR);
  EXPECT_EQ(entry.data, EINVAL);
}

TEST_F(KeventTest, WriteFilterOnAKqueueIsEinval) {
  UniqueFd inner(::kqueue());
  ASSERT_TRUE(inner) << std::strerror(errno);
  const Event writable = change(inner.get(), EVFILT_WRITE, EV_ADD);
  Event entry{};
  ASSERT_EQ(::kevent(kq(), &writable, 1, &entry, 1, &kZeroTimeout), 1) << std::strerror(errno);
  EXPECT_EQ(entry.ident, static_cast<uintptr_t>(inner.get()));
  EXPECT_EQ(entry.filter, EVFILT_WRITE);
  EXPECT_EQ(entry.flags, EV_ADD | EV_ERROR);
  EXPECT_EQ(entry.data, EINVAL);
}

// ---------------------------------------------------- threads and processes

TEST_F(KeventTest, TwoThreadsBlockedOnOneKqueueBothReturn) {
  ASSERT_EQ(apply({add_user(1), add_user(2)}), 0) << std::strerror(errno);
  struct Outcome {
    int count = -1;
    Event event{};
  };
  std::array<Outcome, 2> outcomes;
  std::vector<std::thread> waiters;
  for (Outcome& outcome : outcomes) {
    waiters.emplace_back([this, &outcome] {
      outcome.count = ::kevent(kq(), nullptr, 0, &outcome.event, 1, &kLongTimeout);
    });
  }
  std::this_thread::sleep_for(300ms);  // let both block (not required to pass)

  ASSERT_EQ(apply({trigger_user(1), trigger_user(2)}), 0) << std::strerror(errno);
  for (std::thread& waiter : waiters)
    waiter.join();

  EXPECT_EQ(outcomes[0].count, 1);
  EXPECT_EQ(outcomes[1].count, 1);
  EXPECT_THAT((std::vector<uintptr_t>{outcomes[0].event.ident, outcomes[1].event.ident}),
              UnorderedElementsAre(1u, 2u));
}

TEST_F(KeventTest, CloseWakesAThreadBlockedOnTheKqueue) {
  int count = 0;
  int error = 0;
  Clock::time_point returned_at;
  std::thread waiter([&, number = kq()] {
    Event event{};
    count = ::kevent(number, nullptr, 0, &event, 1, &kLongTimeout);
    error = errno;
    returned_at = Clock::now();
  });
  std::this_thread::sleep_for(300ms);  // let it block (not required to pass)

  const auto closed_at = Clock::now();
  ASSERT_EQ(::close(kq_.release()), 0);
  waiter.join();

  EXPECT_EQ(count, -1);
  EXPECT_EQ(error, EBADF) << std::strerror(error);
  EXPECT_LT(returned_at - closed_at, 1s) << "close() did not wake the waiting thread";
}

TEST_F(KeventTest, ClosingADuplicateLeavesAWaitingThreadWaiting) {
  ASSERT_EQ(apply({add_user(1)}), 0) << std::strerror(errno);
  int count = 0;
  Event event{};
  std::thread waiter(
      [&, number = kq()] { count = ::kevent(number, nullptr, 0, &event, 1, &kPatienceTimeout); });
  std::this_thread::sleep_for(300ms);  // let it block (not required to pass)
  ASSERT_EQ(::close(::dup(kq())), 0);  // wakes the call to check, which goes on
  std::this_thread::sleep_for(std::chrono::milliseconds(kQuietMs));
  ASSERT_EQ(apply({trigger_user(1)}), 0) << std::strerror(errno);
  waiter.join();
  EXPECT_EQ(count, 1);
  EXPECT_EQ(event.ident, 1u);
}

TEST_F(KeventTest, ForkedChildCannotUseTheKqueueAndItsExitKeepsIt) {
  ASSERT_EQ(apply({add_user(1)}), 0) << std::strerror(errno);
  // Exit code: 0 when both calls fail with EBADF; bit 1 set when applying a
  // change did not, bit 2 when collecting did not.
  const ChildOutcome child = run_in_child([this] {
    const Event trigger = trigger_user(1);
    const int applied = ::kevent(kq(), &trigger, 1, nullptr, 0, &kZeroTimeout);
    const bool apply_was_ebadf = applied == -1 && errno == EBADF;
    Event event{};
    const int collected = ::kevent(kq(), nullptr, 0, &event, 1, &kZeroTimeout);
    const bool collect_was_ebadf = collected == -1 && errno == EBADF;
    return (apply_was_ebadf ? 0 : 1) | (collect_was_ebadf ? 0 : 2);
  });
  ASSERT_TRUE(child.finished);
  EXPECT_EQ(child.exit_code, 0) << "1: a change was accepted, 2: events were read";

  // The child's trigger did nothing, and its exit left the queue working.
  EXPECT_THAT(collect(&kZeroTimeout), ::testing::IsEmpty());
  ASSERT_EQ(apply({trigger_user(1)}), 0) << std::strerror(errno);
  EXPECT_THAT(idents_of(collect(&kPatienceTimeout)), UnorderedElementsAre(1u));
}

TEST_F(KeventTest, ForkedChildsKeventIsEbadfEvenWithRoomForEntries) {
  ASSERT_EQ(apply({add_user(1)}), 0) << std::strerror(errno);
  Pipe pipe;
  ASSERT_TRUE(pipe.read_end);
  const int closed = pipe.read_end.release();
  ASSERT_EQ(::close(closed), 0);
  // Exit code: 0 when every call fails with EBADF; else 1 + the index of
  // the first call that did not (an EV_ERROR entry, say).
  const ChildOutcome child = run_in_child([this, closed] {
    const std::array<std::vector<Event>, 3> changelists = {{
        {trigger_user(1)},
        // EBADF for the second change is what the parent would get.
        {trigger_user(1), change(closed, EVFILT_READ, EV_ADD)},
        {change(2, EVFILT_USER, EV_ADD | EV_RECEIPT)},
    }};
    for (size_t i = 0; i < changelists.size(); ++i) {
      std::array<Event, 4> entries{};
      const int count =
          ::kevent(kq(), changelists[i].data(), static_cast<int>(changelists[i].size()),
                   entries.data(), static_cast<int>(entries.size()), &kZeroTimeout);
      if (count != -1 || errno != EBADF) return static_cast<int>(i) + 1;
    }
    return 0;
  });
  ASSERT_TRUE(child.finished);
  EXPECT_EQ(child.exit_code, 0) << "a call in the child did not fail with EBADF";

  // Nothing the child wrote was applied.
  EXPECT_THAT(collect(&kZeroTimeout), ::testing::IsEmpty());
  const Event delete_absent = delete_user(2);
  Event entry{};
  ASSERT_EQ(::kevent(kq(), &delete_absent, 1, &entry, 1, &kZeroTimeout), 1) << std::strerror(errno);
  EXPECT_EQ(entry.data, ENOENT) << "the child's knote 2 was added";
}

TEST_F(KeventTest, ChangeOnAClosedDescriptorIsAnEbadfEntryNotAFailedCall) {
  Pipe pipe;
  ASSERT_TRUE(pipe.read_end);
  const int closed = pipe.read_end.release();
  ASSERT_EQ(::close(closed), 0);
  const std::vector<Event> changes = {change(closed, EVFILT_READ, EV_ADD, 0, 0, 0x77), add_user(1)};
  std::array<Event, 2> entries{};

  const int count = ::kevent(kq(), changes.data(), 2, entries.data(), 2, &kZeroTimeout);

  ASSERT_EQ(count, 1) << (count < 0 ? std::strerror(errno) : "");
  EXPECT_EQ(entries[0].ident, static_cast<uintptr_t>(closed));
  EXPECT_EQ(entries[0].flags, EV_ADD | EV_ERROR);
  EXPECT_EQ(entries[0].data, EBADF);
  EXPECT_EQ(udata_of(entries[0]), 0x77u);
  // Processing went on past it.
  ASSERT_EQ(apply({trigger_user(1)}), 0) << std::strerror(errno);
  EXPECT_THAT(idents_of(collect(&kPatienceTimeout)), UnorderedElementsAre(1u));
}

// An event loop's pattern: a one-shot read knote re-armed after each event,
// from any thread, on a number that may come to name another file.
TEST_F(KeventTest, ReArmedOneshotFollowsTheFileItsNumberNamesNow) {
  Pipe first;
  ASSERT_TRUE(first.ok());
  const int number = first.r();
  const auto rearm = [&](uintptr_t udata) {
    return change(static_cast<uintptr_t>(number), EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, udata);
  };
  ASSERT_EQ(apply({rearm(1)}), 0) << std::strerror(errno);
  ASSERT_EQ(::write(first.w(), "x", 1), 1);
  auto events = collect(&kPatienceTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(udata_of(events[0]), 1u);

  // Re-armed from another thread: still readable, it fires at once.
  int rearmed = -1;
  std::thread([&] { rearmed = apply(kq(), {rearm(2)}); }).join();
  ASSERT_EQ(rearmed, 0) << std::strerror(errno);
  events = collect(&kPatienceTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(udata_of(events[0]), 2u);
  EXPECT_EQ(events[0].data, 1);

  // The number now names another pipe's read end: the first pipe's byte is
  // not this file's.
  Pipe second;
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(::dup2(second.r(), number), number);
  ASSERT_EQ(apply({rearm(3)}), 0) << std::strerror(errno);
  EXPECT_TRUE(collect(&kZeroTimeout).empty());
  ASSERT_EQ(::write(second.w(), "abc", 3), 3);
  events = collect(&kPatienceTimeout);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(udata_of(events[0]), 3u);
  EXPECT_EQ(events[0].data, 3);
}

TEST(KeventDeadDaemonTest, ChangesFailTheCallWithEnotconnEvenWithRoomForEntries) {
  Daemon doomed;
  const std::string clone = doomed.mount_point() + "/kq/clone";
  UniqueFd kq(::open(clone.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));  // closed before unmount
  ASSERT_TRUE(kq) << std::strerror(errno);
  const Event add = add_user(1);
  ASSERT_EQ(::kevent(kq.get(), &add, 1, nullptr, 0, &kZeroTimeout), 0) << std::strerror(errno);
  ASSERT_TRUE(doomed.kill_hard());

  EXPECT_TRUE(change_fails_with(kq.get(), trigger_user(1), ENOTCONN));
}

TEST_F(KeventTest, RemovedQueueFailsChangesWithEbadfEvenWithRoomForEntries) {
  // kq/clone-N, found as the one name the new kqueue adds to kq/.
  const std::filesystem::path queues = default_mount_point() + "/kq";
  auto names = [&queues] {
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(queues))
      found.push_back(entry.path().filename());
    return found;
  };
  const std::vector<std::string> before = names();
  UniqueFd doomed(::kqueue());
  ASSERT_TRUE(doomed) << std::strerror(errno);
  std::vector<std::string> added;
  for (const std::string& name : names()) {
    if (std::find(before.begin(), before.end(), name) == before.end()) added.push_back(name);
  }
  ASSERT_EQ(added.size(), 1u);
  ASSERT_EQ(::rmdir((queues / added[0]).c_str()), 0) << std::strerror(errno);

  EXPECT_TRUE(change_fails_with(doomed.get(), add_user(1), EBADF));
  std::array<Event, 2> entries{};
  EXPECT_EQ(::kevent(doomed.get(), nullptr, 0, entries.data(), 2, &kZeroTimeout), -1);
  EXPECT_EQ(errno, EBADF) << std::strerror(errno);
}

TEST_F(KeventTest, DescriptorIdentsAreTheCallersDescriptors) {
  Pipe pipe;
  ASSERT_TRUE(pipe.read_end);
  const int read_fd = pipe.read_end.get();
  ASSERT_EQ(apply({change(read_fd, EVFILT_READ, EV_ADD)}), 0) << std::strerror(errno);
  EXPECT_THAT(collect(&kZeroTimeout), ::testing::IsEmpty());

  ASSERT_EQ(::write(pipe.write_end.get(), "hello", 5), 5);
  const auto events = collect(&kPatienceTimeout);

  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, static_cast<uintptr_t>(read_fd));
  EXPECT_EQ(events[0].filter, EVFILT_READ);
  EXPECT_EQ(events[0].data, 5);
}

// ------------------------------------------------------------ the header

TEST(StructKeventTest, IsThe32ByteBinaryRecord) {
  EXPECT_EQ(sizeof(struct kevent), 32u);
  EXPECT_EQ(offsetof(struct kevent, ident), 0u);
  EXPECT_EQ(offsetof(struct kevent, filter), 8u);
  EXPECT_EQ(offsetof(struct kevent, flags), 10u);
  EXPECT_EQ(offsetof(struct kevent, fflags), 12u);
  EXPECT_EQ(offsetof(struct kevent, data), 16u);
  EXPECT_EQ(offsetof(struct kevent, udata), 24u);
  EXPECT_EQ(sizeof(Event[3]), 96u) << "an array is records back to back";

  // The bytes: little-endian fields packed in order (docs/design.md#record-formats).
  const Event event = change(0x0102030405060708, EVFILT_USER, EV_ADD | EV_CLEAR, 0x0a0b0c0d, -2,
                             0x1112131415161718);
  const std::array<uint8_t, 32> expected = {
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // ident
      0xf5, 0xff,                                      // filter -11
      0x21, 0x00,                                      // flags
      0x0d, 0x0c, 0x0b, 0x0a,                          // fflags
      0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // data -2
      0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11,  // udata
  };
  std::array<uint8_t, 32> bytes{};
  std::memcpy(bytes.data(), &event, sizeof event);
  EXPECT_EQ(bytes, expected);
}

TEST(StructKeventTest, ArrayIsWrittenAndReadAsIsThroughBinaryFiles) {
  NamedQueue queue("client-binary");
  ASSERT_TRUE(queue.created()) << std::strerror(errno);
  UniqueFd changes(::open(queue.file("changes.bin").c_str(), O_WRONLY | O_CLOEXEC));
  UniqueFd events(::open(queue.file("events.bin").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(changes && events) << std::strerror(errno);
  const std::array<Event, 2> records = {
      change(7, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, 0x1122334455667788),
      change(7, EVFILT_USER, 0, NOTE_TRIGGER, 0, 0x1122334455667788),
  };

  ASSERT_EQ(::write(changes.get(), records.data(), sizeof records),
            static_cast<ssize_t>(sizeof records))
      << std::strerror(errno);
  pollfd handle{events.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&handle, 1, kPatienceMs), 1);
  Event event{};
  ASSERT_EQ(::read(events.get(), &event, sizeof event), static_cast<ssize_t>(sizeof event));

  EXPECT_EQ(event.ident, 7u);
  EXPECT_EQ(event.filter, EVFILT_USER);
  EXPECT_EQ(event.flags, EV_ADD | EV_CLEAR);
  EXPECT_EQ(udata_of(event), 0x1122334455667788u);
  // The queue itself counts the one knote the records registered.
  EXPECT_THAT(read_whole_file(queue.file("status")), ::testing::HasSubstr("\nknotes.user: 1\n"));
}

TEST(EvSetTest, FillsEveryField) {
  Event events[2];
  std::memset(events, 0xab, sizeof events);
  Event* next = events;
  int marker = 0;

  EV_SET(next++, 42, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_SECONDS, -7, &marker);

  EXPECT_EQ(next, events + 1) << "EV_SET must evaluate its first argument once";
  EXPECT_EQ(events[0].ident, 42u);
  EXPECT_EQ(events[0].filter, EVFILT_TIMER);
  EXPECT_EQ(events[0].flags, EV_ADD | EV_ONESHOT);
  EXPECT_EQ(events[0].fflags, static_cast<unsigned>(NOTE_SECONDS));
  EXPECT_EQ(events[0].data, -7);
  EXPECT_EQ(events[0].udata, &marker);
  // Nothing past the record was touched.
  const auto* after = reinterpret_cast<const unsigned char*>(&events[1]);
  EXPECT_EQ(after[0], 0xab);
}

}  // namespace
}  // namespace kqfs::client_test
