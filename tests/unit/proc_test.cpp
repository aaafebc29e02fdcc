// EVFILT_PROC on real processes (docs/semantics.md#evfilt_proc, FreeBSD): NOTE_EXIT with
// the wait(2) status for children and non-children, NOTE_FORK, NOTE_EXEC,
// NOTE_TRACK with NOTE_CHILD announcements, and knote lifetime at exit.
// NOTE_FORK/EXEC/TRACK come from the kernel's process-events connector
// (root here, as in CI). Without CAP_SYS_PTRACE, exits are still watched;
// an exit status /proc hides is ENOTSUP, with the reason.
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kqfs/linux/ptrace_access.hpp"
#include "kqfs/linux/resolver.hpp"
#include "test_support.hpp"

namespace kqfs::test {
namespace {

// How long a process made by a test waits for the test before it gives up
// and exits by itself, so that a failed test leaves no process behind.
constexpr int kChildPatienceMs = 10000;

// A blocking pipe: the test passes bytes to processes it made, or they
// report pids back. O_CLOEXEC: an exec'd program does not keep it.
struct Channel {
  UniqueFd read_end;
  UniqueFd write_end;
  Channel() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      read_end.reset(fds[0]);
      write_end.reset(fds[1]);
    }
  }
  // Lets `count` waiters through.
  void pass(int count = 1) {
    for (int i = 0; i < count; ++i) {
      [[maybe_unused]] ssize_t written = ::write(write_end.get(), "x", 1);
    }
  }
  // In a process the test made: waits for a pass (or gives up).
  void await() const {
    pollfd p{read_end.get(), POLLIN, 0};
    char byte;
    if (::poll(&p, 1, kChildPatienceMs) == 1) {
      [[maybe_unused]] ssize_t taken = ::read(read_end.get(), &byte, 1);
    }
  }
  void send_pid(pid_t pid) const {
    [[maybe_unused]] ssize_t written = ::write(write_end.get(), &pid, sizeof pid);
  }
  // A pid sent by another process, or 0.
  pid_t receive_pid() const {
    pollfd p{read_end.get(), POLLIN, 0};
    pid_t pid = 0;
    if (::poll(&p, 1, static_cast<int>(kPatience.count())) != 1 ||
        ::read(read_end.get(), &pid, sizeof pid) != sizeof pid) {
      return 0;
    }
    return pid;
  }
};

// A forked child running `body`, which returns its exit code. The child
// is killed and reaped at the end of the test if it was not reaped before.
class Child {
 public:
  explicit Child(const std::function<int()>& body) : pid_(::fork()) {
    if (pid_ == 0) ::_exit(body());
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  uint64_t ident() const { return static_cast<uint64_t>(pid_); }

  // Waits until it has exited, leaving it a zombie (not reaped).
  bool wait_exited() const {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) == 0;
  }
  // Reaps it; its wait(2) status.
  int reap() {
    int status = -1;
    if (::waitpid(pid_, &status, 0) == pid_) reaped_ = true;
    return status;
  }

 private:
  pid_t pid_;
  bool reaped_ = false;
};

// A child that, once `gate` lets it go, forks a child that exits at once,
// then waits to be let go again.
Child forks_when_let_go(const Channel& gate) {
  return Child([&gate] {
    gate.await();
    if (::fork() == 0) ::_exit(0);
    gate.await();
    return 0;
  });
}

// A child that exits with `status` once `gate` lets it go.
Child exits_when_let_go(const Channel& gate, int status) {
  return Child([&gate, status] {
    gate.await();
    return status;
  });
}

int watch(Kqueue& kq, pid_t pid, uint32_t notes, uint16_t extra = 0, uint64_t udata = 0) {
  return kq.apply(change(static_cast<uint64_t>(pid), EVFILT_PROC, EV_ADD | extra, notes, 0, udata));
}

