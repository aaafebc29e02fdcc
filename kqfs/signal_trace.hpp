// Signals sent to chosen threads, as the kernel generates them: the
// tracepoint signal:signal_generate in a tracefs instance of the queue's
// own, filtered on the target thread. Seeing signals at generation counts
// each one sent, ignored and blocked ones too, and leaves the target's
// handlers and signal mask alone (unlike signalfd, which needs the signal
// blocked). ftrace rather than perf: perf loses samples raised in a hardirq
// on an idle CPU (a timer's SIGALRM), and cannot change a filter once set.
#pragma once

#include <sys/types.h>

#include <functional>
#include <set>
#include <string>

#include "kqfs/filter.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs {

struct GeneratedSignal {
  int signal;
  pid_t target;  // the thread (process-directed signals: the leader)
  bool ignored;  // dropped because the target ignores it
  int code;      // si_code: > 0 when the kernel sent it (SIGCHLD at a child's exit)
};

class SignalTrace final : public Source {
 public:
  using Handler = std::function<void(const GeneratedSignal&)>;

  SignalTrace(FilterHost& host, Handler handler) : host_(host), handler_(std::move(handler)) {}
  ~SignalTrace();
  SignalTrace(const SignalTrace&) = delete;
  SignalTrace& operator=(const SignalTrace&) = delete;

  // Makes the tracefs instance once (mounting tracefs where it is not);
  // false and why not when the host does not allow it (no privilege).
  bool open(std::string& why_not);

  // Reports signals sent to these threads, and to any thread numbered above
  // `newer_than` (born since: maybe one of theirs); none: stops tracing.
  void set_targets(const std::set<pid_t>& threads, pid_t newer_than);

  void on_ready(uint32_t epoll_events) override;

 private:
  bool write_setting(const std::string& file, const std::string& value) const;
  void handle_line(const std::string& line);

  FilterHost& host_;
  Handler handler_;
  std::string instance_;  // its directory, once made
  UniqueFd pipe_;         // its trace_pipe
  std::string partial_;   // a line read in part
};

}  // namespace kqfs
