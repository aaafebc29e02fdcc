// The daemon's log: one line per message on standard error (which main
// points at --log FILE when given).
#pragma once

#include <string_view>

namespace kqfsd {

class Log {
 public:
  explicit Log(bool debug) : debug_(debug) {}

  void error(std::string_view message) const { write("error", message); }
  void info(std::string_view message) const { write("info", message); }
  void debug(std::string_view message) const {
    if (debug_) write("debug", message);
  }
  bool debug_enabled() const { return debug_; }

 private:
  static void write(const char* level, std::string_view message);

  bool debug_;
};

}  // namespace kqfsd