// The next EVFILT_PROC event about `pid` (others are dropped).
std::optional<Kevent> next_about(Kqueue& kq, pid_t pid) {
  return wait_for(kq, [&](const Kevent& ev) {
    return ev.filter == EVFILT_PROC && ev.ident == static_cast<uint64_t>(pid);
  });
}

// Collects until `done` holds for what was collected, or patience runs out.
std::vector<Kevent> gather(Kqueue& kq,
                           const std::function<bool(const std::vector<Kevent>&)>& done) {
  std::vector<Kevent> all;
  wait_for(kq, [&](const Kevent& ev) {
    all.push_back(ev);
    return done(all);
  });
  return all;
}

const Kevent* find(const std::vector<Kevent>& events, pid_t pid, uint32_t fflags) {
  for (const Kevent& ev : events) {
    if (ev.ident == static_cast<uint64_t>(pid) && (ev.fflags & fflags) == fflags) return &ev;
  }
  return nullptr;
}

std::string describe(const std::vector<Kevent>& events) {
  std::ostringstream text;
  for (const Kevent& ev : events) {
    text << "{ident " << ev.ident << " fflags 0x" << std::hex << ev.fflags << " flags 0x"
         << ev.flags << std::dec << " data " << ev.data << "} ";
  }
  return text.str();
}

// In a child: forks a process that waits for `gate`, then exits with `code`.
pid_t fork_waiting(const Channel& gate, int code) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    gate.await();
    ::_exit(code);
  }
  return pid;
}

// ------------------------------------------------------------ NOTE_EXIT

TEST(ProcExit, ChildExitGivesItsWaitStatusWithEofAndTheKnoteGoes) {
  Kqueue kq;
  Channel go;
  Child child = exits_when_let_go(go, 3);
  ASSERT_EQ(watch(kq, child.pid(), NOTE_EXIT, 0, 77), 0);
  go.pass();

  auto ev = next_about(kq, child.pid());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, NOTE_EXIT);
  EXPECT_TRUE(ev->flags & EV_EOF);
  EXPECT_EQ(ev->udata, 77u);
  const int status = static_cast<int>(ev->data);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_EQ(child.reap(), status);  // the status wait(2) gives
}

TEST(ProcExit, ExitBySignalGivesTheSignalInTheStatus) {
  Kqueue kq;
  Channel never;
  Child child = exits_when_let_go(never, 0);
  ASSERT_EQ(watch(kq, child.pid(), NOTE_EXIT), 0);
  ASSERT_EQ(::kill(child.pid(), SIGKILL), 0);

  auto ev = next_about(kq, child.pid());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, NOTE_EXIT);
  const int status = static_cast<int>(ev->data);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(child.reap(), status);
}

// A grandchild, orphaned when its parent exits: not a child of this process.
TEST(ProcExit, NonChildExitGivesItsWaitStatus) {
  Kqueue kq;
  Channel go;
  Channel report;
  Child middle([&] {
    report.send_pid(fork_waiting(go, 5));
    return 0;
  });
  middle.reap();
  const pid_t grandchild = report.receive_pid();
  ASSERT_GT(grandchild, 0);
  ASSERT_EQ(::waitpid(grandchild, nullptr, WNOHANG), -1);
  ASSERT_EQ(errno, ECHILD);  // not ours to wait for

  ASSERT_EQ(watch(kq, grandchild, NOTE_EXIT), 0);
  go.pass();
  auto ev = next_about(kq, grandchild);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, NOTE_EXIT);
  EXPECT_TRUE(ev->flags & EV_EOF);
  const int status = static_cast<int>(ev->data);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 5);
  EXPECT_EQ(kq.knote_count(), 0u);
}

// FreeBSD finds zombies and fires NOTE_EXIT for them at once.
TEST(ProcExit, ZombieFiresAtRegistrationWithItsStatus) {
  Kqueue kq;
  Child child([] { return 7; });
  ASSERT_TRUE(child.wait_exited());

  ASSERT_EQ(watch(kq, child.pid(), NOTE_EXIT), 0);
  const auto events = drain(kq);  // no waiting: it is there already
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, child.ident());
  EXPECT_EQ(events[0].fflags, NOTE_EXIT);
  EXPECT_TRUE(events[0].flags & EV_EOF);
  const int status = static_cast<int>(events[0].data);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_EQ(child.reap(), status);
}

