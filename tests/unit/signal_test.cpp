// EVFILT_SIGNAL (docs/semantics.md#evfilt_signal, FreeBSD): every signal sent to the process
// that registered the knote is counted, whatever its disposition (caught,
// ignored, blocked), except an ignored SIGCHLD; the process's own handlers
// and mask are left alone; EV_CLEAR is implicit.
//
// Needs root: kqfs sees signals through ftrace of signal:signal_generate in
// a tracefs instance, which needs root (CI runs as root).
// The signals are sent to this test process itself.
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kqfs/linux/resolver.hpp"
#include "kqfs/linux/signal_trace.hpp"
#include "test_support.hpp"
#include "tests/support/signals.hpp"

namespace kqfs::test {
namespace {

// What the test's handler saw: how many of each signal, and which thread
// ran it last.
std::atomic<int> g_handled[65];
std::atomic<pid_t> g_handled_by{0};

void count_signal(int signal) {
  g_handled[signal].fetch_add(1);
  g_handled_by.store(::gettid());
}

int counted_from_zero(int signal) {
  g_handled[signal].store(0);
  return signal;
}

// Sets a signal's disposition (SA_RESTART) for the scope of a test; its
// count starts at zero.
struct Disposition : test_support::ScopedSignalAction {
  Disposition(int signal, void (*handler)(int))
      : ScopedSignalAction(counted_from_zero(signal), handler) {}
};

using Blocked = test_support::BlockedSignal;

// A child process that runs `body`, then exits; its pid, or -1.
pid_t fork_child(const std::function<void()>& body = [] {}) {
  const pid_t child = ::fork();
  if (child == 0) {
    body();
    ::_exit(0);
  }
  return child;
}

int add_signal(Kqueue& kq, int signal, uint16_t flags = EV_ADD) {
  return kq.apply(change(static_cast<uint64_t>(signal), EVFILT_SIGNAL, flags));
}

void send_to_self(int signal, int times = 1) {
  for (int i = 0; i < times; ++i)
    ASSERT_EQ(::kill(::getpid(), signal), 0);
}

std::optional<Kevent> next_signal(Kqueue& kq, int signal) {
  return wait_for(kq, [&](const Kevent& ev) {
    return ev.filter == EVFILT_SIGNAL && ev.ident == static_cast<uint64_t>(signal);
  });
}

// The next `signal` event on `kq` counts `times` signals.
::testing::AssertionResult counted(Kqueue& kq, int signal, int64_t times) {
  const auto ev = next_signal(kq, signal);
  if (!ev) return ::testing::AssertionFailure() << "no event for signal " << signal;
  if (ev->data != times) {
    return ::testing::AssertionFailure()
           << "signal " << signal << " counted " << ev->data << " times, not " << times;
  }
  return ::testing::AssertionSuccess();
}

// Waits until the handler has run `count` times for `signal`.
bool handled(int signal, int count) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (g_handled[signal].load() < count && std::chrono::steady_clock::now() < deadline) {
    ::usleep(1000);
  }
  return g_handled[signal].load() == count;
}

// Sends `signal` to `process` 20000 times from each CPU in turn (more than
// any per-CPU buffer of the engine holds unread), then lets this thread run
// anywhere again.
void flood_from_every_cpu(pid_t process, int signal) {
  cpu_set_t allowed;
  ASSERT_EQ(::sched_getaffinity(0, sizeof allowed, &allowed), 0);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
    for (int i = 0; i < 20000; ++i) {
      ::kill(process, signal);
    }
  }
  ASSERT_EQ(::sched_setaffinity(0, sizeof allowed, &allowed), 0);
}

// -------------------------------------------------------- dispositions

TEST(SignalDisposition, CaughtSignalsAreCountedAndTheHandlerStillRuns) {
  Kqueue kq;
  Disposition caught(SIGUSR1, count_signal);
  ASSERT_EQ(add_signal(kq, SIGUSR1), 0);
  send_to_self(SIGUSR1, 3);
  EXPECT_TRUE(handled(SIGUSR1, 3));

  auto ev = next_signal(kq, SIGUSR1);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->data, 3);
  EXPECT_EQ(ev->fflags, 0u);
}

TEST(SignalDisposition, IgnoredSignalsAreCounted) {
  Kqueue kq;
  Disposition ignored(SIGUSR2, SIG_IGN);
  ASSERT_EQ(add_signal(kq, SIGUSR2), 0);
  send_to_self(SIGUSR2, 2);
  ASSERT_TRUE(counted(kq, SIGUSR2, 2));
}

