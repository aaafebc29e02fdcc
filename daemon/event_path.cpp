#include "daemon/event_path.hpp"

#include <poll.h>

#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "daemon/open_files.hpp"

namespace kqfsd {

// Answers a read if events (or the rest of an earlier record) are there.
// Events are taken only for a reply that is sent right away.
bool EventPath::try_answer(QueueNode& queue, const ParkedRead& read, OpenFile& file) {
  std::string reply;
  if (file.events.has_leftover()) {
    reply = file.events.read(read.size, {});
  } else {
    std::vector<kqfs::Kevent> events(file.events.wanted(read.size));
    events.resize(queue.engine->collect(events));
    if (events.empty()) return false;
    queue.events_delivered += events.size();
    reply = file.events.read(read.size, events);
  }
  if (is_rewindable(file.kind)) {
    file.position = read.offset + static_cast<off_t>(reply.size());
    file.last_reply = reply;
  }
  read.reply->data(reply);
  return true;
}

// A reader of the text events file that seeked back into its last reply
// (bash reads ahead on a seekable file, then seeks back to the end of
// what it used) gets those bytes again.
void EventPath::rewind(OpenFile& file, off_t offset) {
  if (offset >= file.position) return;
  const auto back = static_cast<uint64_t>(file.position - offset);
  if (back > file.last_reply.size()) return;
  file.events.unread(std::string_view(file.last_reply).substr(file.last_reply.size() - back));
  file.last_reply.resize(file.last_reply.size() - back);
  file.position = offset;
}

void EventPath::read(const Requester& requester, uint64_t handle, size_t size, off_t offset,
                     bool nonblocking, std::unique_ptr<Reply> reply) {
  int unusable = 0;
  OpenFile* file = files_.usable(requester, handle, unusable);
  if (file == nullptr) {
    reply->error(unusable);
    return;
  }
  if (file->kind == FileKind::status) {
    const size_t start = std::min(static_cast<size_t>(offset), file->status_text.size());
    const size_t length = std::min(size, file->status_text.size() - start);
    reply->data(std::string_view(file->status_text).substr(start, length));
    return;
  }
  if (!is_events(file->kind)) {
    reply->error(EBADF);
    return;
  }
  QueueNode& queue = *file->queue;
  if (queue.removed() || size == 0) {
    reply->data({});
    return;
  }
  if (size < codec_of(file->kind).record_size) {  // not even one record
    reply->error(EINVAL);
    return;
  }
  if (is_rewindable(file->kind)) rewind(*file, offset);
  ParkedRead read{std::move(reply), size, offset, file, queue.id};
  // Readers already waiting come first.
  if (queue.waiters.empty() && try_answer(queue, read, *file)) return;
  if (nonblocking) {
    read.reply->error(EAGAIN);
    return;
  }
  ParkedRead& parked = queue.waiters.emplace_back(std::move(read));
  // Runs inside the channel's handling of an interrupt: only take note,
  // as answering there could free the request under libfuse's lock.
  parked.reply->on_interrupt([this, &parked]() noexcept {
    parked.interrupted = true;
    try {
      queues_with_interrupts_.insert(parked.queue_id);
    } catch (const std::bad_alloc&) {
      // Answered when its queue is next served.
    }
  });
  answer_interrupted();  // the signal may have come before the request was parked
}

void EventPath::answer_interrupted() {
  for (const uint64_t id : queues_with_interrupts_) {
    const auto queue = tree_.find(id);
    if (queue == nullptr) continue;
    for (auto it = queue->waiters.begin(); it != queue->waiters.end();) {
      if (it->interrupted) {
        it->reply->error(EINTR);
        it = queue->waiters.erase(it);
      } else {
        ++it;
      }
    }
  }
  queues_with_interrupts_.clear();
}

void EventPath::serve(QueueNode& queue) {
  if (queue.removed()) return;
  while (!queue.waiters.empty()) {
    ParkedRead& parked = queue.waiters.front();
    if (parked.interrupted) {
      parked.reply->error(EINTR);
    } else if (!try_answer(queue, parked, *parked.file)) {
      break;
    }
    queue.waiters.pop_front();
  }
  if (queue.engine->pending() > 0) wake_pollers(queue);
}

void EventPath::poll(const Requester& requester, uint64_t handle, std::unique_ptr<PollWaker> waker,
                     Reply& reply) {
  int unusable = 0;
  OpenFile* file = files_.usable(requester, handle, unusable);
  if (file == nullptr) {
    reply.error(unusable);
    return;
  }
  QueueNode& queue = *file->queue;
  unsigned revents = 0;
  if (queue.removed()) {
    revents = POLLIN | POLLRDNORM | POLLHUP;
  } else {
    if (is_events(file->kind)) {
      queue.engine->drain_sources();
      if (queue.engine->pending() > 0 || file->events.has_leftover()) {
        revents |= POLLIN | POLLRDNORM;
      }
    }
    if (is_changes(file->kind)) revents |= POLLOUT | POLLWRNORM;
    if (file->kind == FileKind::status) revents |= POLLIN | POLLRDNORM;
  }
  if (waker != nullptr) {
    // Kept to wake when readiness comes later; what is ready now is in
    // this reply (waking as well would wake edge-triggered users twice).
    file->poll = std::move(waker);
    queue.pollers.insert(file);
  }
  reply.poll(revents);
}

void EventPath::on_queue_ready(QueueNode& queue) {
  if (queue.removed()) return;
  // Parked readers collect, which takes in the kernel's news itself (a
  // pass before would look at every descriptor twice); what no reader took
  // in is taken in after, usually with nothing left to look at.
  serve(queue);
  queue.engine->drain_sources();
  if (queue.engine->pending() > 0) wake_pollers(queue);
}

}  // namespace kqfsd