// Linux reports a thread group leader's own exit (pthread_exit in main)
// like a process's; the process lives on in its other threads.
TEST(ProcExit, MainThreadExitingAloneIsNotTheProcessExit) {
  Kqueue kq;
  Channel go;
  Child child([&] {
    pthread_t thread;
    auto last_thread = [](void* gate) -> void* {
      static_cast<Channel*>(gate)->await();
      ::_exit(6);
    };
    if (::pthread_create(&thread, nullptr, last_thread, &go) != 0) return 1;
    // The main thread alone: no unwinding through the test framework.
    ::syscall(SYS_exit, 0);
    return 1;
  });
  ASSERT_EQ(watch(kq, child.pid(), NOTE_EXIT), 0);
  // Wait until the main thread is gone (its task shows as a zombie).
  const std::string leader =
      "/proc/" + std::to_string(child.pid()) + "/task/" + std::to_string(child.pid()) + "/stat";
  bool leader_gone = false;
  for (int i = 0; i < 200 && !leader_gone; ++i) {
    std::ifstream stat(leader);
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    leader_gone = close != std::string::npos && line.compare(close + 2, 1, "Z") == 0;
    if (!leader_gone) ::usleep(10000);
  }
  ASSERT_TRUE(leader_gone);
  expect_quiet(kq);

  go.pass();
  auto ev = next_about(kq, child.pid());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, NOTE_EXIT);
  EXPECT_EQ(WEXITSTATUS(static_cast<int>(ev->data)), 6);
}

TEST(ProcRegistration, MissingPidIsEsrch) {
  Kqueue kq;
  Child child([] { return 0; });
  child.reap();  // its pid now names nothing
  EXPECT_EQ(watch(kq, child.pid(), NOTE_EXIT), ESRCH);
  EXPECT_EQ(kq.apply(change(static_cast<uint64_t>(INT_MAX) + 1, EVFILT_PROC, EV_ADD, NOTE_EXIT)),
            ESRCH);
  EXPECT_EQ(kq.knote_count(), 0u);
}

// A thread id has a /proc entry but names no process (BSD: ESRCH).
TEST(ProcRegistration, ThreadIdIsEsrch) {
  Kqueue kq;
  Channel registered;
  std::atomic<pid_t> thread_id = 0;
  std::thread thread([&] {
    thread_id = static_cast<pid_t>(::syscall(SYS_gettid));
    registered.await();
  });
  while (thread_id == 0)
    ::usleep(1000);
  EXPECT_EQ(watch(kq, thread_id, NOTE_EXIT), ESRCH);
  registered.pass();
  thread.join();
  EXPECT_EQ(kq.knote_count(), 0u);
}

// FreeBSD drops the knote silently (EV_DROP) when none of its notes happened.
TEST(ProcExit, WithoutNoteExitTheKnoteGoesSilentlyAtExit) {
  Kqueue kq;
  Channel go;
  Child child = exits_when_let_go(go, 0);
  ASSERT_EQ(watch(kq, child.pid(), NOTE_FORK | NOTE_EXEC), 0);
  go.pass();
  ASSERT_TRUE(child.wait_exited());

  std::vector<Kevent> delivered;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (kq.knote_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    for (const Kevent& ev : wait_events(kq, std::chrono::milliseconds(20)))
      delivered.push_back(ev);
  }
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_TRUE(delivered.empty()) << "fflags " << std::hex << delivered.front().fflags;
}

// ------------------------------------------------------ fork and exec