// Linux keeps one pending instance of a blocked standard signal; BSD counts
// every send, and the process still gets its one pending signal.
TEST(SignalDisposition, BlockedSignalIsCountedEachTimeAndStaysPending) {
  Kqueue kq;
  Disposition caught(SIGUSR1, count_signal);
  ASSERT_EQ(add_signal(kq, SIGUSR1), 0);
  {
    Blocked blocked(SIGUSR1);
    send_to_self(SIGUSR1, 3);
    ASSERT_TRUE(counted(kq, SIGUSR1, 3));
    EXPECT_EQ(g_handled[SIGUSR1].load(), 0);
  }
  EXPECT_TRUE(handled(SIGUSR1, 1));  // unblocked: delivered once
}

// ------------------------------------------------------------ counting

// A queue counting SIGUSR1, which this process ignores.
class SignalCount : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(add_signal(kq, SIGUSR1), 0); }

  Kqueue kq;
  Disposition ignored{SIGUSR1, SIG_IGN};
};

TEST_F(SignalCount, DataIsTheCountSinceTheLastDelivery) {
  send_to_self(SIGUSR1, 2);
  ASSERT_TRUE(counted(kq, SIGUSR1, 2));

  send_to_self(SIGUSR1, 3);
  ASSERT_TRUE(counted(kq, SIGUSR1, 3));
}

// BSD counts every send, however many arrive between two collections.
TEST_F(SignalCount, ABurstBetweenCollectionsIsCountedInFull) {
  constexpr int kBurst = 5000;
  send_to_self(SIGUSR1, kBurst);
  ASSERT_TRUE(counted(kq, SIGUSR1, kBurst));
}

TEST_F(SignalCount, EvClearIsImplicit) {
  // The fixture's knote asked for no EV_CLEAR.
  send_to_self(SIGUSR1);
  auto ev = next_signal(kq, SIGUSR1);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->flags, EV_ADD | EV_CLEAR);
  expect_quiet(kq);
}

TEST_F(SignalCount, TwoSignalsAreCountedSeparately) {
  Disposition second(SIGUSR2, SIG_IGN);
  ASSERT_EQ(add_signal(kq, SIGUSR2), 0);
  send_to_self(SIGUSR1, 2);
  send_to_self(SIGUSR2, 3);

  int64_t usr1 = 0;
  int64_t usr2 = 0;
  wait_for(kq, [&](const Kevent& ev) {
    if (ev.ident == SIGUSR1) usr1 += ev.data;
    if (ev.ident == SIGUSR2) usr2 += ev.data;
    return usr1 > 0 && usr2 > 0;
  });
  EXPECT_EQ(usr1, 2);
  EXPECT_EQ(usr2, 3);
  expect_quiet(kq);
}

TEST_F(SignalCount, DisabledKnoteKeepsCountingAndEnableDeliversTheCount) {
  ASSERT_EQ(add_signal(kq, SIGUSR1, EV_DISABLE), 0);
  send_to_self(SIGUSR1, 2);
  expect_quiet(kq);

  ASSERT_EQ(add_signal(kq, SIGUSR1, EV_ENABLE), 0);
  ASSERT_TRUE(counted(kq, SIGUSR1, 2));
}

TEST_F(SignalCount, DeleteStopsCounting) {
  ASSERT_EQ(add_signal(kq, SIGUSR1, EV_DELETE), 0);
  EXPECT_EQ(kq.knote_count(), 0u);
  send_to_self(SIGUSR1, 2);
  expect_quiet(kq);

  ASSERT_EQ(add_signal(kq, SIGUSR1), 0);  // a new knote counts from now
  send_to_self(SIGUSR1);
  ASSERT_TRUE(counted(kq, SIGUSR1, 1));
}

// ------------------------------------------------------------- threads

