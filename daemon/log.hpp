// The daemon's log: one line per message on standard error (which main
// points at --log FILE when given), or to syslog when the daemon runs
// detached with no log file. Messages below the level set are dropped.
#pragma once

#include <optional>
#include <string_view>

namespace kqfsd {

class Log {
 public:
  // Most to least severe; each level writes the ones before it too.
  enum class Level { error, warning, info, debug };
  enum class Sink { standard_error, syslog };

  explicit Log(Level level, Sink sink = Sink::standard_error);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  void error(std::string_view message) const { write(Level::error, message); }
  void warning(std::string_view message) const { write(Level::warning, message); }
  void info(std::string_view message) const { write(Level::info, message); }
  void debug(std::string_view message) const { write(Level::debug, message); }
  bool debug_enabled() const { return level_ >= Level::debug; }

  // Standard error was pointed somewhere else (the log reopened): whether
  // it is the journal is found again.
  void standard_error_changed();

  // "error", "warning", "info", "debug"; nullopt for another word.
  static std::optional<Level> level_named(std::string_view name);

 private:
  void write(Level level, std::string_view message) const;

  Level level_;
  Sink sink_;
  // Standard error is the journal's stream ($JOURNAL_STREAM names it):
  // lines carry sd-daemon's <N> priority prefix, and no time or pid, which
  // the journal records itself.
  bool to_journal_ = false;
};

}  // namespace kqfsd
