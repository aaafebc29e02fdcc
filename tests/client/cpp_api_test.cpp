// The C++ API of libkqfs-client (kqfs/client.hpp) through a live kqfsd:
// a Queue owns one kqueue descriptor, changes are built by name, waits take
// std::chrono timeouts and failures are std::system_error.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include "kqfs/client.hpp"
#include "kqfs/unique_fd.hpp"
#include "tests/client/mount.hpp"

namespace kqfs::client_test {
namespace {

using ::kqfs::client::Event;
using ::kqfs::client::Queue;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using Clock = std::chrono::steady_clock;

constexpr auto kNoWait = std::chrono::nanoseconds(0);

std::vector<uintptr_t> idents_of(std::span<const Event> events) {
  std::vector<uintptr_t> idents;
  for (const Event& event : events)
    idents.push_back(event.ident);
  return idents;
}

// The errno a std::system_error thrown by `call` carries, or 0 if none.
template <typename Call>
int system_error_of(Call&& call) {
  try {
    call();
  } catch (const std::system_error& error) {
    return error.code().value();
  }
  return 0;
}

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) >= 0;
}

TEST(QueueTest, ConstructionThrowsWhenTheMountIsMissing) {
  TemporaryDirectory empty("kqfs-client-no-mount");
  // Exit code: the errno of the std::system_error, 254 for another
  // exception, 255 when the constructor did not throw.
  const ChildOutcome outcome = run_in_child([&] {
    ::setenv("KQFS_MOUNT", empty.path().c_str(), 1);
    try {
      Queue queue;
    } catch (const std::system_error& error) {
      return error.code().value();
    } catch (...) {
      return 254;
    }
    return 255;
  });
  ASSERT_TRUE(outcome.finished) << "Queue() hung on a directory with no mount";
  EXPECT_EQ(outcome.exit_code, ENOENT);
}

TEST(QueueTest, BuildersMakeTheChangesTheyName) {
  const Event timer = client::timer(3, std::chrono::milliseconds(250), EV_ONESHOT, 9);
  EXPECT_EQ(timer.ident, 3u);
  EXPECT_EQ(timer.filter, EVFILT_TIMER);
  EXPECT_EQ(timer.flags, EV_ADD | EV_ONESHOT);
  EXPECT_EQ(timer.fflags, static_cast<unsigned>(NOTE_NSECONDS));
  EXPECT_EQ(timer.data, 250'000'000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(timer.udata), 9u);

  const Event user = client::user(4);
  EXPECT_EQ(user.filter, EVFILT_USER);
  EXPECT_EQ(user.flags, EV_ADD | EV_CLEAR);

  const Event trigger = client::trigger(4, NOTE_FFOR | 0x5);
  EXPECT_EQ(trigger.ident, 4u);
  EXPECT_EQ(trigger.filter, EVFILT_USER);
  EXPECT_EQ(trigger.flags, EV_KEEPUDATA);
  EXPECT_EQ(trigger.fflags, static_cast<unsigned>(NOTE_TRIGGER | NOTE_FFOR | 0x5));

  const Event readable = client::readable(7, EV_CLEAR);
  EXPECT_EQ(readable.ident, 7u);
  EXPECT_EQ(readable.filter, EVFILT_READ);
  EXPECT_EQ(readable.flags, EV_ADD | EV_CLEAR);

  const Event removal = client::remove(timer);
  EXPECT_EQ(removal.ident, 3u);
  EXPECT_EQ(removal.filter, EVFILT_TIMER);
  EXPECT_EQ(removal.flags, EV_DELETE);
}

class QueueOnMountTest : public ::testing::Test {
 protected:
  std::vector<Event> wait_for(Queue& queue, std::chrono::nanoseconds timeout) {
    std::array<Event, 8> out{};
    const auto events = queue.wait(out, timeout);
    return {events.begin(), events.end()};
  }

  Queue queue_;
};

TEST_F(QueueOnMountTest, TriggerKeepsTheUdataTheUserEventWasAddedWith) {
  queue_.apply(client::user(1, EV_CLEAR, 0x41));
  queue_.apply(client::trigger(1));

  const auto events = wait_for(queue_, kPatience);

  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(events[0].udata), 0x41u);
}

TEST_F(QueueOnMountTest, WaitReturnsTheEventsThatCame) {
  queue_.apply(client::user(1));
  queue_.apply(client::trigger(1, NOTE_FFOR | 0x5));

  const auto events = wait_for(queue_, kPatience);

  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, 1u);
  EXPECT_EQ(events[0].filter, EVFILT_USER);
  EXPECT_EQ(events[0].fflags & NOTE_FFLAGSMASK, 0x5u);
}

