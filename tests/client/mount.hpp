// A live kqfsd for the client tests: a GoogleTest global environment mounts
// kqfs on a fresh temporary directory before any test runs, points
// KQFS_MOUNT at it for the whole process, and stops it afterwards, failing
// the run if the daemon's log holds a sanitizer report. Header-only; include
// it from exactly one source file of each test executable.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "kqfs/unique_fd.hpp"

extern char** environ;

namespace kqfs::client_test {

using namespace std::chrono_literals;

// How long to wait for something that should happen (an event, a daemon
// starting or stopping): generous, as the machine may be loaded.
inline constexpr auto kPatience = 10s;

inline std::string read_whole_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::string& prefix) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + ".XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    }
    path_ = pattern;
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Whether `path` is a mount point, from /proc/self/mountinfo: asking the
// filesystem itself could block on a dead FUSE daemon.
inline bool is_mounted(const std::string& path) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    if (mount_point == path) return true;
  }
  return false;
}

// The pid of the process whose command line has "--log LOG": the daemon,
// which forked away from the process we started.
inline pid_t pid_with_log_argument(const std::string& log) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return -1;
  pid_t found = -1;
  while (const dirent* entry = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0 || pid == ::getpid()) continue;
    const std::string command_line =
        read_whole_file("/proc/" + std::string(entry->d_name) + "/cmdline");
    std::vector<std::string> arguments;
    for (size_t start = 0; start < command_line.size();) {
      const size_t end = command_line.find('\0', start);
      arguments.push_back(command_line.substr(start, end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    for (size_t i = 0; i + 1 < arguments.size(); ++i) {
      if (arguments[i] == "--log" && arguments[i + 1] == log) found = pid;
    }
    if (found > 0) break;
  }
  ::closedir(proc);
  return found;
}

// Polls `done` every 10 ms until it holds or `limit` passes.
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = kPatience) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Gone or a zombie: a daemonized kqfsd is reaped by whoever adopted it.
inline bool process_is_gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  const std::string stat = read_whole_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t after_name = stat.rfind(") ");
  return after_name == std::string::npos || stat.compare(after_name + 2, 1, "Z") == 0;
}

// How a child run by run_in_child ended.
struct ChildOutcome {
  bool finished = false;  // false: still running at the limit, so it was killed
  int exit_code = -1;     // its exit status when it exited normally
};

// Runs `body` in a forked child and returns its exit code; a child still
// running after `limit` is killed (so a hanging call fails the test instead
// of hanging it). The child only makes the calls under test and _exits.
inline ChildOutcome run_in_child(const std::function<int()>& body,
                                 std::chrono::milliseconds limit = kPatience) {
  const pid_t child = ::fork();
  if (child < 0) return {};
  if (child == 0) ::_exit(body());
  ChildOutcome outcome;
  int status = 0;
  outcome.finished = wait_until([&] { return ::waitpid(child, &status, WNOHANG) == child; }, limit);
  if (!outcome.finished) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    return outcome;
  }
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  return outcome;
}

// Sanitizer reports in a daemon log, or an empty string when there is none.
inline std::string sanitizer_report_in(const std::string& log) {
  const std::string text = read_whole_file(log);
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    if (text.find(marker) != std::string::npos) return text;
  }
  return {};
}

// One kqfsd on a temporary mount point of its own, with its log beside it.
// The program comes from $KQFSD (set by meson).
class Daemon {
 public:
  Daemon()
      : directory_("kqfs-client-test"),
        mount_point_(directory_.path() + "/mnt"),
        log_(directory_.path() + "/kqfsd.log") {
    std::filesystem::create_directory(mount_point_);
    const char* program = std::getenv("KQFSD");
    if (program == nullptr || *program == '\0') {
      throw std::runtime_error("KQFSD must name the kqfsd to test");
    }
    std::vector<std::string> arguments = {program, "--log", log_, mount_point_};
    std::vector<char*> argv;
    for (std::string& argument : arguments)
      argv.push_back(argument.data());
    argv.push_back(nullptr);
    pid_t starter = -1;
    if (const int error =
            ::posix_spawn(&starter, program, nullptr, nullptr, argv.data(), environ)) {
      throw std::system_error(error, std::generic_category(), "spawn kqfsd");
    }
    // Without -f kqfsd returns once the mount is ready.
    int status = 0;
    while (::waitpid(starter, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !is_mounted(mount_point_)) {
      throw std::runtime_error("kqfsd did not mount " + mount_point_ + ":\n" +
                               read_whole_file(log_));
    }
    pid_ = pid_with_log_argument(log_);
    if (pid_ <= 0) throw std::runtime_error("kqfsd mounted but its process was not found");
  }

  ~Daemon() { stop(); }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  const std::string& mount_point() const { return mount_point_; }
  const std::string& log() const { return log_; }
  pid_t pid() const { return pid_; }

  // Kills the daemon with SIGKILL, leaving a dead mount behind.
  bool kill_hard() {
    return ::kill(pid_, SIGKILL) == 0 && wait_until([this] { return process_is_gone(pid_); });
  }

  // SIGTERM, then waits for the daemon to go; unmounts whatever is left.
  // Returns whether the daemon ended in time.
  bool stop() {
    if (stopped_) return true;
    stopped_ = true;
    bool ended = process_is_gone(pid_);
    if (!ended && ::kill(pid_, SIGTERM) == 0) {
      ended = wait_until([this] { return process_is_gone(pid_); });
    }
    if (!ended) {
      ::kill(pid_, SIGKILL);
      wait_until([this] { return process_is_gone(pid_); });
    }
    if (is_mounted(mount_point_)) ::umount2(mount_point_.c_str(), MNT_DETACH);
    return ended;
  }

 private:
  TemporaryDirectory directory_;
  std::string mount_point_;
  std::string log_;
  pid_t pid_ = -1;
  bool stopped_ = false;
};

// The process-wide mount every test uses through KQFS_MOUNT.
class MountEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      daemon_.emplace();
    } catch (const std::exception& error) {
      FAIL() << error.what();
    }
    ::setenv("KQFS_MOUNT", daemon_->mount_point().c_str(), 1);
  }

  void TearDown() override {
    if (!daemon_) return;
    const std::string log = daemon_->log();
    EXPECT_TRUE(daemon_->stop()) << "kqfsd did not stop on SIGTERM";
    const std::string report = sanitizer_report_in(log);
    if (!report.empty()) ADD_FAILURE() << "sanitizer report in the kqfsd log:\n" << report;
    daemon_.reset();
  }

 private:
  std::optional<Daemon> daemon_;
};

// Registered once per executable, before main() runs the tests.
inline ::testing::Environment* const kMountEnvironment =
    ::testing::AddGlobalTestEnvironment(new MountEnvironment);

}  // namespace kqfs::client_test