// A thread of this process that waits to be told to stop.
class Thread {
 public:
  Thread()
      : thread_([this] {
          tid_.store(::gettid());
          while (!stop_.load())
            ::usleep(1000);
        }) {
    while (tid_.load() == 0)
      ::usleep(1000);
  }
  ~Thread() {
    stop_.store(true);
    thread_.join();
  }
  pthread_t handle() { return thread_.native_handle(); }
  pid_t tid() const { return tid_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<pid_t> tid_{0};
  std::thread thread_;
};

TEST(SignalThreads, SignalToAThreadCreatedAfterRegistrationIsCounted) {
  Kqueue kq;
  Disposition caught(SIGUSR1, count_signal);
  ASSERT_EQ(add_signal(kq, SIGUSR1), 0);
  Thread thread;
  ASSERT_EQ(::pthread_kill(thread.handle(), SIGUSR1), 0);
  ASSERT_TRUE(handled(SIGUSR1, 1));
  EXPECT_EQ(g_handled_by.load(), thread.tid());  // it went to that thread

  ASSERT_TRUE(counted(kq, SIGUSR1, 1));
}

// Not tested, and documented as a limit (docs/semantics.md): a thread born
// after registration is seen through one unfiltered trace until the queue
// reads of its birth, so a flood elsewhere that overflows that trace before
// anyone collects can hide its first signals.

TEST(SignalThreads, SignalToAThreadCreatedBeforeRegistrationIsCounted) {
  Kqueue kq;
  Disposition caught(SIGUSR1, count_signal);
  Thread thread;
  ASSERT_EQ(add_signal(kq, SIGUSR1), 0);
  ASSERT_EQ(::pthread_kill(thread.handle(), SIGUSR1), 0);
  ASSERT_TRUE(handled(SIGUSR1, 1));

  ASSERT_TRUE(counted(kq, SIGUSR1, 1));
}

// ----------------------------------------------------- other processes

TEST(SignalProcess, SignalToAnotherProcessIsNotCounted) {
  Kqueue kq;
  Disposition caught(SIGUSR1, count_signal);  // the child inherits it
  ASSERT_EQ(add_signal(kq, SIGUSR1), 0);
  const pid_t child = fork_child([] { handled(SIGUSR1, 1); });  // its own copy of the count
  ASSERT_GT(child, 0);
  ASSERT_EQ(::kill(child, SIGUSR1), 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // its handler ran, it exited
  send_to_self(SIGUSR1);

  ASSERT_TRUE(counted(kq, SIGUSR1, 1));  // ours only
}

// Signals between other processes, however many, while this queue is not
// collected, must not make it miss this process's own.
TEST(SignalProcess, ManySignalsToAnotherProcessDoNotHideOurs) {
  Kqueue kq;
  Disposition ignored(SIGUSR2, SIG_IGN);  // the child inherits it
  ASSERT_EQ(add_signal(kq, SIGUSR1), 0);
  const pid_t child = fork_child([] { ::sleep(10); });  // killed before it wakes
  ASSERT_GT(child, 0);
  flood_from_every_cpu(child, SIGUSR2);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  {
    Disposition caught(SIGUSR1, count_signal);
    send_to_self(SIGUSR1);
    ASSERT_TRUE(counted(kq, SIGUSR1, 1));
  }
}

TEST(SignalChild, SigchldWithTheDefaultDispositionIsCounted) {
  Kqueue kq;
  Disposition default_action(SIGCHLD, SIG_DFL);
  ASSERT_EQ(add_signal(kq, SIGCHLD), 0);
  const pid_t child = fork_child();
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);

  ASSERT_TRUE(counted(kq, SIGCHLD, 1));
}

// FreeBSD never records a SIGCHLD the process set to SIG_IGN: its exiting
// children do not signal it at all.
TEST(SignalChild, ChildExitWhileSigchldIsIgnoredIsNotCounted) {
  Kqueue kq;
  ASSERT_EQ(add_signal(kq, SIGCHLD), 0);
  {
    Disposition ignored(SIGCHLD, SIG_IGN);
    const pid_t child = fork_child();
    ASSERT_GT(child, 0);
    // Reaped by the kernel: waiting returns ECHILD once it has exited.
    EXPECT_EQ(::waitpid(child, nullptr, 0), -1);
    expect_quiet(kq);
  }
  Disposition default_action(SIGCHLD, SIG_DFL);
  const pid_t child = fork_child();  // the knote still counts what is not ignored
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  ASSERT_TRUE(counted(kq, SIGCHLD, 1));
}

// ------------------------------------------------------- registration

TEST(SignalRegistration, IdentZeroOrAbove64IsEinval) {
  Kqueue kq;
  EXPECT_EQ(add_signal(kq, 0), EINVAL);
  EXPECT_EQ(add_signal(kq, 65), EINVAL);
  EXPECT_EQ(kq.apply(change(1ull << 32 | SIGUSR1, EVFILT_SIGNAL, EV_ADD)), EINVAL);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_EQ(add_signal(kq, 64), 0);  // SIGRTMAX, the last one
}

// Without the privilege perf tracing needs, registration says so instead of
// succeeding without working.
TEST(SignalRegistration, WithoutPrivilegeRegistrationIsEnotsupWithAReason) {
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    Kqueue kq;
    std::string why;
    const int error = kq.apply(change(SIGUSR1, EVFILT_SIGNAL, EV_ADD),
                               std::make_shared<InProcessResolver>(), &why);
    ::_exit(error == ENOTSUP && !why.empty() ? 0 : error == 0 ? 11 : 12);
  }
  ASSERT_GT(child, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: cannot drop privilege, 11: registered, 12: other error";
}

// ------------------------------------------- one tracer for many queues

constexpr const char* kInstances = "/sys/kernel/tracing/instances";

// This process's tracefs instances (kqfs names them kqfs-PID-...).
size_t own_instances() {
  const std::string prefix = "kqfs-" + std::to_string(::getpid()) + "-";
  size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kInstances)) {
    if (entry.path().filename().string().starts_with(prefix)) ++count;
  }
  return count;
}

