// The stress tools' cases, each against a live kqfs mount and its daemon.
// Each prints its figures and returns whether every check held.
#pragma once

#include <sys/types.h>

#include <string>

namespace kqfs::stress {

// Clients killed with SIGKILL while blocked in read(2) on events, with an
// unfinished line written to changes, and blocked in kevent(): afterwards the
// daemon answers, dropped the unfinished lines, and its descriptors and
// RSS return to what they were (within the tolerances).
struct KillStormOptions {
  std::string mount;
  pid_t daemon = 0;
  int clients = 200;
  int rounds = 1;
  long fd_tolerance = 2;
  long rss_tolerance_kib = 8 * 1024;
};
bool kill_storm(const KillStormOptions& options);

// `writers` threads each add and trigger `events` distinct EV_ONESHOT user
// events into the queues, read by `readers` threads per queue: every event
// must be delivered exactly once.
struct LoadOptions {
  std::string mount;
  int writers = 16;
  int events = 10000;
  int queues = 4;
  int readers = 2;
  int timeout_seconds = 120;
};
bool load(const LoadOptions& options);

// `readers` threads blocked on one queue's events; SIGTERM to the daemon
// must end each read with end of file, and the daemon within `bound_ms`.
struct ShutdownOptions {
  std::string mount;
  pid_t daemon = 0;
  int readers = 100;
  int bound_ms = 10000;
};
bool shutdown_with_readers(const ShutdownOptions& options);

// `processes` writers of random records, valid and not, of every filter and
// format, to `queues` queues for `seconds`; meanwhile the daemon must stay
// up, its status readable and a timer must still fire.
struct FuzzOptions {
  std::string mount;
  pid_t daemon = 0;
  int processes = 4;
  int queues = 4;
  int seconds = 20;
  unsigned seed = 1;
};
bool fuzz(const FuzzOptions& options);

}  // namespace kqfs::stress
