// kqfsd's command line and configuration file.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "daemon/log.hpp"
#include "kqfs/linux/signal_trace.hpp"

namespace kqfsd {

// The longest busy-poll window kqfsd accepts: 10 ms.
constexpr unsigned kMostBusyPollMicroseconds = 10'000;

struct Options {
  std::string mount_point;
  bool foreground = false;
  Log::Level log_level = Log::Level::info;  // -d: debug
  std::vector<std::string> fuse_options;    // each as given to -o
  size_t max_queues = 65536;
  size_t max_knotes = 4 * 1024 * 1024;  // per queue
  size_t max_queues_per_user = 4096;
  size_t max_knotes_per_user = 4 * 1024 * 1024;
  size_t max_buffered_per_user = 4 * 1024 * 1024;  // bytes of unfinished lines
  // Per CPU, for the daemon's one tracefs instance (EVFILT_SIGNAL).
  size_t signal_buffer_kb = kqfs::SignalTracer::kDefaultBufferKilobytes;
  // After the last request, how long to keep reading the FUSE device before
  // sleeping, in microseconds, while requests come quickly (0: never). 25 us
  // catches a client that asks again at once (docs/performance.md).
  unsigned busy_poll_us = 25;
  std::string log_file;   // empty: standard error
  bool nonempty = false;  // mount over a directory that has files
};

struct ParsedCommandLine {
  std::optional<Options> options;  // empty: exit with exit_code
  int exit_code = 0;
};

// Parses argv (and --config FILE); prints help, version or the error itself.
ParsedCommandLine parse_command_line(int argc, char** argv);

}  // namespace kqfsd
