#include "tests/support/private_kqfsd.hpp"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
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

namespace kqfs::test_support {
namespace {

using namespace std::chrono_literals;

// Generous: the machine may be loaded.
constexpr auto kStartPatience = 10s;
constexpr auto kStopPatience = 10s;

// Forks `PROGRAM --foreground ...`: the daemon stays our child, in our
// process group (Ctrl-C reaches it), and is told to stop when its parent
// dies, so that a killed test or benchmark leaves no mount behind.
pid_t start_foreground(const std::vector<std::string>& arguments) {
  std::vector<std::string> copies = arguments;
  std::vector<char*> argv;
  for (std::string& argument : copies)
    argv.push_back(argument.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (child == 0) {
    // Only async-signal-safe calls between fork and exec.
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent) ::_exit(127);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return child;
}

// Reaps the child if it has ended; whether it has (or was reaped before).
bool reaped(pid_t child) {
  int status = 0;
  const pid_t result = ::waitpid(child, &status, WNOHANG);
  return result == child || (result < 0 && errno == ECHILD);
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
  std::filesystem::create_directory(mount_point_);
  pid_ = start_foreground({program, "--foreground", "--log", log_, mount_point_});
  const auto deadline = std::chrono::steady_clock::now() + kStartPatience;
  while (!is_mounted(mount_point_)) {
    if (reaped(pid_) || std::chrono::steady_clock::now() >= deadline) {
      stop();
      throw std::runtime_error("kqfsd did not mount " + mount_point_ + ":\n" +
                               read_whole_file(log_));
    }
    std::this_thread::sleep_for(2ms);
  }
}

bool PrivateKqfsd::kill_hard() {
  return !stopped_ && ::kill(pid_, SIGKILL) == 0 && wait_until_reaped(kStopPatience);
}

bool PrivateKqfsd::wait_until_reaped(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!reaped(pid_)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

bool PrivateKqfsd::stop() {
  if (stopped_) return true;
  stopped_ = true;
  bool ended = ::kill(pid_, SIGTERM) != 0 || wait_until_reaped(kStopPatience);
  if (!ended) {
    ::kill(pid_, SIGKILL);
    wait_until_reaped(kStopPatience);
  }
  if (is_mounted(mount_point_)) ::umount2(mount_point_.c_str(), MNT_DETACH);
  // Never let the directory's removal recurse into a mount still there.
  if (is_mounted(mount_point_)) directory_.keep();
  return ended;
}

}  // namespace kqfs::test_support
