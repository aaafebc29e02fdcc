// kqfs-stress: stress and fault cases against a live kqfs mount.
//
//   kqfs-stress CASE [--mount DIR] [--pid PID] [options]
//
// CASE is kill-storm, load, shutdown or fuzz (see storms.hpp). DIR defaults
// to $KQFS_MOUNT; PID, the daemon's, defaults to the one named by the
// mount's source (kqfs:pid=N). CI runs each case bounded
// (tests/bats/stress.bats); the same cases run by hand at full size, e.g.
//   kqfs-stress kill-storm --clients 1000
//   kqfs-stress load --writers 64 --events 10000
//   kqfs-stress fuzz --seconds 600
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "tests/stress/storms.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: kqfs-stress kill-storm|load|shutdown|fuzz [--mount DIR] [--pid PID]\n"
               "  kill-storm: --clients N (200) --rounds N (1) --fd-tolerance N (2)\n"
               "              --rss-tolerance-kib N (8192)\n"
               "  load:       --writers N (16) --events N (10000) --queues N (4) --readers N (2)\n"
               "              --timeout SECONDS (120)\n"
               "  shutdown:   --readers N (100) --bound-ms N (10000)  (stops the daemon)\n"
               "  fuzz:       --processes N (4) --queues N (4) --seconds N (20) --seed N (1)\n");
}

// The daemon serving `mount`: its fsname is kqfs:pid=N.
pid_t daemon_of(const std::string& mount) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  pid_t found = 0;
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point, field, type, source;
    fields >> id >> parent >> device >> root >> point;
    if (point != mount) continue;
    while (fields >> field && field != "-") {
    }
    fields >> type >> source;
    if (type == "fuse.kqfs" && source.rfind("kqfs:pid=", 0) == 0) {
      found = static_cast<pid_t>(std::atoi(source.c_str() + 9));
    }
  }
  return found;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage();
    return 2;
  }
  const std::string which = argv[1];
  std::map<std::string, std::string> given;
  for (int i = 2; i < argc; ++i) {
    if (std::strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc) {
      usage();
      return 2;
    }
    given[argv[i] + 2] = argv[i + 1];
    ++i;
  }
  auto number = [&](const char* name, long fallback) {
    const auto found = given.find(name);
    if (found == given.end()) return fallback;
    const long value = std::strtol(found->second.c_str(), nullptr, 10);
    given.erase(found);
    return value;
  };
  std::string mount = given.count("mount") ? given["mount"] : "";
  given.erase("mount");
  if (mount.empty() && std::getenv("KQFS_MOUNT") != nullptr) mount = std::getenv("KQFS_MOUNT");
  if (mount.empty()) {
    usage();
    return 2;
  }
  // The client library's kqueue() opens kq/clone there.
  ::setenv("KQFS_MOUNT", mount.c_str(), 1);
  const auto daemon = static_cast<pid_t>(number("pid", daemon_of(mount)));

  bool passed = false;
  try {
    if (which == "kill-storm") {
      kqfs::stress::KillStormOptions options{mount, daemon};
      options.clients = static_cast<int>(number("clients", options.clients));
      options.rounds = static_cast<int>(number("rounds", options.rounds));
      options.fd_tolerance = number("fd-tolerance", options.fd_tolerance);
      options.rss_tolerance_kib = number("rss-tolerance-kib", options.rss_tolerance_kib);
      if (!given.empty()) return usage(), 2;
      passed = kqfs::stress::kill_storm(options);
    } else if (which == "load") {
      kqfs::stress::LoadOptions options{mount};
      options.writers = static_cast<int>(number("writers", options.writers));
      options.events = static_cast<int>(number("events", options.events));
      options.queues = static_cast<int>(number("queues", options.queues));
      options.readers = static_cast<int>(number("readers", options.readers));
      options.timeout_seconds = static_cast<int>(number("timeout", options.timeout_seconds));
      if (!given.empty()) return usage(), 2;
      passed = kqfs::stress::load(options);
    } else if (which == "shutdown") {
      kqfs::stress::ShutdownOptions options{mount, daemon};
      options.readers = static_cast<int>(number("readers", options.readers));
      options.bound_ms = static_cast<int>(number("bound-ms", options.bound_ms));
      if (!given.empty()) return usage(), 2;
      passed = kqfs::stress::shutdown_with_readers(options);
    } else if (which == "fuzz") {
      kqfs::stress::FuzzOptions options{mount, daemon};
      options.processes = static_cast<int>(number("processes", options.processes));
      options.queues = static_cast<int>(number("queues", options.queues));
      options.seconds = static_cast<int>(number("seconds", options.seconds));
      options.seed = static_cast<unsigned>(number("seed", options.seed));
      if (!given.empty()) return usage(), 2;
      passed = kqfs::stress::fuzz(options);
    } else {
      usage();
      return 2;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "kqfs-stress %s: %s\n", which.c_str(), error.what());
    return 1;
  }
  return passed ? 0 : 1;
}
