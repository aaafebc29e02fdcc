// kqfs::procfs against the real /proc of real processes: a forked child's
// stat (with a command name full of ") "), its descriptors, its threads,
// its exit status as a zombie, and the mount table.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "kqfs/linux/procfs.hpp"

namespace kqfs::procfs {
namespace {

// A child that names itself `name`, holds a pipe's read end at `fd` and waits
// to be killed. Reaped in the destructor.
class Child {
 public:
  Child(const char* name, int fd) {
    int ends[2];
    if (::pipe(ends) != 0) std::abort();
    int ready[2];
    if (::pipe(ready) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_NAME, name);
      ::dup2(ends[0], fd);
      ::close(ready[0]);
      [[maybe_unused]] ssize_t written = ::write(ready[1], "x", 1);
      for (;;)
        ::pause();
    }
    ::close(ends[0]);
    ::close(ends[1]);
    ::close(ready[1]);
    char byte;
    [[maybe_unused]] ssize_t taken = ::read(ready[0], &byte, 1);
    ::close(ready[0]);
  }
  ~Child() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

TEST(Procfs, ReadsKeyValueLines) {
  const std::string text = "Name:\tx\nTgid:\t42\nSigIgn:\t0000000000001000\nflags:\t0100002\n";
  EXPECT_EQ(value_of(text, "Name:"), "x");
  EXPECT_EQ(number_of(text, "Tgid:"), 42);
  EXPECT_EQ(number_of(text, "SigIgn:", 16), 0x1000);
  EXPECT_EQ(number_of(text, "flags:", 0), 0100002);
  EXPECT_EQ(value_of(text, "gid:"), std::nullopt);  // only at a line's start
  EXPECT_EQ(number_of(text, "Pid:"), std::nullopt);
}

TEST(Procfs, ParsesStatWhoseCommandHoldsParenthesesAndSpaces) {
  const auto stat = parse_stat("123 (a) b) (c) Z 1 2 3");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->pid, 123);
  EXPECT_EQ(stat->comm, "a) b) (c");
  EXPECT_EQ(stat->state, 'Z');
  EXPECT_EQ(stat->number(4), 1);
  EXPECT_EQ(stat->number(6), 3);
  EXPECT_EQ(stat->number(7), std::nullopt);
  EXPECT_EQ(parse_stat("garbage").error(), EINVAL);
}

TEST(Procfs, ReadsAChildsStatDescriptorsAndThreads) {
  Child child("k) q (fs) x", 7);
  const auto stat = read_stat(child.pid());
  ASSERT_TRUE(stat) << stat.error();
  EXPECT_EQ(stat->pid, child.pid());
  EXPECT_EQ(stat->comm, "k) q (fs) x");
  EXPECT_NE(stat->state, 'Z');
  EXPECT_EQ(stat->number(4), ::getpid());  // ppid

  const auto link = read_link(fd_path(child.pid(), 7));
  ASSERT_TRUE(link) << link.error();
  EXPECT_TRUE(link->starts_with("pipe:[")) << *link;
  const auto info = read_file(fdinfo_path(child.pid(), 7));
  ASSERT_TRUE(info) << info.error();
  EXPECT_EQ(number_of(*info, "flags:", 0).value_or(-1) & O_ACCMODE, O_RDONLY);
  EXPECT_GT(number_of(*info, "mnt_id:").value_or(0), 0);
  EXPECT_EQ(read_link(fd_path(child.pid(), 99)).error(), ENOENT);

  const auto threads = live_threads(child.pid());
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_EQ(*threads.begin(), child.pid());
  const auto status = read_file(path_of(child.pid(), "status"));
  ASSERT_TRUE(status);
  EXPECT_EQ(number_of(*status, "Tgid:"), child.pid());
}

TEST(Procfs, ReadsAZombiesExitStatus) {
  Child child("zombie", 5);
  ASSERT_EQ(::kill(child.pid(), SIGKILL), 0);
  for (int i = 0; i < 1000; ++i) {
    const auto stat = read_stat(child.pid());
    ASSERT_TRUE(stat);
    if (stat->state == 'Z') {
      EXPECT_EQ(stat->number(52), SIGKILL);  // exit_code, as wait(2) has it
      EXPECT_TRUE(live_threads(child.pid()).empty());
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  FAIL() << "the child never became a zombie";
}

// NSpid: one pid per namespace level. A child is as deep as its parent;
// a pid that names nothing has none.
TEST(Procfs, CountsPidNamespaceLevels) {
  const auto own = pid_namespace_levels(0);
  ASSERT_TRUE(own);
  EXPECT_GE(*own, 1u);
  EXPECT_EQ(pid_namespace_levels(::getpid()), own);
  Child child("levels", 5);
  EXPECT_EQ(pid_namespace_levels(child.pid()), own);
  EXPECT_EQ(pid_namespace_levels(999999999), std::nullopt);
}

TEST(Procfs, ReadsOwnFilesWithBoundsAndErrors) {
  const auto self = read_stat(0);
  ASSERT_TRUE(self);
  EXPECT_EQ(self->pid, ::getpid());
  const auto head = read_file("/proc/self/status", 10);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->size(), 10u);
  EXPECT_EQ(read_file(path_of(0x3fffffff, "status")).error(), ENOENT);
  EXPECT_EQ(path_of(0, "fd/3"), "/proc/self/fd/3");
  EXPECT_EQ(fd_path(12, 3), "/proc/12/fd/3");
}

TEST(Procfs, ParsesTheMountTable) {
  const auto text = read_file("/proc/self/mountinfo");
  ASSERT_TRUE(text);
  const auto mounts = parse_mountinfo(*text);
  ASSERT_FALSE(mounts.empty());
  bool proc = false;
  for (const Mount& mount : mounts) {
    EXPECT_GT(mount.id, 0u);
    if (mount.mount_point == "/proc" && mount.type == "proc") proc = true;
  }
  EXPECT_TRUE(proc);
  const auto parsed = parse_mountinfo(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
      "broken line\n");
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0].id, 36u);
  EXPECT_EQ(parsed[0].parent, 35u);
  EXPECT_EQ(parsed[0].root, "/mnt1");
  EXPECT_EQ(parsed[0].mount_point, "/mnt2");
  EXPECT_EQ(parsed[0].type, "ext3");
  EXPECT_EQ(parsed[0].source, "/dev/root");
  EXPECT_EQ(parsed[0].options, "rw,errors=continue");
  const auto own = read_mountinfo(0);
  ASSERT_TRUE(own);
  EXPECT_EQ(own->size(), mounts.size());
}

}  // namespace
}  // namespace kqfs::procfs