TEST(ProcFork, ForkOfTheWatchedProcessGivesNoteFork) {
  Kqueue kq;
  Channel go;
  Channel grandchild_go;
  Child child([&] {
    go.await();
    fork_waiting(grandchild_go, 0);
    go.await();  // stays until the test ends
    return 0;
  });
  ASSERT_EQ(watch(kq, child.pid(), NOTE_FORK | NOTE_EXEC | NOTE_EXIT), 0);
  go.pass();

  auto ev = next_about(kq, child.pid());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, NOTE_FORK);
  EXPECT_EQ(ev->data, 0);
  EXPECT_FALSE(ev->flags & EV_EOF);
  grandchild_go.pass();
}

// The connector reports new threads as forks: they are not NOTE_FORK.
TEST(ProcFork, NewThreadIsNotAFork) {
  Kqueue kq;
  Channel go;
  Child child([&] {
    go.await();
    pthread_t thread;
    if (::pthread_create(
            &thread, nullptr, [](void*) -> void* { return nullptr; }, nullptr) == 0) {
      ::pthread_join(thread, nullptr);
    }
    go.await();
    if (::fork() == 0) ::_exit(0);
    go.await();
    return 0;
  });
  ASSERT_EQ(watch(kq, child.pid(), NOTE_FORK), 0);
  go.pass();  // a thread
  expect_quiet(kq);
  go.pass();  // a process: the knote is still there and works
  auto ev = next_about(kq, child.pid());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, NOTE_FORK);
}

TEST(ProcExec, ExecGivesNoteExec) {
  Kqueue kq;
  Channel go;
  Child child([&] {
    go.await();
    ::execl("/bin/true", "true", static_cast<char*>(nullptr));
    return 127;
  });
  ASSERT_EQ(watch(kq, child.pid(), NOTE_EXEC | NOTE_FORK), 0);
  go.pass();

  auto ev = next_about(kq, child.pid());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, NOTE_EXEC);
  EXPECT_EQ(ev->data, 0);
  EXPECT_EQ(WEXITSTATUS(child.reap()), 0);  // /bin/true ran
}

TEST(ProcFlags, EvClearIsSetInDeliveredFlags) {
  Kqueue kq;
  Channel go;
  Child child = forks_when_let_go(go);
  ASSERT_EQ(watch(kq, child.pid(), NOTE_FORK), 0);  // no EV_CLEAR asked for
  go.pass();
  auto ev = next_about(kq, child.pid());
  ASSERT_TRUE(ev);
  EXPECT_TRUE(ev->flags & EV_CLEAR);
  expect_quiet(kq);  // reported once, not while "forked" holds
}

TEST(ProcFlags, FflagsAccumulateForkAndExecUntilDelivered) {
  Kqueue kq;
  Channel go;
  Child child([&] {
    go.await();
    if (::fork() == 0) ::_exit(0);
    ::execl("/bin/true", "true", static_cast<char*>(nullptr));
    return 127;
  });
  ASSERT_EQ(watch(kq, child.pid(), NOTE_FORK | NOTE_EXEC), 0);
  go.pass();
  ASSERT_TRUE(child.wait_exited());  // both happened before anything is collected

  auto ev = next_about(kq, child.pid());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, NOTE_FORK | NOTE_EXEC);
}

// ----------------------------------------------------------- NOTE_TRACK

