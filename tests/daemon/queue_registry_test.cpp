// The queue registry: queues made and removed, nesting, the sweep and a
// client process's exit, without a mount.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "daemon/processes.hpp"
#include "daemon/queue_registry.hpp"
#include "tests/daemon/fixture.hpp"

namespace kqfsd::testing {
namespace {

using QueueRegistryTest = DaemonCore;

TEST_F(QueueRegistryTest, MkdirMakesAQueueListedInTheTree) {
  const uint64_t id = make_queue("q");
  ASSERT_NE(id, 0u);
  ASSERT_NE(queue(id), nullptr);
  EXPECT_EQ(queue(id)->name, "q");
  EXPECT_EQ(queue(id)->uid, ::getuid());
  EXPECT_FALSE(queue(id)->anonymous);

  auto answer = std::make_shared<Answer>();
  FakeReply reply(answer);
  filesystem_.tree_operations().readdir(kQueuesInode, 4096, 0, reply);
  std::vector<std::string> names;
  for (const DirectoryEntry& entry : answer->directory)
    names.push_back(entry.name);
  EXPECT_EQ(names, (std::vector<std::string>{".", "..", "clone", "q"}));
  EXPECT_EQ(status_field(id, "name"), "q");
}

TEST_F(QueueRegistryTest, TakenOrBadNamesAreRefused) {
  ASSERT_NE(make_queue("q"), 0u);
  int error = 0;
  EXPECT_EQ(make_queue("q", &error), 0u);
  EXPECT_EQ(error, EEXIST);
  EXPECT_EQ(make_queue("clone", &error), 0u);
  EXPECT_EQ(error, EEXIST);
  EXPECT_EQ(make_queue("no/slash", &error), 0u);
  EXPECT_EQ(error, EINVAL);
}

TEST_F(QueueRegistryTest, TheMountsLimitOfQueuesIsENOSPC) {
  for (size_t i = 0; i < options_.max_queues; ++i)
    ASSERT_NE(make_queue("q" + std::to_string(i)), 0u);
  int error = 0;
  EXPECT_EQ(make_queue("one-more", &error), 0u);
  EXPECT_EQ(error, ENOSPC);
  // Room again once one goes.
  EXPECT_EQ(remove_queue("q0"), 0);
  EXPECT_NE(make_queue("one-more"), 0u);
}

TEST_F(QueueRegistryTest, RmdirRemovesTheQueueAndLeavesOpenHandlesAHusk) {
  const uint64_t id = make_queue("q");
  const uint64_t changes = open(id, changes_file(kqfs::codec::Format::text));
  const auto kept = queue(id);
  EXPECT_EQ(remove_queue("q"), 0);
  EXPECT_EQ(queue(id), nullptr);
  EXPECT_TRUE(kept->removed());
  EXPECT_EQ(write(changes, "1 user add\n")->error, ENOENT);
  EXPECT_EQ(remove_queue("q"), ENOENT);
  close(changes);
}

TEST_F(QueueRegistryTest, AKqueueHandleMakesAnAnonymousQueueThatGoesWithIt) {
  const uint64_t handle = open(0, FileKind::clone);
  ASSERT_EQ(filesystem_.tree().size(), 1u);
  const auto made = filesystem_.tree().by_name().begin()->second;
  EXPECT_TRUE(made->anonymous);
  EXPECT_EQ(made->open_handles, 1u);
  close(handle);
  EXPECT_EQ(filesystem_.tree().size(), 0u);
  EXPECT_TRUE(made->removed());
}

TEST_F(QueueRegistryTest, NestingAnEventsFileOrHandleStandsForItsQueue) {
  const uint64_t id = make_queue("q");
  QueueRegistry& registry = filesystem_.registry();
  EXPECT_EQ(registry.queue_of(file_inode(id, events_file(kqfs::codec::Format::text))),
            queue(id)->engine.get());
  EXPECT_EQ(registry.queue_of(file_inode(id, events_file(kqfs::codec::Format::binary))),
            queue(id)->engine.get());
  EXPECT_EQ(registry.queue_of(file_inode(id, changes_file(kqfs::codec::Format::text))), nullptr);
  EXPECT_EQ(registry.queue_of(file_inode(id, FileKind::status)), nullptr);
  EXPECT_EQ(registry.queue_of(directory_inode(id)), nullptr);
  remove_queue("q");
  EXPECT_EQ(registry.queue_of(file_inode(id, events_file(kqfs::codec::Format::text))), nullptr);
}

TEST_F(QueueRegistryTest, TheSweepDropsKnotesOfClosedDescriptors) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const uint64_t id = make_queue("q");
  const uint64_t changes = open(id, changes_file(kqfs::codec::Format::text));
  auto written = write(changes, std::to_string(fds[0]) + " read add\n");
  ASSERT_FALSE(written->error) << status_field(id, "last-error");
  EXPECT_EQ(queue(id)->engine->knote_count(), 1u);
  ::close(fds[0]);
  ::close(fds[1]);
  filesystem_.registry().sweep_all();
  EXPECT_EQ(queue(id)->engine->knote_count(), 0u);
  close(changes);
}

// The registration kept after a knote's delete (READ on the write end,
// which registers and never fires) goes with the process too.
TEST_F(QueueRegistryTest, AProcessExitDropsItsDescriptorKnotesAndTheRegistrationsKeptForThem) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  ::close(fds[0]);  // the child's copy is the one registered
  const uint64_t id = make_queue("q");
  const uint64_t changes = open(id, changes_file(kqfs::codec::Format::text));
  const size_t before = open_descriptors();
  const Requester writer{child, ::getuid(), ::getgid()};
  const std::string write_end = std::to_string(fds[1]);
  auto written = write(changes,
                       std::to_string(fds[0]) + " read add\n" + write_end + " read add\n" +
                           write_end + " read delete\n",
                       &writer);
  ASSERT_FALSE(written->error) << status_field(id, "last-error");
  EXPECT_EQ(queue(id)->engine->knote_count(), 1u);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(run_until([&] { return queue(id)->engine->knote_count() == 0; }));
  // The child's pidfd and both epoll instances are gone.
  EXPECT_TRUE(run_until([&] { return open_descriptors() == before; }));
  ::close(fds[1]);
  close(changes);
}

TEST_F(QueueRegistryTest, AnyThreadOfAKnownProcessWritesAsThatProcess) {
  QueueRegistry& registry = filesystem_.registry();
  auto main_thread = registry.caller_of(me());
  ASSERT_TRUE(main_thread);
  auto again = registry.caller_of(me());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get(), main_thread->get());

  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  std::thread other([&] {
    tid = ::gettid();
    while (!done)
      std::this_thread::yield();
  });
  while (tid == 0)
    std::this_thread::yield();
  auto of_other = registry.caller_of(Requester{tid, ::getuid(), ::getgid()});
  auto remembered = registry.caller_of(Requester{tid, ::getuid(), ::getgid()});
  done = true;
  other.join();
  ASSERT_TRUE(of_other);
  EXPECT_EQ(of_other->get(), main_thread->get());
  EXPECT_EQ((*of_other)->pid(), ::getpid());
  ASSERT_TRUE(remembered);
  EXPECT_EQ(remembered->get(), main_thread->get());

  // A thread that is gone is no one's.
  EXPECT_FALSE(registry.caller_of(Requester{tid, ::getuid(), ::getgid()}));
}

}  // namespace
}  // namespace kqfsd::testing
