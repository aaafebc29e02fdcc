#include "tests/support/private_kqfsd.hpp"

#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

extern char** environ;

namespace kqfs::test_support {
namespace {

using namespace std::chrono_literals;

// Generous: the machine may be loaded.
constexpr auto kStopPatience = 10s;

// The process whose command line has "--log LOG": the daemon, which forked
// away from the process we started.
pid_t pid_with_log_argument(const std::string& log) {
  const std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
  if (!proc) return -1;
  while (const dirent* entry = ::readdir(proc.get())) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0 || pid == ::getpid()) continue;
    const std::vector<std::string> arguments = command_line_of(pid);
    for (size_t i = 0; i + 1 < arguments.size(); ++i) {
      if (arguments[i] == "--log" && arguments[i + 1] == log) return pid;
    }
  }
  return -1;
}

int spawn_and_wait(const std::vector<std::string>& arguments) {
  std::vector<std::string> copies = arguments;
  std::vector<char*> argv;
  for (std::string& argument : copies)
    argv.push_back(argument.data());
  argv.push_back(nullptr);
  pid_t child = -1;
  if (const int error = ::posix_spawn(&child, argv[0], nullptr, nullptr, argv.data(), environ)) {
    throw std::system_error(error, std::generic_category(), "spawn " + arguments[0]);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TemporaryDirectory::TemporaryDirectory(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + ".XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  path_ = pattern;
}

TemporaryDirectory::~TemporaryDirectory() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

std::string read_whole_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::string> command_line_of(pid_t pid) {
  const std::string text = read_whole_file("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> arguments;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\0', start);
    arguments.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return arguments;
}

bool is_mounted(const std::string& path) {
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

bool process_is_gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  const std::string stat = read_whole_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t after_name = stat.rfind(") ");
  return after_name == std::string::npos || stat.compare(after_name + 2, 1, "Z") == 0;
}

bool wait_until_gone(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!process_is_gone(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string sanitizer_report_in(const std::string& log) {
  const std::string text = read_whole_file(log);
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    if (text.find(marker) != std::string::npos) return text;
  }
  return {};
}

PrivateKqfsd::PrivateKqfsd(const std::string& program, const std::string& prefix)
    : directory_(prefix),
      mount_point_(directory_.path() + "/mnt"),
      log_(directory_.path() + "/kqfsd.log") {
  try {
    std::filesystem::create_directory(mount_point_);
    if (spawn_and_wait({program, "--log", log_, mount_point_}) != 0 || !is_mounted(mount_point_)) {
      throw std::runtime_error("kqfsd did not mount " + mount_point_ + ":\n" +
                               read_whole_file(log_));
    }
    pid_ = pid_with_log_argument(log_);
    if (pid_ <= 0) throw std::runtime_error("kqfsd mounted but its process was not found");
  } catch (...) {
    stop();
    throw;
  }
}

bool PrivateKqfsd::kill_hard() {
  return pid_ > 0 && ::kill(pid_, SIGKILL) == 0 && wait_until_gone(pid_, kStopPatience);
}

bool PrivateKqfsd::stop() {
  if (stopped_) return true;
  stopped_ = true;
  bool ended = true;
  if (pid_ > 0 && !process_is_gone(pid_)) {
    ended = ::kill(pid_, SIGTERM) == 0 && wait_until_gone(pid_, kStopPatience);
    if (!ended) {
      ::kill(pid_, SIGKILL);
      wait_until_gone(pid_, kStopPatience);
    }
  }
  if (is_mounted(mount_point_)) ::umount2(mount_point_.c_str(), MNT_DETACH);
  // Never let the directory's removal recurse into a mount still there.
  if (is_mounted(mount_point_)) directory_.keep();
  return ended;
}

}  // namespace kqfs::test_support
