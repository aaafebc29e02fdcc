// A kqfsd of one's own, for the tests and the benchmark: started on a fresh
// temporary mount point with its log beside it, stopped (and the mount
// undone) when it goes, its log checked for sanitizer reports.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace kqfs::test_support {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TemporaryDirectory {
 public:
  explicit TemporaryDirectory(const std::string& prefix);
  ~TemporaryDirectory();
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;

  const std::string& path() const { return path_; }
  // Leaves the directory in place (e.g. a mount on it could not be undone).
  void keep() { path_.clear(); }

 private:
  std::string path_;
};

std::string read_whole_file(const std::string& path);

// From /proc/self/mountinfo: asking the filesystem itself could block on a
// dead FUSE daemon.
bool is_mounted(const std::string& path);

// Its arguments, from /proc/PID/cmdline (empty when it is gone).
std::vector<std::string> command_line_of(pid_t pid);

// The log's text when it holds a sanitizer report, else an empty string.
std::string sanitizer_report_in(const std::string& log);

// `PROGRAM --foreground --log LOG MOUNT` as a child of the calling thread,
// which must outlive it: the daemon is stopped (SIGTERM, and it unmounts)
// when that thread ends, so nothing leaks when a test or benchmark dies.
class PrivateKqfsd {
 public:
  // Throws std::runtime_error (with the daemon's log) when it does not mount.
  PrivateKqfsd(const std::string& program, const std::string& prefix);
  ~PrivateKqfsd() { stop(); }
  PrivateKqfsd(const PrivateKqfsd&) = delete;
  PrivateKqfsd& operator=(const PrivateKqfsd&) = delete;

  const std::string& mount_point() const { return mount_point_; }
  const std::string& log() const { return log_; }
  pid_t pid() const { return pid_; }

  // SIGKILL, leaving a dead mount behind; whether the daemon went.
  bool kill_hard();

  // SIGTERM (SIGKILL if it lingers), then unmounts whatever is left.
  // Returns whether the daemon ended on SIGTERM in time.
  bool stop();

 private:
  bool wait_until_reaped(std::chrono::milliseconds limit);

  TemporaryDirectory directory_;
  std::string mount_point_;
  std::string log_;
  pid_t pid_ = -1;
  bool stopped_ = false;
};

}  // namespace kqfs::test_support
