#include "daemon/log.hpp"

#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <ctime>
#include <string>

namespace kqfsd {

Log::Log(bool debug, Sink sink) : debug_(debug), sink_(sink) {
  if (sink_ == Sink::syslog) ::openlog("kqfsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

Log::~Log() {
  if (sink_ == Sink::syslog) ::closelog();
}

void Log::write(Level level, std::string_view message) const {
  static constexpr const char* kNames[] = {"error", "info", "debug"};
  static constexpr int kPriorities[] = {LOG_ERR, LOG_INFO, LOG_DEBUG};
  const auto index = static_cast<size_t>(level);
  if (sink_ == Sink::syslog) {
    ::syslog(kPriorities[index], "%.*s", static_cast<int>(message.size()), message.data());
    return;
  }
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm local{};
  ::localtime_r(&now.tv_sec, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &local);
  const std::string line = std::string(stamp) + " kqfsd[" + std::to_string(::getpid()) + "] " +
                           kNames[index] + ": " + std::string(message) + "\n";
  // One write per line keeps lines whole.
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace kqfsd
