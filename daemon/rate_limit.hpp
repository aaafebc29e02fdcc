// Keeps a log that anyone may fill (every rejected record, every refused
// queue) to a few lines per source: what it holds back is counted and told
// in one line when the source's window ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace kqfsd {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(unsigned burst, Clock::duration window) : burst_(burst), window_(window) {}

  // Whether a line about `source` may be written now.
  bool allow(const std::string& source, Clock::time_point now = Clock::now());

  // For each source whose window ended: how many lines it held back (only
  // where some were). Forgets ended windows.
  void flush(const std::function<void(const std::string& source, uint64_t held_back)>& report,
             Clock::time_point now = Clock::now());

 private:
  struct Window {
    Clock::time_point start;
    unsigned written = 0;
    uint64_t held_back = 0;
  };
  unsigned burst_;
  Clock::duration window_;
  std::map<std::string, Window, std::less<>> windows_;
};

}  // namespace kqfsd
