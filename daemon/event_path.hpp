// The event path: reads of an events file and waiting kevent() calls take
// events from the engine, or park until the queue fires (nothing blocks
// the one thread); polls say what is ready and are woken when more comes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "daemon/loop.hpp"
#include "daemon/parked_request.hpp"
#include "daemon/reply.hpp"
#include "daemon/tree.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfsd {

class OpenFile;
class OpenFiles;

class EventPath {
 public:
  // Throws when the kernel gives no timer (at start).
  EventPath(Tree& tree, OpenFiles& files, Loop& loop);
  ~EventPath();
  EventPath(const EventPath&) = delete;
  EventPath& operator=(const EventPath&) = delete;

  void read(const Requester& requester, uint64_t handle, size_t size, off_t offset,
            bool nonblocking, std::unique_ptr<Reply> reply);
  // `waker` (null if the poller wants none) is kept until readiness comes.
  void poll(const Requester& requester, uint64_t handle, std::unique_ptr<PollWaker> waker,
            Reply& reply);
  // Answers `request` at once if its queue has events and nobody waits
  // before it; true when answered.
  bool try_answer_now(QueueNode& queue, const ParkedRequest& request);
  // Parks `request` until events come (or its call's deadline).
  void park(QueueNode& queue, ParkedRequest request);
  // From the loop: the queue's engine has news.
  void on_queue_ready(QueueNode& queue);
  // Answers parked requests with what came, in order.
  void serve(QueueNode& queue);
  // Answers parked requests whose senders were interrupted: EINTR, or the
  // events a call finds there.
  void answer_interrupted();
  // The process that opened `file` closed a descriptor of it: its calls
  // waiting on it are told to check their descriptor.
  void recheck_calls(const OpenFile& file);
  // Waiting calls with a deadline (each answered call's goes with it).
  size_t deadline_count() const { return deadlines_.size(); }

 private:
  bool try_answer(QueueNode& queue, const ParkedRequest& request, OpenFile& file);
  void rewind(OpenFile& file, off_t offset);
  void add_deadline(ParkedRequest& request);
  void arm_timer();
  void expire_calls();

  Tree& tree_;
  OpenFiles& files_;
  Loop& loop_;
  std::set<uint64_t> queues_with_interrupts_;
  // Held by the waiting calls' DeadlineEntry: the queues' waiters must go
  // before this (Filesystem::stop removes every queue).
  Deadlines deadlines_;
  kqfs::UniqueFd deadline_timer_;  // set to the earliest of deadlines_
  uint64_t deadline_watch_ = 0;
};

}  // namespace kqfsd
