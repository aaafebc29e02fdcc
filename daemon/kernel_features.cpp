#include "daemon/kernel_features.hpp"

#include <linux/capability.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/processes.hpp"
#include "kqfs/linux/proc_connector.hpp"
#include "kqfs/linux/ptrace_access.hpp"
#include "kqfs/linux/signal_trace.hpp"
#include "kqfs/linux/sock_diag.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfsd {
namespace {

// A reason, with what the filters do without the feature.
std::string unless_empty(std::string why, std::string_view consequence) {
  if (why.empty()) return why;
  return why.append(": ").append(consequence);
}

std::string pidfd_getfd_reason() {
  std::string why = pidfd_getfd_probe();
  if (why.empty() && !kqfs::has_effective_capability(CAP_SYS_PTRACE)) {
    why =
        "kqfsd lacks CAP_SYS_PTRACE, and the kernel gives it the descriptors only of processes "
        "it may ptrace";
  }
  return unless_empty(std::move(why),
                      "other processes' files are reopened through /proc/PID/fd instead "
                      "(sockets cannot be)");
}

// EVFILT_PROC's NOTE_EXIT needs no ptrace, but where /proc is the only
// source of an exit status (a process already exited when registered, or
// any exit without the connector), only ptrace access shows it.
std::string proc_exit_status_reason(bool connector) {
  if (kqfs::has_effective_capability(CAP_SYS_PTRACE)) return {};
  return std::string(
             "kqfsd lacks CAP_SYS_PTRACE, and /proc shows it the exit status only of processes "
             "it may ptrace (the same uid and gid, no capability it lacks): EVFILT_PROC's "
             "NOTE_EXIT is ENOTSUP on any other process ") +
         (connector ? "that has already exited when registered"
                    : "(no process-events connector to report its status)");
}

std::string inotify_reason() {
  const kqfs::UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (inotify) return {};
  return std::string("no inotify instance: ") + std::strerror(errno) +
         ": EVFILT_VNODE, and EVFILT_READ on regular files and directories, fail";
}

}  // namespace

std::vector<KernelFeature> probe_kernel_features() {
  std::string connector = kqfs::ProcConnector::probe();
  const bool has_connector = connector.empty();
  return {
      {"proc-connector",
       unless_empty(std::move(connector),
                    "EVFILT_PROC refuses NOTE_FORK, NOTE_EXEC and NOTE_TRACK (NOTE_EXIT works, "
                    "by pidfd)")},
      {"proc-exit-status", proc_exit_status_reason(has_connector)},
      {"signal-tracing", unless_empty(kqfs::SignalTracer::probe(), "EVFILT_SIGNAL fails")},
      {"pidfd-getfd", pidfd_getfd_reason()},
      {"pidfd-thread",
       unless_empty(pidfd_thread_probe(),
                    "a writer's thread is looked up in /proc at each of its requests")},
      {"sock-diag",
       unless_empty(kqfs::sock_diag_probe(),
                    "a unix listener's backlog reads 0 and a unix socket's shutdown(SHUT_WR) "
                    "goes unseen")},
      {"inotify", inotify_reason()},
  };
}

}  // namespace kqfsd
