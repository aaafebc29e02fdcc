#include "tests/stress/common.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "tests/support/descriptors.hpp"

namespace kqfs::stress {

void Verdict::fail(const std::string& reason) {
  ++failures_;
  std::fprintf(stderr, "FAIL: %s\n", reason.c_str());
}

void die(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

UniqueFd open_or_die(const std::string& path, int flags) {
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (!fd) die("open " + path);
  return fd;
}

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) die("write");
    bytes.remove_prefix(static_cast<size_t>(written));
  }
}

std::string read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  return test_support::read_all(fd.get());
}

long long status_number(const std::string& queue_dir, std::string_view field) {
  const std::string text = read_file(queue_dir + "/status");
  const std::string key = "\n" + std::string(field) + ": ";
  const size_t at = ("\n" + text).find(key);
  if (at == std::string::npos) return -1;
  return std::strtoll(text.c_str() + at + key.size() - 1, nullptr, 10);
}

void fresh_queue(const std::string& queue_dir) {
  ::rmdir(queue_dir.c_str());
  if (::mkdir(queue_dir.c_str(), 0700) != 0) die("mkdir " + queue_dir);
}

Footprint footprint_of(pid_t pid) {
  Footprint footprint;
  std::error_code error;
  const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  for (auto it = std::filesystem::directory_iterator(fds, error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++footprint.descriptors;
  }
  const std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  if (const size_t at = status.find("VmRSS:"); at != std::string::npos) {
    footprint.rss_kib = std::strtol(status.c_str() + at + 6, nullptr, 10);
  }
  return footprint;
}

bool alive(pid_t pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

void sleep_ms(long milliseconds) {
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace kqfs::stress
