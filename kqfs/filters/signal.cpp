// EVFILT_SIGNAL: counts every signal sent to the process that registered
// the knote, ignored ones too (but an ignored SIGCHLD, as FreeBSD), while
// the process's own handlers, mask and dispositions stay as they are.
#include <signal.h>

#include <string>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include "kqfs/filter_table.hpp"
#include "kqfs/linux/proc_connector.hpp"
#include "kqfs/linux/procfs.hpp"
#include "kqfs/linux/signal_trace.hpp"

namespace kqfs {
namespace {

constexpr uint64_t kLastSignal = 64;  // Linux: 1..64, realtime ones included

// Whether `process` set `signal` to SIG_IGN (not merely left a default
// that ignores it): SigIgn in /proc/PID/status.
bool set_to_ignore(pid_t process, int signal) {
  const auto status = procfs::read_file(procfs::path_of(process, "status"));
  if (!status) return false;
  const auto mask = procfs::value_of(status.value(), "SigIgn:");
  if (!mask) return false;
  // 64 bits of hex: past what a signed number holds.
  const unsigned long long bits = std::strtoull(std::string(*mask).c_str(), nullptr, 16);
  return (bits >> (signal - 1)) & 1;
}

struct SignalKnote final : Knote {
  SignalKnote(const Kevent& change, Caller caller)
      : Knote(change), caller(std::move(caller)), process(this->caller->process_id()) {}
  const Caller caller;
  const pid_t process;
  int64_t count = 0;  // sent since the last delivery
};

class SignalFilter final : public Filter, public Ownership, public ProcConnector::Subscriber {
 public:
  SignalFilter(FilterHost& host, ProcConnector& processes, std::shared_ptr<SignalTracer> tracer)
      : host_(host), processes_(processes), tracer_(std::move(tracer)) {}

  ~SignalFilter() override {
    for (const auto& [process, watched] : watched_)
      processes_.unsubscribe(process, *this);
  }

  Ownership* ownership() override { return this; }

  Result<std::unique_ptr<Knote>> attach(const Kevent& change, const Caller& caller) override {
    if (change.ident == 0 || change.ident > kLastSignal) return Errno{EINVAL};
    if (!subscription_) {
      // No tracer shared with other queues: one of this queue's own.
      if (!tracer_) tracer_ = std::make_shared<SignalTracer>();
      std::string why_not;
      auto subscribed = SignalTracer::subscribe(
          tracer_, host_, [this](const GeneratedSignal& signal) { on_signal(signal); }, why_not);
      if (!subscribed) {
        host_.explain(why_not);
        return Errno{subscribed.error()};
      }
      subscription_ = std::move(subscribed.value());
    }
    auto kn = std::make_unique<SignalKnote>(change, caller);
    kn->flags |= EV_CLEAR;  // as on every BSD
    const bool new_process = !watched_.contains(kn->process);
    Watched& watched = watched_[kn->process];
    if (new_process) {
      // Thread-directed signals name the thread: follow the threads too;
      // process-directed ones name the main thread, even after it ended.
      watched.threads = procfs::live_threads(kn->process);
      watched.threads.insert(kn->process);
      if (processes_.open()) processes_.subscribe(kn->process, *this);
    }
    watched.knotes[static_cast<int>(change.ident)] = kn.get();
    // The trace's filter changes only for a new process or signal.
    if (new_process || !(signals_ & uint64_t{1} << (change.ident - 1))) update_targets();
    return std::unique_ptr<Knote>(std::move(kn));
  }

  void detach(Knote& kn) override {
    const SignalKnote& s = signal(kn);
    const auto found = watched_.find(s.process);
    if (found == watched_.end()) return;
    found->second.knotes.erase(static_cast<int>(s.ident));
    if (found->second.knotes.empty()) {
      processes_.unsubscribe(s.process, *this);
      watched_.erase(found);
    }
    // Nothing left to count: this queue's epoll set stops watching the trace.
    if (watched_.empty()) {
      subscription_.reset();
    } else {
      update_targets();
    }
  }

  bool event(Knote& kn) override { return signal(kn).count > 0; }