TEST(ProcTrack, ForkAnnouncesTheChildWithItsParentAndTracksItsExit) {
  Kqueue kq;
  Channel go;
  Channel release;
  Channel report;
  Child child([&] {
    go.await();
    report.send_pid(fork_waiting(release, 4));
    go.await();
    return 0;
  });
  ASSERT_EQ(watch(kq, child.pid(), NOTE_TRACK | NOTE_FORK | NOTE_EXIT, 0, 99), 0);
  go.pass();
  const pid_t grandchild = report.receive_pid();
  ASSERT_GT(grandchild, 0);

  const auto events = gather(kq, [&](const std::vector<Kevent>& all) {
    return find(all, child.pid(), NOTE_FORK) && find(all, grandchild, NOTE_CHILD);
  });
  const Kevent* fork = find(events, child.pid(), NOTE_FORK);
  ASSERT_TRUE(fork);
  EXPECT_EQ(fork->fflags, NOTE_FORK);
  const Kevent* announced = find(events, grandchild, NOTE_CHILD);
  ASSERT_TRUE(announced);
  EXPECT_EQ(announced->fflags, static_cast<uint32_t>(NOTE_CHILD));
  EXPECT_EQ(announced->data, child.pid());
  EXPECT_EQ(announced->udata, 99u);
  EXPECT_EQ(kq.knote_count(EVFILT_PROC), 2u);  // the parent's and the tracking knote

  release.pass();
  auto exit = next_about(kq, grandchild);
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->fflags, NOTE_EXIT);
  EXPECT_EQ(exit->udata, 99u);
  EXPECT_TRUE(exit->flags & EV_EOF);
  EXPECT_TRUE(WIFEXITED(static_cast<int>(exit->data)));
  EXPECT_EQ(WEXITSTATUS(static_cast<int>(exit->data)), 4);
  EXPECT_EQ(kq.knote_count(EVFILT_PROC), 1u);  // the parent's remains
}

TEST(ProcTrack, ChildOfATrackedChildAnnouncesItselfWithItsParent) {
  Kqueue kq;
  Channel go;
  Channel release;
  Channel first_report;
  Channel second_report;
  Child child([&] {
    go.await();
    const pid_t first = ::fork();
    if (first == 0) {
      second_report.send_pid(fork_waiting(release, 0));
      release.await();
      ::_exit(0);
    }
    first_report.send_pid(first);
    go.await();
    return 0;
  });
  ASSERT_EQ(watch(kq, child.pid(), NOTE_TRACK | NOTE_FORK | NOTE_EXIT, 0, 5), 0);
  go.pass();
  const pid_t first = first_report.receive_pid();
  const pid_t second = second_report.receive_pid();
  ASSERT_GT(first, 0);
  ASSERT_GT(second, 0);

  const auto events = gather(kq, [&](const std::vector<Kevent>& all) {
    return find(all, first, NOTE_CHILD) && find(all, second, NOTE_CHILD);
  });
  const Kevent* first_announced = find(events, first, NOTE_CHILD);
  ASSERT_TRUE(first_announced);
  EXPECT_EQ(first_announced->data, child.pid());
  const Kevent* second_announced = find(events, second, NOTE_CHILD);
  ASSERT_TRUE(second_announced);
  EXPECT_EQ(second_announced->data, first);
  EXPECT_EQ(second_announced->udata, 5u);
  release.pass(2);
}

// A child that, once let go, forks a grandchild exiting at once with
// `status`, reaps it, reports its pid, and waits to be let go again.
struct ForkingChild {
  explicit ForkingChild(int status)
      : child([this, status] {
          go.await();
          const pid_t grandchild = ::fork();
          if (grandchild == 0) ::_exit(status);
          ::waitpid(grandchild, nullptr, 0);
          report.send_pid(grandchild);
          go.await();
          return 0;
        }) {}
  // Has `kq` track it (NOTE_TRACK | `notes`), then lets it fork: the
  // grandchild's pid, or -1 if the knote could not be added.
  pid_t fork_tracked_by(Kqueue& kq, uint32_t notes) {
    if (watch(kq, child.pid(), NOTE_TRACK | notes) != 0) return -1;
    go.pass();
    return report.receive_pid();
  }

  Channel go;
  Channel report;
  Child child;
};