std::unique_ptr<Kqueue> queue_sharing(const std::shared_ptr<SignalTracer>& tracer) {
  return std::make_unique<Kqueue>(Kqueue::Limits{}, Kqueue::Shared{tracer});
}

TEST(SignalSharedTracer, AHundredQueuesMakeOneInstanceAndEachCountsItsSignals) {
  auto tracer = std::make_shared<SignalTracer>();
  Disposition ignored(SIGUSR1, SIG_IGN);
  std::vector<std::unique_ptr<Kqueue>> queues;
  for (int i = 0; i < 100; ++i) {
    queues.push_back(queue_sharing(tracer));
    ASSERT_EQ(add_signal(*queues.back(), SIGUSR1), 0);
  }
  EXPECT_EQ(own_instances(), 1u);
  send_to_self(SIGUSR1, 2);
  for (const auto& kq : queues) {
    ASSERT_TRUE(counted(*kq, SIGUSR1, 2));
  }
  queues.clear();
  EXPECT_EQ(own_instances(), 1u);  // the tracer's, while it exists
  tracer.reset();
  EXPECT_EQ(own_instances(), 0u);
}

// Whichever queue reads the trace takes every queue's signals out of it;
// the others are woken by their doorbell, and only while it has news.
TEST(SignalSharedTracer, TheQueueThatReadsTheTraceWakesTheOthers) {
  const auto tracer = std::make_shared<SignalTracer>();
  Disposition first_ignored(SIGUSR1, SIG_IGN);
  Disposition second_ignored(SIGUSR2, SIG_IGN);
  const auto first = queue_sharing(tracer);
  const auto second = queue_sharing(tracer);
  ASSERT_EQ(add_signal(*first, SIGUSR1), 0);
  ASSERT_EQ(add_signal(*second, SIGUSR2), 0);
  send_to_self(SIGUSR2);
  send_to_self(SIGUSR1);  // generated after: read with or after SIGUSR2

  ASSERT_TRUE(counted(*first, SIGUSR1, 1));
  EXPECT_TRUE(queue_readable(*second));  // its doorbell: the trace is empty
  const auto events = drain(*second);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].ident, static_cast<uint64_t>(SIGUSR2));
  EXPECT_EQ(events[0].data, 1);
  EXPECT_FALSE(queue_readable(*second));
  expect_quiet(*first);
}

// A queue's last signal knote going ends its subscription, not the others'.
TEST(SignalSharedTracer, DeletingInOneQueueLeavesTheOthersCounting) {
  const auto tracer = std::make_shared<SignalTracer>();
  Disposition ignored(SIGUSR1, SIG_IGN);
  const auto left = queue_sharing(tracer);
  const auto kept = queue_sharing(tracer);
  ASSERT_EQ(add_signal(*left, SIGUSR1), 0);
  ASSERT_EQ(add_signal(*kept, SIGUSR1), 0);
  ASSERT_EQ(add_signal(*left, SIGUSR1, EV_DELETE), 0);
  send_to_self(SIGUSR1);
  ASSERT_TRUE(counted(*kept, SIGUSR1, 1));
  expect_quiet(*left);

  ASSERT_EQ(add_signal(*left, SIGUSR1), 0);  // subscribes again, counts from now
  send_to_self(SIGUSR1, 2);
  ASSERT_TRUE(counted(*left, SIGUSR1, 2));
  ASSERT_TRUE(counted(*kept, SIGUSR1, 2));
}

// Between two reads the trace holds about twenty signals per KiB of buffer
// per CPU; past that the oldest are lost, and the tracer counts them.
TEST(SignalSharedTracer, PastItsBufferSignalsAreLostAndTheTracerCountsThem) {
  const auto tracer = std::make_shared<SignalTracer>(4);  // 4 KiB per CPU
  Disposition ignored(SIGUSR1, SIG_IGN);
  const auto kq = queue_sharing(tracer);
  ASSERT_EQ(add_signal(*kq, SIGUSR1), 0);
  constexpr int kSent = 2000;
  send_to_self(SIGUSR1, kSent);
  auto ev = next_signal(*kq, SIGUSR1);
  ASSERT_TRUE(ev);
  EXPECT_LT(ev->data, kSent);
  EXPECT_GT(tracer->lost(), 0u);
}

