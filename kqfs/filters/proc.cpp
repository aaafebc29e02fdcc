// EVFILT_PROC: exit (with its wait(2) status), fork and exec of any
// process the caller can see, not only children, and NOTE_TRACK. The
// process-events connector reports all three; without it a pidfd per knote
// still reports exits. None of it needs ptrace access to the process, but
// /proc shows a zombie's exit status only to whoever has it: where that is
// the only source of the status, NOTE_EXIT without it is ENOTSUP.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kqfs/filter_table.hpp"
#include "kqfs/linux/proc_connector.hpp"
#include "kqfs/linux/procfs.hpp"
#include "kqfs/linux/ptrace_access.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs {
namespace {

constexpr uint32_t kNeedsConnector = NOTE_FORK | NOTE_EXEC | NOTE_TRACK;

// What /proc says of a process: gone, alive, or a zombie with its status.
struct ProcessState {
  bool exists = false;
  bool zombie = false;
  uint32_t exit_status = 0;  // for a zombie, as wait(2) reports it
};

ProcessState state_of(pid_t pid) {
  const auto stat = procfs::read_stat(pid);
  if (!stat) return {};
  ProcessState state;
  state.exists = true;
  state.zombie = stat.value().state == 'Z';
  constexpr size_t kExitCodeField = 52;
  if (state.zombie) {
    state.exit_status = static_cast<uint32_t>(stat.value().number(kExitCodeField).value_or(0));
  }
  return state;
}

// A wait(2) status from what waitid() says of an exited child.
uint32_t wait_status(const siginfo_t& info) {
  return info.si_code == CLD_EXITED
             ? W_EXITCODE(info.si_status, 0)
             : static_cast<uint32_t>(info.si_status) | (info.si_code == CLD_DUMPED ? WCOREFLAG : 0);
}

// What waitid() says of process `pid` if it is a child of ours, without
// reaping it (si_pid 0 while it runs): its status, whatever /proc would
// show. Nothing for any other process.
std::optional<siginfo_t> as_parent(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return std::nullopt;
  }
  return info;
}

// A zombie's wait status: a child's from waitid(), any other's from /proc.
uint32_t zombie_status(pid_t pid, const ProcessState& state) {
  const auto info = as_parent(pid);
  return info && info->si_pid != 0 ? wait_status(*info) : state.exit_status;
}

// A thread other than its process's first has a /proc entry of its own,
// but a BSD pid names a process: ESRCH for a thread id.
bool is_process_id(pid_t pid) {
  const auto status = procfs::read_file(procfs::path_of(pid, "status"));
  return status && procfs::number_of(status.value(), "Tgid:") == pid;
}

class ProcFilter;

struct ProcKnote final : Knote, ProcConnector::Subscriber, Source {
  ProcKnote(const Kevent& change, ProcFilter& filter) : Knote(change), filter(filter) {}
  ~ProcKnote() override;

  pid_t pid() const { return static_cast<pid_t>(ident); }
  void on_process_event(const ProcessEvent& event) override;
  void on_ready(uint32_t) override;  // the pidfd, without the connector
  void exited(uint32_t status);

  ProcFilter& filter;
  UniqueFd pidfd;
  std::set<pid_t> threads;  // the process ends with the last of them
  bool has_exited = false;
  uint32_t exit_status = 0;
  pid_t announce_parent = 0;  // NOTE_TRACK: NOTE_CHILD with this pid is due
};

class ProcFilter final : public Filter {
 public:
  ProcFilter(FilterHost& host, ProcConnector& processes) : host_(host), processes_(processes) {}

  bool uses_caller() const override { return true; }  // which processes it may see

  Result<std::unique_ptr<Knote>> attach(const Kevent& change, const Caller& caller) override {
    const pid_t pid = static_cast<pid_t>(change.ident);
    std::string why;
    if (const int error = check_sees_process(*caller, change.ident, why); error != 0) {
      if (!why.empty()) host_.explain(std::move(why));
      return Errno{error};
    }
    // Listen before looking, so that no exit falls in between.
    const bool connector = processes_.open();
    if (!connector && (change.fflags & kNeedsConnector)) {
      host_.explain(processes_.why_unavailable());
      return Errno{processes_.short_of() != 0 ? processes_.short_of() : ENOTSUP};
    }
    auto kn = std::make_unique<ProcKnote>(change, *this);
    kn->flags |= EV_CLEAR;  // as on every BSD
    if (connector) {
      processes_.subscribe(pid, *kn);
    } else if (const int error = watch_with_pidfd(*kn); error != 0) {
      return Errno{error};
    }
    const ProcessState state = state_of(pid);
    if (!state.exists || !is_process_id(pid)) return Errno{ESRCH};
    kn->threads = procfs::live_threads(pid);
    const bool zombie = kn->threads.empty();
    if (change.fflags & NOTE_EXIT) {
      if (const int error = check_exit_status_known(pid, zombie, connector); error != 0) {
        return Errno{error};
      }
    }
    // All threads gone, not yet reaped: FreeBSD fires at once.
    if (zombie) kn->exited(zombie_status(pid, state));
    return std::unique_ptr<Knote>(std::move(kn));
  }

  void detach(Knote& kn) override { stop(proc(kn)); }

  bool event(Knote& kn) override {
    const ProcKnote& p = proc(kn);
    return p.announce_parent != 0 || p.fflags != 0 || (p.flags & EV_DROP);
  }

