#include "daemon/log.hpp"

#include <time.h>
#include <unistd.h>

#include <ctime>
#include <string>

namespace kqfsd {

void Log::write(const char* level, std::string_view message) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm local{};
  ::localtime_r(&now.tv_sec, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &local);
  const std::string line = std::string(stamp) + " kqfsd[" + std::to_string(::getpid()) + "] " +
                           level + ": " + std::string(message) + "\n";
  // One write per line keeps lines whole.
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace kqfsd
