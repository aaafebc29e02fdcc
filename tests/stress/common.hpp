// What the stress and fault tools share: the mount, the daemon under test,
// small checked system-call wrappers and a failure count.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "kqfs/unique_fd.hpp"
#include "tests/support/poll_until.hpp"

namespace kqfs::stress {

// Counts failed checks; each prints its reason. The tool exits 1 if any.
class Verdict {
 public:
  void fail(const std::string& reason);
  bool ok() const { return failures_ == 0; }

 private:
  int failures_ = 0;
};

// Throws std::runtime_error naming `what` and errno.
[[noreturn]] void die(const std::string& what);

UniqueFd open_or_die(const std::string& path, int flags);
void write_all(int fd, std::string_view bytes);
std::string read_file(const std::string& path);
// A field of a queue's status file ("readers"), or -1.
long long status_number(const std::string& queue_dir, std::string_view field);
// mkdir, first removing a queue of that name left by an earlier run.
void fresh_queue(const std::string& queue_dir);

// The daemon's open descriptors and resident memory (KiB), from /proc.
struct Footprint {
  long descriptors = 0;
  long rss_kib = 0;
};
Footprint footprint_of(pid_t pid);
bool alive(pid_t pid);

void sleep_ms(long milliseconds);

// Polls `done` every 20 ms until it holds or `limit` passes.
template <class Done>
bool wait_for(Done done, std::chrono::milliseconds limit) {
  return kqfs::testkit::poll_until(done, limit, std::chrono::milliseconds(20));
}
double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace kqfs::stress
