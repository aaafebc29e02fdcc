#include "daemon/log.hpp"

#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace kqfsd {

namespace {

constexpr const char* kNames[] = {"error", "warning", "info", "debug"};
constexpr int kPriorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

// systemd connects a service's standard error to the journal and says so in
// $JOURNAL_STREAM, "DEVICE:INODE" of that stream.
bool standard_error_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  uintmax_t device = 0;
  uintmax_t inode = 0;
  if (std::sscanf(stream, "%ju:%ju", &device, &inode) != 2) return false;
  struct stat status {};
  if (::fstat(STDERR_FILENO, &status) != 0) return false;
  return status.st_dev == device && status.st_ino == inode;
}

}  // namespace

Log::Log(Level level, Sink sink) : level_(level), sink_(sink) {
  if (sink_ == Sink::syslog) ::openlog("kqfsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
  standard_error_changed();
}

Log::~Log() {
  if (sink_ == Sink::syslog) ::closelog();
}

void Log::standard_error_changed() {
  to_journal_ = sink_ == Sink::standard_error && standard_error_is_journal();
}

std::optional<Log::Level> Log::level_named(std::string_view name) {
  for (size_t index = 0; index < std::size(kNames); ++index) {
    if (name == kNames[index]) return static_cast<Level>(index);
  }
  return std::nullopt;
}

void Log::write(Level level, std::string_view message) const {
  if (level > level_) return;
  const auto index = static_cast<size_t>(level);
  if (sink_ == Sink::syslog) {
    ::syslog(kPriorities[index], "%.*s", static_cast<int>(message.size()), message.data());
    return;
  }
  std::string line;
  if (to_journal_) {
    line = "<" + std::to_string(kPriorities[index]) + ">";
  } else {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    tm local{};
    ::localtime_r(&now.tv_sec, &local);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &local);
    line = std::string(stamp) + " kqfsd[" + std::to_string(::getpid()) + "] ";
  }
  line += kNames[index];
  line += ": ";
  line += message;
  line += "\n";
  // One write per line keeps lines whole.
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace kqfsd
