// A live kqfsd for the client tests: a GoogleTest global environment mounts
// kqfs on a fresh temporary directory before any test runs, points
// KQFS_MOUNT at it for the whole process, and stops it afterwards, failing
// the run if the daemon's log holds a sanitizer report. Header-only; include
// it from exactly one source file of each test executable.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "kqfs/unique_fd.hpp"
#include "tests/support/poll_until.hpp"
#include "tests/support/private_kqfsd.hpp"

namespace kqfs::client_test {

using namespace std::chrono_literals;

// How long to wait for something that should happen (an event, a daemon
// starting or stopping): generous, as the machine may be loaded.
inline constexpr auto kPatience = 10s;

using test_support::read_whole_file;
using test_support::TemporaryDirectory;

// Polls `done` every 10 ms until it holds or `limit` passes.
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = kPatience) {
  return kqfs::testkit::poll_until(done, limit);
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

// A kqfsd of the test's own; the program comes from $KQFSD (set by meson).
class Daemon : public test_support::PrivateKqfsd {
 public:
  Daemon() : PrivateKqfsd(program(), "kqfs-client-test") {}

 private:
  static std::string program() {
    const char* program = std::getenv("KQFSD");
    if (program == nullptr || *program == '\0') {
      throw std::runtime_error("KQFSD must name the kqfsd to test");
    }
    return program;
  }
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
    const std::string report = test_support::sanitizer_report_in(log);
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