  Kevent deliver(Knote& kn) override {
    ProcKnote& p = proc(kn);
    Kevent out = p.as_event();
    if (p.announce_parent != 0) {
      // A tracked child's first event: NOTE_CHILD, data = its parent.
      out.fflags = NOTE_CHILD;
      out.data = p.announce_parent;
      out.flags &= static_cast<uint16_t>(~EV_EOF);
      p.announce_parent = 0;
      // Already gone: what it asked for once more, else silently.
      if (p.has_exited) p.flags |= p.fflags != 0 ? EV_ONESHOT : EV_DROP;
      p.requeue = p.fflags != 0 || p.has_exited;
      return out;
    }
    out.data = (p.fflags & NOTE_EXIT) ? p.exit_status : 0;
    if (p.flags & EV_CLEAR) p.fflags = 0;
    return out;
  }

  // A child of a NOTE_TRACK process: a knote of its own with the parent's
  // fflags and udata, announcing itself with NOTE_CHILD.
  bool track(ProcKnote& parent, pid_t child) {
    Kevent change{
        static_cast<uint64_t>(child), EVFILT_PROC, parent.flags, parent.sfflags, 0, parent.udata};
    change.flags &= static_cast<uint16_t>(~(EV_EOF | EV_ONESHOT | EV_DROP));
    auto kn = std::make_unique<ProcKnote>(change, *this);
    kn->announce_parent = parent.pid();
    kn->threads = {child};
    ProcKnote& made = *kn;
    processes_.subscribe(child, made);
    if (!host_.insert(std::move(kn))) return false;  // unsubscribed by its destructor
    host_.post(made);
    return true;
  }

  void post(ProcKnote& kn) { host_.post(kn); }

  void stop(ProcKnote& kn) {
    processes_.unsubscribe(kn.pid(), kn);
    if (kn.pidfd) {
      host_.remove_source(kn.pidfd.get());
      kn.pidfd.reset();
    }
  }

 private:
  static ProcKnote& proc(Knote& kn) { return static_cast<ProcKnote&>(kn); }

  // NOTE_EXIT promises the wait status. The connector reports it with the
  // exit, and waitid() a child's; otherwise it comes from /proc, which shows
  // it only to whoever may ptrace the process (CAP_SYS_PTRACE, or the same
  // credentials and no capability more): for a zombie already, and for any
  // exit when there is no connector. Without that access, ENOTSUP and why,
  // rather than a status of 0 for every exit.
  int check_exit_status_known(pid_t pid, bool zombie, bool connector) {
    if ((connector && !zombie) || as_parent(pid)) return 0;
    const std::string hidden = ptrace_read_refusal(pid);
    if (hidden.empty()) return 0;
    const std::string process = "process " + std::to_string(pid);
    if (zombie) {
      host_.explain(process + " has exited, and /proc hides its exit status from kqfs: " + hidden);
    } else {
      host_.explain(processes_.why_unavailable() +
                    ", and without it kqfs reads the exit status of " + process +
                    " from /proc, which hides it: " + hidden);
    }
    return ENOTSUP;
  }

  int watch_with_pidfd(ProcKnote& kn) {
    kn.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, kn.pid(), 0)));
    if (!kn.pidfd) return errno == EMFILE || errno == ENFILE || errno == ENOMEM ? errno : ESRCH;
    if (const int error = host_.add_source(kn.pidfd.get(), EPOLLIN, kn); error != 0) {
      kn.pidfd.reset();
      return error;
    }
    return 0;
  }

  FilterHost& host_;
  ProcConnector& processes_;
};

// Also for a tracked child whose knote could not be added.
ProcKnote::~ProcKnote() {
  filter.stop(*this);
}

void ProcKnote::exited(uint32_t status) {
  has_exited = true;
  exit_status = status;
  fflags |= sfflags & NOTE_EXIT;
  flags |= EV_EOF;
  // Delivered once, then gone; with nothing asked for, gone at once.
  if (announce_parent == 0) flags |= EV_ONESHOT;
  if (fflags == 0 && announce_parent == 0) flags |= EV_DROP;
}

void ProcKnote::on_process_event(const ProcessEvent& event) {
  if (has_exited) return;
  switch (event.kind) {
    case ProcessEvent::Kind::fork:
      if (event.pid != event.tgid) {  // a new thread, not a process
        threads.insert(event.pid);
        return;
      }
      fflags |= sfflags & NOTE_FORK;
      if ((sfflags & NOTE_TRACK) && !filter.track(*this, event.pid)) fflags |= NOTE_TRACKERR;
      break;
    case ProcessEvent::Kind::exec:
      fflags |= sfflags & NOTE_EXEC;
      break;
    case ProcessEvent::Kind::exit:
      // The process ends with its last thread, the main one or not; the
      // status is that thread's (the whole group's after exit_group()).
      threads.erase(event.pid);
      if (!threads.empty()) return;
      exited(event.exit_status);
      break;
    case ProcessEvent::Kind::lost: {
      threads = procfs::live_threads(pid());
      if (threads.empty()) exited(state_of(pid()).exit_status);
      break;
    }
  }
  if (fflags != 0 || (flags & EV_DROP) || announce_parent != 0) filter.post(*this);
}

// Without the connector: the pidfd turned readable, the process is gone.
void ProcKnote::on_ready(uint32_t) {
  if (has_exited) return;
  const ProcessState state = state_of(pid());
  siginfo_t info{};
  uint32_t status = state.exit_status;
  // A child of ours can say more, without being reaped.
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid != 0) {
    status = wait_status(info);
  }
  exited(status);
  filter.post(*this);
}

}  // namespace

std::unique_ptr<Filter> make_proc_filter(FilterObjects& objects) {
  return std::make_unique<ProcFilter>(objects.host, objects.processes);
}

}  // namespace kqfs
