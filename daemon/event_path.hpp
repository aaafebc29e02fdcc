// The event path: reads of an events file take events from the engine, or
// park until the queue fires (nothing blocks the one thread); polls say
// what is ready and are woken when more comes.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <set>

#include "daemon/reply.hpp"
#include "daemon/tree.hpp"

namespace kqfsd {

class OpenFile;
class OpenFiles;

class EventPath {
 public:
  EventPath(Tree& tree, OpenFiles& files) : tree_(tree), files_(files) {}

  void read(const Requester& requester, uint64_t handle, size_t size, off_t offset,
            bool nonblocking, std::unique_ptr<Reply> reply);
  // `waker` (null if the poller wants none) is kept until readiness comes.
  void poll(const Requester& requester, uint64_t handle, std::unique_ptr<PollWaker> waker,
            Reply& reply);
  // From the loop: the queue's engine has news.
  void on_queue_ready(QueueNode& queue);
  // Answers parked reads with what came, in order.
  void serve(QueueNode& queue);
  // Answers parked reads whose senders were interrupted (EINTR).
  void answer_interrupted();

 private:
  bool try_answer(QueueNode& queue, const ParkedRead& read, OpenFile& file);
  void rewind(OpenFile& file, off_t offset);

  Tree& tree_;
  OpenFiles& files_;
  std::set<uint64_t> queues_with_interrupts_;
};

}  // namespace kqfsd
