// The daemon's log: one line per message on standard error (which main
// points at --log FILE when given), or to syslog when the daemon runs
// detached with no log file.
#pragma once

#include <string_view>

namespace kqfsd {

class Log {
 public:
  enum class Sink { standard_error, syslog };

  explicit Log(bool debug, Sink sink = Sink::standard_error);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  void error(std::string_view message) const { write(Level::error, message); }
  void info(std::string_view message) const { write(Level::info, message); }
  void debug(std::string_view message) const {
    if (debug_) write(Level::debug, message);
  }
  bool debug_enabled() const { return debug_; }

 private:
  enum class Level { error, info, debug };
  void write(Level level, std::string_view message) const;

  bool debug_;
  Sink sink_;
};

}  // namespace kqfsd
