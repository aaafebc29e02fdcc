#include "daemon/event_path.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <list>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "daemon/open_files.hpp"
#include "kqfs/timeouts.hpp"

namespace kqfsd {
namespace {

std::optional<std::list<ParkedRequest>::iterator> find_call(std::list<ParkedRequest>& waiters,
                                                            uint64_t call_id) {
  const auto it = std::find_if(waiters.begin(), waiters.end(), [&](const ParkedRequest& w) {
    return w.call && w.call->id == call_id;
  });
  if (it == waiters.end()) return std::nullopt;
  return it;
}

}  // namespace

EventPath::EventPath(Tree& tree, OpenFiles& files, Loop& loop)
    : tree_(tree),
      files_(files),
      loop_(loop),
      deadline_timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
  if (!deadline_timer_) throw std::system_error(errno, std::generic_category(), "timerfd_create");
  deadline_watch_ =
      loop_.watch(deadline_timer_.get(), EPOLLIN, [this](uint32_t) { expire_calls(); });
}

EventPath::~EventPath() {
  loop_.unwatch(deadline_watch_);
}

// Answers a read or call if events (or the rest of an earlier record) are
// there. Events are taken only for a reply that is sent right away.
bool EventPath::try_answer(QueueNode& queue, const ParkedRequest& request, OpenFile& file) {
  std::string reply;
  if (file.events.has_leftover()) {
    reply = file.events.read(request.size, {});
  } else {
    std::vector<kqfs::Kevent> events(file.events.wanted(request.size));
    events.resize(queue.engine->collect(events));
    if (events.empty()) return false;
    queue.events_delivered += events.size();
    reply = file.events.read(request.size, events);
  }
  if (is_rewindable(file.kind)) {
    file.position = request.offset + static_cast<off_t>(reply.size());
    file.last_reply = reply;
  }
  request.answer_events(reply);
  return true;
}

bool EventPath::try_answer_now(QueueNode& queue, const ParkedRequest& request) {
  // Requests already waiting come first.
  return queue.waiters.empty() && try_answer(queue, request, *request.file);
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
  OpenFile* file = files_.usable(requester, handle, *reply);
  if (file == nullptr) return;
  if (file->kind == FileKind::status) {
    reply->text_at(file->status_text, offset, size);
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
  ParkedRequest read{std::move(reply), size, offset, file, queue.id, std::nullopt};
  if (try_answer_now(queue, read)) return;
  if (nonblocking) {
    read.reply->error(EAGAIN);
    return;
  }
  park(queue, std::move(read));
}

void EventPath::park(QueueNode& queue, ParkedRequest request) {
  // First what may throw: a request not parked is answered by the caller's
  // exception boundary.
  if (request.call && request.call->deadline_ns != 0) add_deadline(request);
  ParkedRequest& parked = queue.waiters.emplace_back(std::move(request));
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
        // A call takes events that are there over the signal, as kevent().
        if (!it->call || queue->removed() || !try_answer(*queue, *it, *it->file)) {
          it->answer_interrupted();
        }
        it = queue->waiters.erase(it);
      } else {
        ++it;
      }
    }
  }
  queues_with_interrupts_.clear();
}

void EventPath::recheck_calls(const OpenFile& file) {
  auto& waiters = file.queue->waiters;
  for (auto it = waiters.begin(); it != waiters.end();) {
    if (it->call && it->file == &file) {
      it->answer_recheck();
      it = waiters.erase(it);
    } else {
      ++it;
    }
  }
}

void EventPath::add_deadline(ParkedRequest& request) {
  const bool earliest = deadlines_.empty() || request.call->deadline_ns < deadlines_.begin()->first;
  request.call->deadline = DeadlineEntry(
      deadlines_,
      deadlines_.emplace(request.call->deadline_ns, std::pair{request.queue_id, request.call->id}));
  if (earliest) arm_timer();
}

void EventPath::arm_timer() {
  itimerspec when{};  // all zero: disarmed
  if (!deadlines_.empty()) {
    // At least 1 ns: a zero it_value would disarm a timer that is due.
    const int64_t at = std::max<int64_t>(deadlines_.begin()->first, 1);
    when.it_value = {static_cast<time_t>(at / 1'000'000'000),
                     static_cast<long>(at % 1'000'000'000)};
  }
  ::timerfd_settime(deadline_timer_.get(), TFD_TIMER_ABSTIME, &when, nullptr);
}

void EventPath::expire_calls() {
  uint64_t ticks;
  [[maybe_unused]] const ssize_t ignored = ::read(deadline_timer_.get(), &ticks, sizeof ticks);
  const int64_t now = kqfs::monotonic_ns();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const auto [queue_id, call_id] = deadlines_.begin()->second;
    const auto queue = tree_.find(queue_id);
    const auto it = queue != nullptr ? find_call(queue->waiters, call_id) : std::nullopt;
    if (!it) {
      deadlines_.erase(deadlines_.begin());  // held by no call (cannot happen)
      continue;
    }
    if (!try_answer(*queue, **it, *(*it)->file)) (*it)->answer_timed_out();
    queue->waiters.erase(*it);  // its deadline entry goes with it
  }
  arm_timer();
}

void EventPath::serve(QueueNode& queue) {
  if (queue.removed()) return;
  while (!queue.waiters.empty()) {
    ParkedRequest& parked = queue.waiters.front();
    if (parked.interrupted) {
      if (!parked.call || !try_answer(queue, parked, *parked.file)) parked.answer_interrupted();
    } else if (!try_answer(queue, parked, *parked.file)) {
      break;
    }
    queue.waiters.pop_front();
  }
  if (queue.engine->pending() > 0) wake_pollers(queue);
}

void EventPath::poll(const Requester& requester, uint64_t handle, std::unique_ptr<PollWaker> waker,
                     Reply& reply) {
  OpenFile* file = files_.usable(requester, handle, reply);
  if (file == nullptr) return;
  QueueNode& queue = *file->queue;
  unsigned revents = 0;
  if (file->kind == FileKind::status) {
    revents = POLLIN | POLLRDNORM;  // its text, taken at open, stays readable
  } else if (queue.removed()) {
    revents = POLLIN | POLLRDNORM | POLLHUP;
  } else {
    if (is_events(file->kind)) {
      queue.engine->drain_sources();
      if (queue.engine->pending() > 0 || file->events.has_leftover()) {
        revents |= POLLIN | POLLRDNORM;
      }
    }
    if (is_changes(file->kind)) revents |= POLLOUT | POLLWRNORM;
    if (file->kind == FileKind::tied_to) revents |= POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
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