TEST_F(QueueOnMountTest, TimerBuilderFiresAfterItsPeriod) {
  const auto start = Clock::now();
  queue_.apply(client::timer(8, std::chrono::milliseconds(200), EV_ONESHOT, 0x41));

  std::array<Event, 4> out{};
  const auto events = queue_.wait(out);  // no timeout: until the timer fires

  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, 8u);
  EXPECT_EQ(events[0].filter, EVFILT_TIMER);
  EXPECT_EQ(events[0].data, 1);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(events[0].udata), 0x41u);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200));
}

TEST_F(QueueOnMountTest, ReadableBuilderWatchesTheCallersDescriptor) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  queue_.apply(client::readable(read_end.get()));

  ASSERT_EQ(::write(write_end.get(), "abc", 3), 3);
  const auto events = wait_for(queue_, kPatience);

  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, static_cast<uintptr_t>(read_end.get()));
  EXPECT_EQ(events[0].data, 3);
}

TEST_F(QueueOnMountTest, WaitReturnsEmptyOnTimeout) {
  queue_.apply(client::user(1));
  const auto start = Clock::now();

  EXPECT_THAT(wait_for(queue_, std::chrono::milliseconds(300)), IsEmpty());

  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
  EXPECT_THAT(wait_for(queue_, kNoWait), IsEmpty());
}

TEST_F(QueueOnMountTest, ApplyThrowsForAFailingChangeAndAppliesNothingAfterIt) {
  const std::array<Event, 3> changes = {client::user(1), client::remove(client::user(99)),
                                        client::user(2)};

  EXPECT_EQ(system_error_of([&] { queue_.apply(changes); }), ENOENT);

  // The change before the failure holds, the one after it was never made.
  queue_.apply(client::trigger(1));
  EXPECT_THAT(idents_of(wait_for(queue_, kPatience)), ElementsAre(1u));
  EXPECT_EQ(system_error_of([&] { queue_.apply(client::trigger(2)); }), ENOENT);
}

TEST_F(QueueOnMountTest, RemoveDeletesTheKnote) {
  const Event knote = client::user(6);
  queue_.apply(knote);
  queue_.apply(client::remove(knote));
  EXPECT_EQ(system_error_of([&] { queue_.apply(client::trigger(6)); }), ENOENT);
}

TEST_F(QueueOnMountTest, DescriptorIsPollable) {
  pollfd handle{queue_.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&handle, 1, 100), 0);
  queue_.apply(client::user(1));
  queue_.apply(client::trigger(1));
  handle.revents = 0;
  ASSERT_EQ(::poll(&handle, 1, 10'000), 1);
  EXPECT_TRUE(handle.revents & POLLIN);
}

// Some open file at descriptor number `fd` (a pipe end): if anything closed
// `fd` again, the placeholder would be gone.
UniqueFd occupy(int fd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  // The lowest free number may well be `fd` itself.
  if (read_end.get() == fd) return read_end;
  if (write_end.get() == fd) return write_end;
  if (::dup3(read_end.get(), fd, O_CLOEXEC) != fd) return {};
  return UniqueFd(fd);
}

TEST(QueueMoveTest, MoveConstructionHandsOverTheDescriptorClosedOnce) {
  std::optional<Queue> original;
  original.emplace();
  const int fd = original->fd();
  ASSERT_GE(fd, 0);

  std::optional<Queue> moved;
  moved.emplace(std::move(*original));
  EXPECT_EQ(original->fd(), -1);
  EXPECT_EQ(moved->fd(), fd);

  // The moved-to queue works; the moved-from one closes nothing.
  moved->apply(client::user(1));
  moved.reset();
  EXPECT_FALSE(is_open(fd)) << "the new owner did not close the kqueue";
  UniqueFd placeholder = occupy(fd);
  ASSERT_TRUE(placeholder);
  original.reset();
  EXPECT_TRUE(is_open(fd)) << "the moved-from queue closed a descriptor it no longer owned";
}

TEST(QueueMoveTest, MoveAssignmentClosesTheOldQueueAndHandsOverTheNewOne) {
  std::optional<Queue> source;
  source.emplace();
  Queue target;
  const int source_fd = source->fd();
  const int target_fd = target.fd();
  ASSERT_NE(source_fd, target_fd);

  target = std::move(*source);

  EXPECT_FALSE(is_open(target_fd)) << "the queue assigned over was not closed";
  EXPECT_EQ(target.fd(), source_fd);
  EXPECT_EQ(source->fd(), -1);
  UniqueFd placeholder = occupy(target_fd);
  ASSERT_TRUE(placeholder);
  source.reset();
  target.apply(client::user(1));
  target.apply(client::trigger(1));
  std::array<Event, 2> out{};
  EXPECT_EQ(target.wait(out, kPatience).size(), 1u);
  EXPECT_TRUE(is_open(target_fd)) << "a queue closed a descriptor it no longer owned";

  // Assigning a queue to itself keeps it.
  Queue& same = target;
  target = std::move(same);
  EXPECT_EQ(target.fd(), source_fd);
  EXPECT_TRUE(is_open(source_fd));
}

}  // namespace
}  // namespace kqfs::client_test
