// CPU affinity for the measurements: the CPUs this process may use, and
// the benchmark's thread with a daemon pinned as a case wants them, both on
// one CPU or each on its own, for the length of one measurement.
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace kqfs::bench {

// The first `most` CPUs this process may use, at least one.
std::vector<int> allowed_cpus(size_t most);

// Pins the calling thread to `cpu`.
void pin_this_thread(int cpu);

// Where the client (the benchmark's thread) and the daemon run.
struct CpuPlacement {
  std::string name;   // "same_cpu" or "cross_cpu", in the ratio names
  std::string label;  // "1 CPU" or "2 CPUs", in the table's rows
  int client_cpu = 0;
  int daemon_cpu = 0;

  std::string text() const;  // for the report
};

// Client and daemon on one CPU, then, when two CPUs are allowed, on two.
std::vector<CpuPlacement> client_daemon_placements();

// Pins the calling thread and every thread of `daemon` (none when it is not
// positive) as `placement` says; when it goes, each gets back the CPUs it
// was allowed before.
class Pinned {
 public:
  Pinned(const CpuPlacement& placement, pid_t daemon);
  ~Pinned();
  Pinned(const Pinned&) = delete;
  Pinned& operator=(const Pinned&) = delete;

 private:
  struct Saved {
    pid_t thread;
    cpu_set_t allowed;
  };
  Pinned() = default;
  void pin(pid_t thread, int cpu);

  std::vector<Saved> saved_;
};

}  // namespace kqfs::bench
