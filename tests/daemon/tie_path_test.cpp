// Queues tied to a process (kq/NAME/tied-to): removed as by rmdir when it
// exits, untied, tied again, refused; real child processes, without a
// mount.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/daemon/fixture.hpp"

namespace kqfsd::testing {
namespace {

// A child process that waits to be killed; reaped by kill_and_reap().
class Child {
 public:
  Child() : pid_(::fork()) {
    if (pid_ == 0) {
      for (;;)
        ::pause();
    }
  }
  ~Child() { kill_and_reap(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  void kill_and_reap() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  pid_t pid_;
};

class TiePathTest : public DaemonCore {
 protected:
  // Writes `value` to tied-to of queue `id` through a handle of its own:
  // 0 or the errno.
  int tie(uint64_t id, const std::string& value) {
    const uint64_t handle = open(id, FileKind::tied_to);
    auto answer = std::make_shared<Answer>();
    FakeReply reply(answer);
    filesystem_.ties().write(me(), handle, value, reply);
    close(handle);
    EXPECT_EQ(answer->answers, 1);
    if (answer->written) {
      EXPECT_EQ(*answer->written, value.size());
    }
    return answer->error.value_or(0);
  }

  std::string read_tied_to(uint64_t id, off_t offset = 0) {
    const uint64_t handle = open(id, FileKind::tied_to);
    auto answer = std::make_shared<Answer>();
    FakeReply reply(answer);
    filesystem_.ties().read(me(), handle, 4096, offset, reply);
    close(handle);
    return answer->data.value_or("(error " + std::to_string(answer->error.value_or(0)) + ")");
  }

  bool gone(uint64_t id) const { return queue(id) == nullptr; }

  // Long enough for the loop to see an exit that has happened (a reaped
  // child's pidfd is readable before waitpid returns).
  void run_loop_briefly() {
    for (int i = 0; i < 4; ++i)
      loop_.run_once(50);
  }
};

TEST_F(TiePathTest, TheQueueGoesWhenItsProcessIsKilledAndItsBlockedReaderGetsEndOfFile) {
  Child child;
  const uint64_t id = make_queue("q");
  const auto kept = queue(id);
  ASSERT_EQ(tie(id, std::to_string(child.pid()) + "\n"), 0) << status_field(id, "last-error");
  EXPECT_EQ(read_tied_to(id), std::to_string(child.pid()) + "\n");
  EXPECT_EQ(status_field(id, "tied-to"), std::to_string(child.pid()));
  const uint64_t changes = open(id, changes_file(kqfs::codec::Format::text));
  ASSERT_FALSE(write(changes, "1 timer add 0 60000\n")->error);
  const uint64_t events = open(id, events_file(kqfs::codec::Format::text));
  auto parked = read(events);
  EXPECT_FALSE(parked->answered());
  const size_t descriptors = open_descriptors();

  child.kill_and_reap();
  ASSERT_TRUE(run_until([&] { return gone(id); }));
  EXPECT_TRUE(kept->removed());
  EXPECT_EQ(parked->answers, 1);
  EXPECT_EQ(parked->data, "");  // end of file, as rmdir gives
  EXPECT_EQ(write(changes, "2 user add\n")->error, ENOENT);
  EXPECT_EQ(read(events)->data, "");
  // The tie's pidfd, the queue's epoll instance and timerfd are released.
  EXPECT_LT(open_descriptors(), descriptors);
  close(events);
  close(changes);
}

TEST_F(TiePathTest, UntyingKeepsTheQueueWhenTheProcessExits) {
  for (const std::string untie : {"none\n", "0\n", " none "}) {
    Child child;
    const uint64_t id = make_queue("q");
    ASSERT_EQ(tie(id, std::to_string(child.pid())), 0);
    const size_t descriptors = open_descriptors();
    ASSERT_EQ(tie(id, untie), 0);
    EXPECT_EQ(open_descriptors(), descriptors - 1);  // the pidfd went
    EXPECT_EQ(read_tied_to(id), "none\n");
    EXPECT_EQ(status_field(id, "tied-to"), "none");
    child.kill_and_reap();
    run_loop_briefly();
    EXPECT_FALSE(gone(id)) << "untied with '" << untie << "'";
    EXPECT_EQ(remove_queue("q"), 0);
  }
}

TEST_F(TiePathTest, ANewTieReplacesTheOld) {
  Child first;
  Child second;
  const uint64_t id = make_queue("q");
  ASSERT_EQ(tie(id, std::to_string(first.pid())), 0);
  const size_t descriptors = open_descriptors();
  ASSERT_EQ(tie(id, std::to_string(second.pid())), 0);
  EXPECT_EQ(open_descriptors(), descriptors);  // one pidfd per queue
  EXPECT_EQ(read_tied_to(id), std::to_string(second.pid()) + "\n");
  first.kill_and_reap();
  run_loop_briefly();
  EXPECT_FALSE(gone(id));
  second.kill_and_reap();
  EXPECT_TRUE(run_until([&] { return gone(id); }));
}

TEST_F(TiePathTest, RmdirOfATiedQueueDropsTheTieAndTheExitLaterDoesNothing) {
  Child child;
  ASSERT_TRUE(filesystem_.registry().caller_of(me()));  // the writer's pidfd, kept
  const size_t descriptors = open_descriptors();
  const uint64_t id = make_queue("q");
  ASSERT_EQ(tie(id, std::to_string(child.pid())), 0);
  EXPECT_EQ(remove_queue("q"), 0);
  // The queue's kernel objects and the tie's pidfd are gone with it.
  EXPECT_EQ(open_descriptors(), descriptors);
  child.kill_and_reap();
  run_loop_briefly();
  // A new queue of the same name is not taken for the old one.
  const uint64_t again = make_queue("q");
  run_loop_briefly();
  EXPECT_FALSE(gone(again));
}

TEST_F(TiePathTest, ATieToTheDaemonItselfHoldsUntilItStops) {
  const uint64_t id = make_queue("q");
  const auto kept = queue(id);
  ASSERT_EQ(tie(id, std::to_string(::getpid())), 0);
  run_loop_briefly();
  EXPECT_FALSE(gone(id));
  const uint64_t events = open(id, events_file(kqfs::codec::Format::text));
  auto parked = read(events);
  filesystem_.stop();  // as at unmount
  EXPECT_TRUE(kept->removed());
  EXPECT_EQ(parked->data, "");
  close(events);
}

TEST_F(TiePathTest, MalformedValuesAreEINVALWithAReason) {
  const uint64_t id = make_queue("q");
  for (const std::string bad : {"abc", "", "\n", "-5", "+5", "0x10", "1 2", "12\n34\n", "none!",
                                "99999999999999999999999"}) {
    EXPECT_EQ(tie(id, bad), EINVAL) << "'" << bad << "'";
  }
  EXPECT_EQ(status_field(id, "last-error"),
            "tied-to: Invalid argument (\"99999999999999999999999\" is not a process id, 0 or "
            "none)");
  EXPECT_EQ(read_tied_to(id), "none\n");
}

TEST_F(TiePathTest, AProcessThatDoesNotExistOrHasExitedIsESRCH) {
  const uint64_t id = make_queue("q");
  EXPECT_EQ(tie(id, "4294967296"), ESRCH);
  EXPECT_EQ(tie(id, "2147483647"), ESRCH);
  EXPECT_EQ(status_field(id, "last-error"), "tied-to 2147483647: No such process");
  // A zombie has exited: tying to it would remove the queue at once.
  const pid_t zombie = ::fork();
  if (zombie == 0) ::_exit(0);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, zombie, &info, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(tie(id, std::to_string(zombie)), ESRCH);
  EXPECT_EQ(status_field(id, "last-error"), "tied-to " + std::to_string(zombie) +
                                                ": No such process (process " +
                                                std::to_string(zombie) + " has exited)");
  ::waitpid(zombie, nullptr, 0);
  EXPECT_FALSE(gone(id));
  EXPECT_EQ(read_tied_to(id), "none\n");
}

TEST_F(TiePathTest, ReadingHonoursTheOffsetAndARemovedQueueReadsEndOfFile) {
  const uint64_t id = make_queue("q");
  ASSERT_EQ(tie(id, std::to_string(::getpid())), 0);
  const std::string pid = std::to_string(::getpid());
  EXPECT_EQ(read_tied_to(id, 1), pid.substr(1) + "\n");
  EXPECT_EQ(read_tied_to(id, 100), "");
  const uint64_t handle = open(id, FileKind::tied_to);
  EXPECT_EQ(remove_queue("q"), 0);
  auto answer = std::make_shared<Answer>();
  FakeReply reply(answer);
  filesystem_.ties().read(me(), handle, 4096, 0, reply);
  EXPECT_EQ(answer->data, "");
  auto written = std::make_shared<Answer>();
  FakeReply write_reply(written);
  filesystem_.ties().write(me(), handle, pid, write_reply);
  EXPECT_EQ(written->error, ENOENT);
  close(handle);
}

}  // namespace
}  // namespace kqfsd::testing
