// The queues of the mount: made whole before they enter the tree, removed
// at once, nested (a kqueue handle or events file stands for its queue),
// swept, and told when a client process exits.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "daemon/log.hpp"
#include "daemon/loop.hpp"
#include "daemon/memory_reserve.hpp"
#include "daemon/options.hpp"
#include "daemon/processes.hpp"
#include "daemon/rate_limit.hpp"
#include "daemon/reply.hpp"
#include "daemon/tree.hpp"
#include "daemon/users.hpp"
#include "kqfs/linux/signal_trace.hpp"

namespace kqfsd {

// In words, when the daemon itself is short of something.
std::string short_of(int error);

class QueueRegistry {
 public:
  // `on_ready` runs from the loop when a queue's engine has news.
  using OnReady = std::function<void(QueueNode&)>;
  QueueRegistry(const Options& options, const Log& log, Loop& loop, Tree& tree, Users& users,
                MemoryReserve& memory, OnReady on_ready);
  ~QueueRegistry();
  QueueRegistry(const QueueRegistry&) = delete;
  QueueRegistry& operator=(const QueueRegistry&) = delete;

  // Once the mount is there: its id tells kqfs's own files (nesting).
  void start(uint64_t own_mount_id);
  // Removes every queue: parked reads get end of file.
  void remove_all();

  // A queue for `requester`, or the errno (ENOSPC at a limit, EMFILE or
  // ENOMEM when the daemon is short); `id` reserved or 0 for a fresh one.
  kqfs::Result<std::shared_ptr<QueueNode>> create(std::string name, const Requester& requester,
                                                  mode_t mode, bool anonymous, uint64_t id = 0);
  // Destroys the queue at once; open handles keep only its husk, on which
  // reads see end of file and writes ENOENT.
  void remove(QueueNode& queue);

  // Ties `queue` to process `pid`, held by `pidfd`: its exit removes the
  // queue as remove() does. Replaces an earlier tie. 0 or the errno.
  int tie(QueueNode& queue, pid_t pid, kqfs::UniqueFd pidfd);
  // The queue stays when that process exits.
  void untie(QueueNode& queue);

  // Nesting: the queue behind a kqueue handle's or events file's inode.
  const kqfs::Kqueue* queue_of(uint64_t inode) const;
  // Knotes of closed descriptors go; lost signals are logged.
  void sweep_all();
  // Tells the refused queues held back from the log.
  void flush_log();
  // BSD drops a process's descriptor knotes when it exits.
  void on_process_exit(pid_t pid);

  // The process behind a request (watched for its exit from now on).
  kqfs::Result<std::shared_ptr<ProcessResolver>> caller_of(const Requester& requester);
  // Why the last caller_of() failed, in words.
  std::string caller_failure(int error) const;
  // The process whose descriptor a record of `writer`'s names as `FD@PID`
  // (watched for its exit from now on): ESRCH when `writer` cannot see it
  // (or there is none), EPERM when `writer` may not take its descriptors
  // (may_take_descriptors); the reason in `why`.
  kqfs::Result<kqfs::Caller> descriptor_owner(pid_t pid,
                                              const std::shared_ptr<ProcessResolver>& writer,
                                              const Credentials& credentials, std::string& why);
  const kqfs::Caller& no_caller() const { return no_caller_; }
  const kqfs::SignalTracer& signal_tracer() const { return *signal_tracer_; }

 private:
  void refuse(const std::string& name, uid_t uid, int error, const std::string& why);
  // From now on a process's exit drops its knotes: 0, or the errno (the
  // process forgotten) when the loop cannot watch it.
  int watch_exit(const ProcessResolver& process);
  // A knote of `queue` went with its owner: status and the log say so.
  void knote_lost(QueueNode& queue, const kqfs::Kqueue::LostKnote& lost);
  void log_lost_signals();
  void on_tied_exit(QueueNode& queue);

  const Options& options_;
  const Log& log_;
  Loop& loop_;
  Tree& tree_;
  Users& users_;
  MemoryReserve& memory_;
  OnReady on_ready_;
  RateLimiter refusals_;       // per user
  RateLimiter signal_losses_;  // one source: the shared tracer
  RateLimiter knote_losses_;   // per queue
  uint64_t signals_lost_logged_ = 0;
  std::unique_ptr<ClientProcesses> processes_;
  const kqfs::Caller no_caller_ = std::make_shared<NoCaller>();
  std::unordered_map<pid_t, uint64_t> process_watches_;
  // One tracefs instance for every queue's signal knotes, made at the first.
  std::shared_ptr<kqfs::SignalTracer> signal_tracer_;
};

}  // namespace kqfsd
