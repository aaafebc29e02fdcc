#include "daemon/kernel_features.hpp"

#include <linux/capability.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/processes.hpp"
#include "kqfs/linux/proc_connector.hpp"
#include "kqfs/linux/signal_trace.hpp"
#include "kqfs/linux/sock_diag.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfsd {
namespace {

// Whether the daemon holds `capability` in its effective set.
bool has_capability(int capability) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_TO_INDEX(capability)].effective & CAP_TO_MASK(capability)) != 0;
}

// A reason, with what the filters do without the feature.
std::string unless_empty(std::string why, std::string_view consequence) {
  if (why.empty()) return why;
  return why.append(": ").append(consequence);
}

std::string pidfd_getfd_reason() {
  std::string why = pidfd_getfd_probe();
  if (why.empty() && !has_capability(CAP_SYS_PTRACE)) {
    why =
        "kqfsd lacks CAP_SYS_PTRACE, and the kernel gives it the descriptors only of processes "
        "it may ptrace";
  }
  return unless_empty(std::move(why),
                      "other processes' files are reopened through /proc/PID/fd instead "
                      "(sockets cannot be)");
}

std::string inotify_reason() {
  const kqfs::UniqueFd inotify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (inotify) return {};
  return std::string("no inotify instance: ") + std::strerror(errno) +
         ": EVFILT_VNODE, and EVFILT_READ on regular files and directories, fail";
}

}  // namespace

std::vector<KernelFeature> probe_kernel_features() {
  return {
      {"proc-connector",
       unless_empty(kqfs::ProcConnector::probe(),
                    "EVFILT_PROC refuses NOTE_FORK, NOTE_EXEC and NOTE_TRACK (NOTE_EXIT works, "
                    "by pidfd)")},
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
