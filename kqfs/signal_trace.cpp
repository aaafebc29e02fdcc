#include "kqfs/signal_trace.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace kqfs {
namespace {

constexpr const char* kTracingRoots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
constexpr const char* kEvent = "/events/signal/signal_generate/";
constexpr int kResultIgnored = 1;  // TRACE_SIGNAL_IGNORED
// Per CPU: room for some twenty thousand signals between two reads.
constexpr const char* kBufferKilobytes = "1024";

bool readable(const std::string& path) {
  return ::access(path.c_str(), R_OK) == 0;
}

// Where tracefs is, mounting it (root only) when it is nowhere.
std::string tracing_root() {
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (const char* root : kTracingRoots) {
      if (readable(std::string(root) + "/instances")) return root;
    }
    ::mount("nodev", kTracingRoots[0], "tracefs", 0, nullptr);
  }
  return {};
}

// Instances left by kqfs processes that are gone (a crash) are removed.
void remove_stale_instances(const std::string& instances) {
  DIR* directory = ::opendir(instances.c_str());
  if (directory == nullptr) return;
  while (const dirent* entry = ::readdir(directory)) {
    int owner = 0;
    if (std::sscanf(entry->d_name, "kqfs-%d-", &owner) == 1 && owner > 0 && ::kill(owner, 0) != 0 &&
        errno == ESRCH) {
      ::rmdir((instances + "/" + entry->d_name).c_str());
    }
  }
  ::closedir(directory);
}

}  // namespace

SignalTrace::~SignalTrace() {
  if (instance_.empty()) return;
  host_.remove_source(pipe_.get());
  write_setting(std::string(kEvent) + "enable", "0");
  pipe_.reset();
  ::rmdir(instance_.c_str());
}

bool SignalTrace::write_setting(const std::string& file, const std::string& value) const {
  UniqueFd setting(::open((instance_ + "/" + file).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  return setting &&
         ::write(setting.get(), value.data(), value.size()) == static_cast<ssize_t>(value.size());
}

bool SignalTrace::open(std::string& why_not) {
  if (!instance_.empty()) return true;
  const std::string root = tracing_root();
  if (root.empty()) {
    why_not = "no signal tracing: tracefs is not mounted and cannot be (it needs root)";
    return false;
  }
  remove_stale_instances(root + "/instances");
  char name[64];
  std::snprintf(name, sizeof name, "/instances/kqfs-%d-%p", ::getpid(), static_cast<void*>(this));
  const std::string instance = root + name;
  if (::mkdir(instance.c_str(), 0700) != 0) {
    why_not = std::string("no signal tracing: cannot make a tracefs instance: ") +
              std::strerror(errno) + " (the daemon needs root)";
    return false;
  }
  instance_ = instance;
  // Readers wake at the first event, not when the buffer is half full.
  write_setting("buffer_percent", "0");
  write_setting("buffer_size_kb", kBufferKilobytes);
  pipe_.reset(::open((instance_ + "/trace_pipe").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!pipe_ || !readable(instance_ + kEvent + "filter")) {
    why_not = "no signal tracing: the tracepoint signal:signal_generate is not there";
    pipe_.reset();
    ::rmdir(instance_.c_str());
    instance_.clear();
    return false;
  }
  if (const int error = host_.add_source(pipe_.get(), EPOLLIN, *this); error != 0) {
    why_not = std::string("no signal tracing: ") + std::strerror(error);
    pipe_.reset();
    ::rmdir(instance_.c_str());
    instance_.clear();
    return false;
  }
  return true;
}

void SignalTrace::set_targets(const std::set<pid_t>& threads, pid_t newer_than) {
  if (instance_.empty()) return;
  if (threads.empty()) {
    write_setting(std::string(kEvent) + "enable", "0");
    return;
  }
  std::string filter = "pid > " + std::to_string(newer_than);
  for (const pid_t thread : threads)
    filter += " || pid == " + std::to_string(thread);
  // Past what a filter takes, every signal comes and the handler chooses.
  if (!write_setting(std::string(kEvent) + "filter", filter)) {
    write_setting(std::string(kEvent) + "filter", "0");
  }
  write_setting(std::string(kEvent) + "enable", "1");
}

void SignalTrace::on_ready(uint32_t) {
  char buffer[8192];
  for (;;) {
    const ssize_t length = ::read(pipe_.get(), buffer, sizeof buffer);
    if (length <= 0) return;
    partial_.append(buffer, static_cast<size_t>(length));
    size_t start = 0;
    for (size_t end; (end = partial_.find('\n', start)) != std::string::npos; start = end + 1) {
      handle_line(partial_.substr(start, end - start));
    }
    partial_.erase(0, start);
  }
}

// "... signal_generate: sig=10 errno=0 code=0 comm=a b pid=7 grp=1 res=0":
// the command name may hold spaces, so the last fields are found from the end.
void SignalTrace::handle_line(const std::string& line) {
  const size_t event = line.find("signal_generate: ");
  const size_t target = line.rfind(" pid=");
  if (event == std::string::npos || target == std::string::npos || target < event) return;
  GeneratedSignal generated{};
  int error = 0;
  int group = 0;
  int result = 0;
  if (std::sscanf(line.c_str() + event, "signal_generate: sig=%d errno=%d code=%d",
                  &generated.signal, &error, &generated.code) != 3 ||
      std::sscanf(line.c_str() + target, " pid=%d grp=%d res=%d", &generated.target, &group,
                  &result) != 3) {
    return;
  }
  generated.ignored = result == kResultIgnored;
  handler_(generated);
}

}  // namespace kqfs