  Kevent deliver(Knote& kn) override {
    SignalKnote& s = signal(kn);
    Kevent out = s.as_event();
    out.fflags = 0;
    out.data = s.count;
    if (s.flags & EV_CLEAR) s.count = 0;
    return out;
  }

  // The knote counts for one process: another process's EV_ADD replaces it.
  bool current(Knote& kn, const Caller& caller) override {
    return signal(kn).process == caller->process_id();
  }
  bool registered_by(const Knote& kn, const DescriptorResolver& caller) const override {
    return static_cast<const SignalKnote&>(kn).caller.get() == &caller;
  }
  int owner_pid(const Knote& kn) const override {
    return static_cast<const SignalKnote&>(kn).process;
  }

  void on_process_event(const ProcessEvent& event) override {
    const auto found = watched_.find(event.tgid);
    if (found == watched_.end() || event.pid == event.tgid) return;
    if (event.kind == ProcessEvent::Kind::fork) found->second.threads.insert(event.pid);
    if (event.kind == ProcessEvent::Kind::exit) found->second.threads.erase(event.pid);
    update_targets();
  }

 private:
  struct Watched {
    std::set<pid_t> threads;             // alive now
    std::map<int, SignalKnote*> knotes;  // by signal number
  };

  static SignalKnote& signal(Knote& kn) { return static_cast<SignalKnote&>(kn); }

  // The watched process `thread` belongs to, if any.
  std::pair<const pid_t, Watched>* owner_of(pid_t thread) {
    for (auto& entry : watched_) {
      if (entry.second.threads.contains(thread)) return &entry;
    }
    return nullptr;
  }

  // The threads of every watched process, and any thread born since the
  // newest pid now known: a thread can be signalled before the queue has
  // read of its birth. Only the signals some knote counts.
  void update_targets() {
    if (!subscription_) return;
    std::set<pid_t> targets;
    signals_ = 0;
    for (const auto& [process, watched] : watched_) {
      targets.insert(watched.threads.begin(), watched.threads.end());
      for (const auto& [number, knote] : watched.knotes)
        signals_ |= uint64_t{1} << (number - 1);
    }
    newest_known_ = last_pid();
    subscription_->set_targets(targets, newest_known_, signals_);
  }

  static pid_t last_pid() {
    const auto last = procfs::read_file("/proc/sys/kernel/ns_last_pid");
    return last ? static_cast<pid_t>(std::atol(last.value().c_str())) : 0;
  }

  void on_signal(const GeneratedSignal& generated) {
    auto* owner = owner_of(generated.target);
    if (owner == nullptr && generated.target > newest_known_) {
      // A thread born since: read the births not read yet. Not one of ours:
      // raise the bound, so that its signals stay out.
      processes_.on_ready(0);
      owner = owner_of(generated.target);
      if (owner == nullptr) update_targets();
    }
    if (owner == nullptr) return;
    auto& [process, watched] = *owner;
    const auto knote = watched.knotes.find(generated.signal);
    if (knote == watched.knotes.end()) return;
    // FreeBSD sends no SIGCHLD at a child's exit when the parent set it to
    // SIG_IGN, so records none; Linux sends it as "ignored", for the default
    // disposition too (which FreeBSD records), and for kill(2) FreeBSD
    // records it whatever the disposition.
    if (generated.signal == SIGCHLD && generated.ignored && generated.code > 0 &&
        set_to_ignore(process, SIGCHLD)) {
      return;
    }
    ++knote->second->count;
    host_.post(*knote->second);
  }

  FilterHost& host_;
  ProcConnector& processes_;
  std::unordered_map<pid_t, Watched> watched_;
  pid_t newest_known_ = 0;
  uint64_t signals_ = 0;  // bit n-1: some knote counts signal n
  std::shared_ptr<SignalTracer> tracer_;
  // After watched_: its handler reads it. Held while a knote exists.
  std::unique_ptr<SignalTracer::Subscription> subscription_;
};

}  // namespace

std::unique_ptr<Filter> make_signal_filter(FilterObjects& objects) {
  return std::make_unique<SignalFilter>(objects.host, objects.processes, objects.signal_tracer);
}

}  // namespace kqfs