// A tracked child that is gone before it was announced: NOTE_CHILD first,
// then its exit.
TEST(ProcTrack, ChildThatExitsAtOnceIsAnnouncedThenReportsItsExit) {
  Kqueue kq;
  ForkingChild parent(9);
  const pid_t grandchild = parent.fork_tracked_by(kq, NOTE_EXIT);
  ASSERT_GT(grandchild, 0) << "not tracked, or no grandchild";

  const auto events = gather(kq, [&](const std::vector<Kevent>& all) {
    return find(all, grandchild, NOTE_EXIT) != nullptr;
  });
  std::vector<uint32_t> about_grandchild;
  for (const Kevent& ev : events) {
    if (ev.ident == static_cast<uint64_t>(grandchild)) about_grandchild.push_back(ev.fflags);
  }
  ASSERT_EQ(about_grandchild.size(), 2u);
  EXPECT_EQ(about_grandchild[0], static_cast<uint32_t>(NOTE_CHILD));
  EXPECT_EQ(about_grandchild[1], NOTE_EXIT);
  const Kevent* exit = find(events, grandchild, NOTE_EXIT);
  EXPECT_EQ(WEXITSTATUS(static_cast<int>(exit->data)), 9);
  EXPECT_EQ(kq.knote_count(EVFILT_PROC), 1u);
}

// Without NOTE_EXIT, the tracked child's exit drops its knote without a
// word (FreeBSD's EV_DROP), even when it exits before being announced.
TEST(ProcTrack, TrackedChildWithoutNoteExitGoesSilentlyAfterItsAnnouncement) {
  Kqueue kq;
  ForkingChild parent(0);
  const pid_t grandchild = parent.fork_tracked_by(kq, NOTE_FORK);
  ASSERT_GT(grandchild, 0) << "not tracked, or no grandchild";

  auto events = gather(kq, [&](const std::vector<Kevent>& all) {
    return find(all, parent.child.pid(), NOTE_FORK) && find(all, grandchild, NOTE_CHILD);
  });
  for (const Kevent& ev : wait_events(kq, kQuiet))
    events.push_back(ev);
  for (const Kevent& ev : wait_events(kq, kQuiet))
    events.push_back(ev);
  EXPECT_EQ(events.size(), 2u) << describe(events);
  for (const Kevent& ev : events) {
    EXPECT_NE(ev.fflags, 0u) << "an empty event on " << ev.ident;
  }
  EXPECT_EQ(kq.knote_count(EVFILT_PROC), 1u);
}

// FreeBSD: NOTE_TRACKERR on the parent when the child's knote cannot be made
// (here: the queue is full).
TEST(ProcTrack, TrackErrWhenTheChildKnoteCannotBeAdded) {
  Kqueue kq(Kqueue::Limits{.max_knotes = 1});
  Channel go;
  Child child = forks_when_let_go(go);
  ASSERT_EQ(watch(kq, child.pid(), NOTE_TRACK | NOTE_FORK), 0);
  go.pass();
  auto ev = next_about(kq, child.pid());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, NOTE_FORK | NOTE_TRACKERR);
  EXPECT_EQ(kq.knote_count(), 1u);
}

// ------------------------------------------------- without CAP_SYS_PTRACE

// Runs `body` in a child whose effective set lacks CAP_SYS_PTRACE, as a
// kqfsd started without it: 0 when all its checks held, else the line of
// the first that failed. Its permitted set keeps the capability, so its
// own children have one it lacks: the kernel lets it ptrace none of them,
// nor the test's processes.
int without_ptrace(const std::function<int()>& body) {
  Child runner([&] {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) return 1;
    data[CAP_TO_INDEX(CAP_SYS_PTRACE)].effective &= ~CAP_TO_MASK(CAP_SYS_PTRACE);
    if (::syscall(SYS_capset, &header, data) != 0) return 2;
    if (has_effective_capability(CAP_SYS_PTRACE)) return 3;
    return body();
  });
  const int status = runner.reap();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

// A check in without_ptrace's body: the line of the one that failed.
#define REQUIRE(condition) \
  if (!(condition)) return __LINE__ % 250 + 4

#define SKIP_WITHOUT_PTRACE_TO_DROP()                                \
  if (!has_effective_capability(CAP_SYS_PTRACE)) {                   \
    GTEST_SKIP() << "needs CAP_SYS_PTRACE to drop (root, as in CI)"; \
  }

