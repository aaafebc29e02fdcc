#include "daemon/rate_limit.hpp"

namespace kqfsd {

bool RateLimiter::allow(const std::string& source, Clock::time_point now) {
  auto [found, added] = windows_.try_emplace(source, Window{now});
  Window& window = found->second;
  if (!added && now - window.start >= window_) {
    // A new window; what the old one held back is told by flush().
    if (window.held_back == 0) window = Window{now};
  }
  if (window.written < burst_ && now - window.start < window_) {
    ++window.written;
    return true;
  }
  ++window.held_back;
  return false;
}

void RateLimiter::flush(
    const std::function<void(const std::string& source, uint64_t held_back)>& report,
    Clock::time_point now) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now - it->second.start < window_) {
      ++it;
      continue;
    }
    if (it->second.held_back > 0) report(it->first, it->second.held_back);
    it = windows_.erase(it);
  }
}

}  // namespace kqfsd
