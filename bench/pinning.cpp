#include "bench/pinning.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <stdexcept>

#include "bench/errors.hpp"

namespace kqfs::bench {
namespace {

// The threads of `process`, from /proc/PID/task.
std::vector<pid_t> threads_of(pid_t process) {
  const std::string tasks = "/proc/" + std::to_string(process) + "/task";
  const std::unique_ptr<DIR, int (*)(DIR*)> directory(::opendir(tasks.c_str()), ::closedir);
  if (!directory) throw_errno("opendir " + tasks);
  std::vector<pid_t> threads;
  while (const dirent* entry = ::readdir(directory.get())) {
    if (const pid_t thread = static_cast<pid_t>(std::atoi(entry->d_name)); thread > 0) {
      threads.push_back(thread);
    }
  }
  return threads;
}

cpu_set_t only(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return set;
}

}  // namespace

std::vector<int> allowed_cpus(size_t most) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) throw_errno("sched_getaffinity");
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < most; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  }
  if (cpus.empty()) throw std::runtime_error("no CPU to run on");
  return cpus;
}

void pin_this_thread(int cpu) {
  const cpu_set_t set = only(cpu);
  if (::sched_setaffinity(0, sizeof set, &set) != 0) throw_errno("sched_setaffinity");
}

std::string CpuPlacement::text() const {
  return client_cpu == daemon_cpu ? "client and daemon on CPU " + std::to_string(client_cpu)
                                  : "client on CPU " + std::to_string(client_cpu) +
                                        ", daemon on CPU " + std::to_string(daemon_cpu);
}

std::vector<CpuPlacement> client_daemon_placements() {
  const std::vector<int> cpus = allowed_cpus(2);
  std::vector<CpuPlacement> placements{{"same_cpu", "1 CPU", cpus.front(), cpus.front()}};
  if (cpus.size() > 1) placements.push_back({"cross_cpu", "2 CPUs", cpus.front(), cpus.back()});
  return placements;
}

// Delegates to the default constructor, so that the destructor gives back
// what was pinned when a later pin throws.
Pinned::Pinned(const CpuPlacement& placement, pid_t daemon) : Pinned() {
  pin(::gettid(), placement.client_cpu);
  if (daemon > 0) {
    for (const pid_t thread : threads_of(daemon))
      pin(thread, placement.daemon_cpu);
  }
}

Pinned::~Pinned() {
  // A daemon thread may have ended since (ESRCH): nothing to give back.
  for (const Saved& saved : saved_)
    ::sched_setaffinity(saved.thread, sizeof saved.allowed, &saved.allowed);
  saved_.clear();
}

void Pinned::pin(pid_t thread, int cpu) {
  Saved saved{thread, {}};
  if (::sched_getaffinity(thread, sizeof saved.allowed, &saved.allowed) != 0) {
    if (errno == ESRCH) return;  // a daemon thread that just ended
    throw_errno("sched_getaffinity " + std::to_string(thread));
  }
  saved_.push_back(saved);
  const cpu_set_t set = only(cpu);
  if (::sched_setaffinity(thread, sizeof set, &set) != 0 && errno != ESRCH) {
    throw_errno("sched_setaffinity " + std::to_string(thread));
  }
}

}  // namespace kqfs::bench