// The model agrees with the kernel: the test process may use CAP_SYS_PTRACE,
// which the runner does not hold, so neither /proc (its ns links ask what
// its exit status asks: a ptrace read with the filesystem credentials) nor
// the model lets the runner at it; the runner itself, it may.
TEST(ProcWithoutPtrace, RefusalModelAgreesWithTheKernel) {
  SKIP_WITHOUT_PTRACE_TO_DROP();
  const pid_t test = ::getpid();
  EXPECT_EQ(without_ptrace([test] {
              struct stat link {};
              const std::string path = "/proc/" + std::to_string(test) + "/ns/pid";
              REQUIRE(::stat(path.c_str(), &link) != 0 && errno == EACCES);
              REQUIRE(::stat("/proc/self/ns/pid", &link) == 0);
              const std::string why = ptrace_read_refusal(test);
              REQUIRE(why.find("CAP_SYS_PTRACE among them") != std::string::npos);
              REQUIRE(ptrace_read_refusal(::getpid()).empty());
              return 0;
            }),
            0);
}

// The connector reports the exit and its status: no ptrace needed, for a
// process with more capabilities that is no child of the watcher.
TEST(ProcWithoutPtrace, NoteExitOfAProcessWithMoreCapabilitiesHasItsStatus) {
  SKIP_WITHOUT_PTRACE_TO_DROP();
  Channel go;
  Child target = exits_when_let_go(go, 3);
  const pid_t pid = target.pid();
  EXPECT_EQ(without_ptrace([&] {
              Kqueue kq;
              REQUIRE(watch(kq, pid, NOTE_EXIT) == 0);
              go.pass();
              const auto ev = next_about(kq, pid);
              REQUIRE(ev && ev->fflags == NOTE_EXIT && ev->data == 3 << 8);
              return 0;
            }),
            0);
  EXPECT_EQ(WEXITSTATUS(target.reap()), 3);
}

// A zombie's status is in /proc only, hidden from the runner: ENOTSUP, and
// why, rather than a status of 0.
TEST(ProcWithoutPtrace, ZombieWhoseStatusIsHiddenIsEnotsupWithTheReason) {
  SKIP_WITHOUT_PTRACE_TO_DROP();
  Child zombie([] { return 7; });
  ASSERT_TRUE(zombie.wait_exited());
  const pid_t pid = zombie.pid();
  EXPECT_EQ(without_ptrace([pid] {
              Kqueue kq;
              std::string why;
              const Kevent add = change(static_cast<uint64_t>(pid), EVFILT_PROC, EV_ADD, NOTE_EXIT);
              REQUIRE(kq.apply(add, std::make_shared<InProcessResolver>(), &why) == ENOTSUP);
              REQUIRE(why.find("has exited, and /proc hides its exit status") != std::string::npos);
              REQUIRE(why.find("CAP_SYS_PTRACE") != std::string::npos);
              REQUIRE(kq.knote_count() == 0);
              // Without NOTE_EXIT no status is promised: it goes silently.
              REQUIRE(watch(kq, pid, NOTE_FORK) == 0);
              return 0;
            }),
            0);
  EXPECT_EQ(WEXITSTATUS(zombie.reap()), 7);
}

// A zombie child of the watcher tells its status through waitid, which
// needs no ptrace.
TEST(ProcWithoutPtrace, OwnZombieChildFiresWithItsStatus) {
  SKIP_WITHOUT_PTRACE_TO_DROP();
  EXPECT_EQ(without_ptrace([] {
              Child zombie([] { return 7; });
              REQUIRE(zombie.wait_exited());
              REQUIRE(!ptrace_read_refusal(zombie.pid()).empty());
              Kqueue kq;
              REQUIRE(watch(kq, zombie.pid(), NOTE_EXIT) == 0);
              const auto events = drain(kq);
              REQUIRE(events.size() == 1 && events[0].data == 7 << 8);
              REQUIRE(WEXITSTATUS(zombie.reap()) == 7);
              return 0;
            }),
            0);
}

}  // namespace
}  // namespace kqfs::test
