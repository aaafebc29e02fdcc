// Signals sent to chosen threads, as the kernel generates them: the
// tracepoint signal:signal_generate in a tracefs instance, filtered on the
// target thread. Seeing signals at generation counts each one sent, ignored
// and blocked ones too, and leaves the target's handlers and signal mask
// alone (unlike signalfd, which needs the signal blocked). ftrace rather
// than perf: perf loses samples raised in a hardirq on an idle CPU (a
// timer's SIGALRM), and cannot change a filter once set.
//
// One SignalTracer (one instance, one trace_pipe) serves any number of
// queues, each through a Subscription saying which threads and signals it
// wants. The trace_pipe is in every subscriber's epoll set: whichever queue
// finds it readable reads it and hands each subscriber its signals (an
// inbox, and an eventfd "doorbell" in that subscriber's epoll set), so each
// queue handles its own signals on its own thread, with no loop in between.
// Making an instance and enabling its event take milliseconds (buffer
// allocation, RCU waits); a subscription only rewrites the filter, and only
// when it changes. Thread-safe: the shared state is behind one mutex.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kqfs/filter.hpp"
#include "kqfs/result.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs {

struct GeneratedSignal {
  int signal;
  pid_t target;  // the thread (process-directed signals: the leader)
  bool ignored;  // dropped because the target ignores it
  int code;      // si_code: > 0 when the kernel sent it (SIGCHLD at a child's exit)
};

class SignalTracer {
 public:
  // Per CPU; about twenty signals per kilobyte between two reads.
  static constexpr size_t kDefaultBufferKilobytes = 256;

  class Subscription;
  // Only SignalTracer::subscribe makes subscriptions.
  class Passkey {
    friend class SignalTracer;
    Passkey() = default;
  };
  using Handler = std::function<void(const GeneratedSignal&)>;

  // Nothing is made until the first subscription.
  explicit SignalTracer(size_t buffer_kilobytes = kDefaultBufferKilobytes)
      : buffer_kilobytes_(buffer_kilobytes) {}
  // Removes the instance (its buffers go with it).
  ~SignalTracer();
  SignalTracer(const SignalTracer&) = delete;
  SignalTracer& operator=(const SignalTracer&) = delete;

  // Removes the instances left by kqfs processes that are gone (a crash);
  // for a daemon's start. Mounts nothing.
  static void remove_stale_instances();

  // Whether a subscription could make the instance, tried once (mounting
  // tracefs where it is not, as a subscription would) and undone: empty, or
  // why not in a subscription's words (the daemon's status).
  static std::string probe();

  // Subscribes a queue (`host`): makes the instance at the first call,
  // mounting tracefs where it is not. `handler` runs on the queue's own
  // thread, while the queue takes in its sources. ENOTSUP, and why in
  // `why_not`, when the host does not allow tracing (no privilege).
  static Result<std::unique_ptr<Subscription>> subscribe(
      const std::shared_ptr<SignalTracer>& tracer, FilterHost& host, Handler handler,
      std::string& why_not);

  // The instance's directory; empty until a subscription made it.
  std::string instance() const;
  // Signals the kernel dropped because the buffer was full between reads.
  uint64_t lost() const;

 private:
  bool open(std::string& why_not);  // with mutex_ held
  bool write_setting(const std::string& file, const std::string& value) const;
  void update_filter();  // with mutex_ held
  void drain();          // takes mutex_
  void handle_line(const std::string& line);
  void route(const GeneratedSignal& signal);

  const size_t buffer_kilobytes_;
  mutable std::mutex mutex_;
  std::string instance_;  // its directory, once made
  UniqueFd pipe_;         // its trace_pipe
  std::string partial_;   // a line read in part
  std::string filter_;    // as last written
  uint64_t lost_ = 0;
  std::vector<Subscription*> subscribers_;
};

// One queue's interest in a SignalTracer; unsubscribes when destroyed.
class SignalTracer::Subscription final : private Source {
 public:
  Subscription(Passkey, std::shared_ptr<SignalTracer> tracer, FilterHost& host, Handler handler)
      : tracer_(std::move(tracer)), host_(host), handler_(std::move(handler)), pipe_watch_(*this) {}
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Reports `signals` (bit n-1: signal n) sent to these threads, or to any
  // thread numbered above `newer_than` (born since: maybe one of theirs).
  // No signals: nothing.
  void set_targets(const std::set<pid_t>& threads, pid_t newer_than, uint64_t signals);

 private:
  friend class SignalTracer;

  // The shared trace_pipe in this queue's epoll set.
  class PipeWatch final : public Source {
   public:
    explicit PipeWatch(Subscription& owner) : owner_(owner) {}
    void on_ready(uint32_t) override;

   private:
    Subscription& owner_;
  };

  // The doorbell rang: this queue's signals wait in its inbox.
  void on_ready(uint32_t) override { deliver(); }
  void deliver();
  bool wants(const GeneratedSignal& signal) const;  // with the tracer's mutex held

  const std::shared_ptr<SignalTracer> tracer_;
  FilterHost& host_;
  const Handler handler_;
  PipeWatch pipe_watch_;
  UniqueFd doorbell_;  // eventfd: readable while the inbox is not empty
  bool doorbell_registered_ = false;
  bool pipe_registered_ = false;
  // Under the tracer's mutex:
  std::set<pid_t> threads_;
  pid_t newer_than_ = 0;
  uint64_t signals_ = 0;
  std::vector<GeneratedSignal> inbox_;
  bool rung_ = false;
};

}  // namespace kqfs