// Each queue driven by a thread of its own, one tracer between them.
TEST(SignalSharedTracer, QueuesDrivenByDifferentThreadsShareOneTracer) {
  const auto tracer = std::make_shared<SignalTracer>();
  Disposition ignored(SIGUSR1, SIG_IGN);
  constexpr int kThreads = 4;
  std::atomic<int> registered{0};
  std::atomic<bool> sent{false};
  std::atomic<int> counted[kThreads] = {};
  std::vector<std::thread> drivers;
  for (int i = 0; i < kThreads; ++i) {
    drivers.emplace_back([&, i] {
      const auto kq = queue_sharing(tracer);
      if (add_signal(*kq, SIGUSR1) != 0) return;
      registered.fetch_add(1);
      while (!sent.load())
        ::usleep(1000);
      int64_t total = 0;
      const auto deadline = std::chrono::steady_clock::now() + kPatience;
      while (total < 3 && std::chrono::steady_clock::now() < deadline) {
        for (const Kevent& ev : wait_events(*kq, kQuiet))
          total += ev.data;
      }
      counted[i].store(static_cast<int>(total));
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (registered.load() < kThreads && std::chrono::steady_clock::now() < deadline)
    ::usleep(1000);
  EXPECT_EQ(registered.load(), kThreads);
  EXPECT_EQ(own_instances(), 1u);
  send_to_self(SIGUSR1, 3);
  sent.store(true);
  for (std::thread& driver : drivers)
    driver.join();
  for (int i = 0; i < kThreads; ++i)
    EXPECT_EQ(counted[i].load(), 3) << "queue " << i;
}

std::string filter_of(const SignalTracer& tracer) {
  std::ifstream file(tracer.instance() + "/events/signal/signal_generate/filter");
  std::string filter;
  std::getline(file, filter);
  return filter;
}

// The kernel takes a filter shorter than a page: with more threads than fit,
// the filter is on the signal alone and the tracer picks the threads.
TEST(SignalSharedTracer, WithTooManyThreadsForTheFilterSignalsToEachAreStillCounted) {
  const auto tracer = std::make_shared<SignalTracer>();
  const auto kq = queue_sharing(tracer);
  Disposition caught(SIGUSR1, count_signal);
  std::vector<std::unique_ptr<Thread>> threads;
  for (int i = 0; i < 300; ++i)
    threads.push_back(std::make_unique<Thread>());
  ASSERT_EQ(add_signal(*kq, SIGUSR1), 0);
  EXPECT_EQ(filter_of(*tracer), "sig == 10");

  ASSERT_EQ(::pthread_kill(threads.back()->handle(), SIGUSR1), 0);
  ASSERT_TRUE(handled(SIGUSR1, 1));
  ASSERT_TRUE(counted(*kq, SIGUSR1, 1));

  // Their exits, read from the process-events connector, shorten the list:
  // back to a filter on threads.
  threads.clear();
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (filter_of(*tracer) == "sig == 10" && std::chrono::steady_clock::now() < deadline) {
    pollfd readable{kq->fd(), POLLIN, 0};
    ::poll(&readable, 1, 10);
    kq->drain_sources();
  }
  EXPECT_NE(filter_of(*tracer).find("pid == " + std::to_string(::getpid())), std::string::npos)
      << filter_of(*tracer);
}

TEST(SignalSharedTracer, StaleInstancesOfGoneProcessesAreRemovedAndLiveOnesKept) {
  const auto tracer = std::make_shared<SignalTracer>();  // tracefs mounted for sure
  const auto kq = queue_sharing(tracer);
  ASSERT_EQ(add_signal(*kq, SIGUSR1), 0);
  const pid_t gone = fork_child();
  ASSERT_GT(gone, 0);
  ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);
  const std::string stale = std::string(kInstances) + "/kqfs-" + std::to_string(gone) + "-stale";
  const std::string live =
      std::string(kInstances) + "/kqfs-" + std::to_string(::getpid()) + "-live";
  ASSERT_EQ(::mkdir(stale.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(live.c_str(), 0700), 0);

  SignalTracer::remove_stale_instances();
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(live));
  EXPECT_FALSE(tracer->instance().empty());
  EXPECT_TRUE(std::filesystem::exists(tracer->instance()));
  ::rmdir(live.c_str());
  ::rmdir(stale.c_str());
}

}  // namespace
}  // namespace kqfs::test
