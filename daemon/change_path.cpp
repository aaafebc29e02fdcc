#include "daemon/change_path.hpp"

#include <algorithm>
#include <functional>
#include <new>
#include <optional>

#include "daemon/credentials.hpp"
#include "daemon/event_path.hpp"
#include "daemon/open_files.hpp"
#include "daemon/processes.hpp"
#include "daemon/queue_registry.hpp"
#include "kqfs/filter_table.hpp"

namespace kqfsd {
namespace {

// Lines a queue's rejections may put in the log per window; the rest are
// counted in one line.
constexpr unsigned kLoggedPerWindow = 5;
constexpr auto kLogWindow = std::chrono::seconds(10);

}  // namespace

ChangePath::ChangePath(const Log& log, Users& users, MemoryReserve& memory, QueueRegistry& registry,
                       OpenFiles& files, EventPath& events)
    : log_(log),
      users_(users),
      memory_(memory),
      registry_(registry),
      files_(files),
      events_(events),
      rejections_(kLoggedPerWindow, kLogWindow) {}

bool ChangePath::account_buffered(OpenFile& file, uid_t writer) {
  const size_t kept = file.changes.unfinished_size();
  if (file.buffered_by != writer && file.buffered > 0) {
    users_.rebuffer(file.buffered_by, file.buffered, 0);
    file.buffered = 0;
  }
  file.buffered_by = writer;
  if (users_.rebuffer(writer, file.buffered, kept)) {
    file.buffered = kept;
    return true;
  }
  return false;
}

ChangeWriter::ChangeWriter(const Requester& requester)
    : requester(requester),
      credentials(credentials_of_request(requester.pid, requester.uid, requester.gid)) {}

int ChangePath::apply_change(QueueNode& queue, const OpenFile& file, ChangeWriter& writer,
                             const kqfs::Kevent& change, int32_t pid, std::string& why) {
  // A filter kqfs lacks is refused as such by the engine.
  if (pid != 0 && !queue.engine->takes_descriptor(change.filter) &&
      kqfs::filter_row(change.filter) != nullptr) {
    why =
        "IDENT@PID names a descriptor of process PID: only for EVFILT_READ, EVFILT_WRITE and "
        "EVFILT_VNODE";
    return EINVAL;
  }
  if (const int refused = writer_may_apply(queue.engine->tied_to_caller(change.filter), file.opener,
                                           writer.credentials, why);
      refused != 0) {
    return refused;
  }
  // The writer's process is looked up only for a record that asks something
  // of it: timers and user events work even when the daemon has no
  // descriptor left to reach a process with.
  kqfs::Caller caller = registry_.no_caller();
  if (queue.engine->uses_caller(change.filter)) {
    if (!writer.process) writer.process = registry_.caller_of(writer.requester);
    if (!*writer.process) {
      why =
          "cannot reach the writing process: " + registry_.caller_failure(writer.process->error());
      return writer.process->error();
    }
    caller = writer.process->value();
    if (pid != 0 && queue.engine->takes_descriptor(change.filter)) {
      auto owner =
          registry_.descriptor_owner(pid, writer.process->value(), writer.credentials, why);
      if (!owner) return owner.error();
      caller = owner.value();
    }
  }
  const bool had_signals = queue.engine->knote_count(EVFILT_SIGNAL) > 0;
  const int error = queue.engine->apply(change, caller, &why);
  // The refusal is described next, which takes memory of its own.
  if (error == ENOMEM) memory_.release();
  if (error == 0) ++queue.changes_applied;
  if (error == 0 && !had_signals && queue.engine->knote_count(EVFILT_SIGNAL) > 0) {
    queue.signals_lost_before = registry_.signal_tracer().lost();
  }
  if ((error == EMFILE || error == ENFILE || error == ENOMEM) && why.empty()) {
    why = short_of(error);
  }
  return error;
}

kqfs::codec::WriteOutcome ChangePath::apply(QueueNode& queue, OpenFile& file,
                                            std::string_view bytes, bool finishing,
                                            const Requester& requester) {
  ChangeWriter writer(requester);
  const auto apply_one = [&](const kqfs::Kevent& change, int32_t pid, std::string& why) {
    return apply_change(queue, file, writer, change, pid, why);
  };
  // Wrapped by reference: the function holds one pointer, with no allocation
  // per write.
  const kqfs::codec::ApplyRecord apply = std::ref(apply_one);
  kqfs::codec::WriteOutcome outcome;
  try {
    outcome = finishing ? file.changes.finish(apply) : file.changes.write(bytes, apply);
  } catch (const std::bad_alloc&) {
    // Short of memory outside the engine (parsing, describing a refusal):
    // the write is refused as a whole, and says why.
    memory_.release();
    outcome = kqfs::codec::WriteOutcome{0, ENOMEM, short_of(ENOMEM)};
  }
  if (outcome.error != 0) reject(queue, outcome.error, outcome.reason);
  return outcome;
}

// Any writer can make rejections: the log gets a few per queue at most.
void ChangePath::reject(QueueNode& queue, int error, const std::string& reason) {
  queue.last_error = Rejection{error, reason};
  if (rejections_.allow(queue.name)) log_.info("queue " + queue.name + ": rejected " + reason);
}

void ChangePath::flush_log() {
  rejections_.flush([this](const std::string& queue, uint64_t held_back) {
    log_.info("queue " + queue + ": suppressed " + std::to_string(held_back) +
              " more rejected records");
  });
}

void ChangePath::write(const Requester& requester, uint64_t handle, std::string_view bytes,
                       Reply& reply) {
  OpenFile* file = files_.usable(requester, handle, reply);
  if (file == nullptr) return;
  if (!is_changes(file->kind)) {
    reply.error(EBADF);
    return;
  }
  QueueNode& queue = *file->queue;
  if (queue.removed()) {
    reply.error(ENOENT);
    return;
  }
  const size_t size = bytes.size();
  auto outcome = apply(queue, *file, bytes, false, requester);
  file->unfinished_by = file->changes.has_unfinished() ? process_of_thread(requester.pid) : 0;
  const uid_t writer = requester.uid;
  if (outcome.error == 0 && !account_buffered(*file, writer)) {
    // The records before the kept bytes stand; the kept bytes are refused.
    outcome.accepted = size - std::min(size, file->changes.unfinished_size() - file->buffered);
    file->changes.drop_unfinished_tail(file->changes.unfinished_size() - file->buffered);
    outcome.error = ENOSPC;
    reject(queue, ENOSPC,
           "uid " + std::to_string(writer) + " holds its limit of " +
               std::to_string(users_.limits().buffered_bytes) + " bytes of unfinished lines");
  }
  if (outcome.error != 0 && outcome.accepted == 0) {
    reply.error(outcome.error);
  } else {
    reply.written(outcome.accepted);
  }
  events_.serve(queue);
}

int ChangePath::finish(QueueNode& queue, OpenFile& file, const Requester& requester) {
  const auto outcome = apply(queue, file, {}, true, requester);
  account_buffered(file, file.buffered_by);
  return outcome.error;
}

}  // namespace kqfsd
