#include "daemon/open_files.hpp"

#include <unistd.h>

#include <csignal>
#include <cstring>

#include "daemon/change_path.hpp"
#include "daemon/event_path.hpp"
#include "daemon/processes.hpp"
#include "daemon/queue_registry.hpp"
#include "daemon/status_text.hpp"
#include "daemon/writer_exit.hpp"

namespace kqfsd {

void wake_pollers(QueueNode& queue) {
  for (OpenFile* file : queue.pollers) {
    file->poll->wake();
    file->poll.reset();
  }
  queue.pollers.clear();
}

// FUSE names the thread; its main thread's id is the process's, which
// saves a look.
int sent_by_error(const Requester& requester, pid_t process) {
  const pid_t thread = requester.pid;
  if (thread == process) return 0;
  std::string ignored;
  auto group = thread_group_of(thread, ignored);
  if (!group) return group.error() == ESRCH ? EBADF : group.error();
  return group.value() == process ? 0 : EBADF;
}

void OpenFiles::open(const Requester& requester, Inode inode, Reply& reply) {
  std::shared_ptr<QueueNode> queue;
  FileKind kind;
  const auto decoded = decode_inode(inode);
  if (inode == kMountStatusInode) {
    queue = mount_husk_;
    kind = FileKind::status;
  } else if (inode == kCloneInode || (decoded && decoded->second == FileKind::clone)) {
    // The queue takes the id its inode was given at lookup.
    const uint64_t id = decoded ? decoded->first : tree_.reserve_id();
    auto created = registry_.create(tree_.unused_anonymous_name(id), requester, 0700, true, id);
    if (!created) {
      reply.error(created.error());
      return;
    }
    queue = std::move(*created);
    kind = FileKind::clone;
  } else {
    queue = decoded ? tree_.find(decoded->first) : nullptr;
    if (queue == nullptr || decoded->second == FileKind::directory) {
      reply.error(queue == nullptr ? ENOENT : EISDIR);
      return;
    }
    kind = decoded->second;
  }

  const uint64_t handle = next_handle_++;
  try {
    auto file = std::make_unique<OpenFile>(queue, kind);
    // A kqueue is its opener's: a forked child cannot use it (BSD).
    if (kind == FileKind::clone) file->owner = process_of_thread(requester.pid);
    if (is_changes(kind)) {
      file->opener = credentials_of_request(requester.pid, requester.uid, requester.gid);
    }
    if (inode == kMountStatusInode) {
      file->status_text = mount_status_ ? mount_status_() : std::string();
    } else if (kind == FileKind::status) {
      queue->engine->sweep();
      // The knotes (and their udata) are for those who may change them: the
      // owner (who may chmod), and those the mode lets write changes.
      const Credentials reader =
          with_groups(credentials_of_request(requester.pid, requester.uid, requester.gid));
      const bool may_change =
          reader.uid == queue->uid || permits(reader, queue->uid, queue->gid, queue->mode, W_OK);
      file->status_text = status_text(*queue, may_change, registry_.signal_tracer());
    }
    files_.emplace(handle, std::move(file));
  } catch (...) {
    // Out of memory (say): a queue made for this handle goes with it.
    if (kind == FileKind::clone) registry_.remove(*queue);
    throw;
  }
  ++queue->open_handles;  // counted once the handle is there to release it

  // Streams have no file position, so threads sharing one descriptor do not
  // queue on its lock (kStream). The text events file and status stay
  // seekable: GNU head lseeks back after its line and complains on a
  // regular file that refuses; reads of events go on from the queue
  // (see EventPath::rewind()). tied-to is read by offset, as a file is.
  // close() matters to changes files only: an unfinished line or record.
  uint32_t flags = kDirectIo;
  if (!is_changes(kind)) flags |= kNoFlush;
  if (!is_rewindable(kind) && kind != FileKind::status && kind != FileKind::tied_to) {
    flags |= kStream;
  }
  if (!reply.opened(handle, flags)) {
    // The opener is gone: undo, as release will never come.
    release(handle, nullptr);
  }
}

OpenFile* OpenFiles::find(uint64_t handle) const {
  const auto found = files_.find(handle);
  return found == files_.end() ? nullptr : found->second.get();
}

OpenFile* OpenFiles::usable(const Requester& requester, uint64_t handle, int& error) const {
  error = EBADF;
  OpenFile* file = find(handle);
  if (file == nullptr || file->kind != FileKind::clone) return file;
  error = sent_by_error(requester, file->owner);
  return error == 0 ? file : nullptr;
}

OpenFile* OpenFiles::usable(const Requester& requester, uint64_t handle, Reply& reply) const {
  int error = 0;
  OpenFile* file = usable(requester, handle, error);
  if (file == nullptr) reply.error(error);
  return file;
}

void OpenFiles::release(uint64_t handle, Reply* reply) {
  const auto found = files_.find(handle);
  if (found != files_.end()) {
    OpenFile& file = *found->second;
    QueueNode& queue = *file.queue;
    if (file.poll != nullptr) queue.pollers.erase(&file);
    users_.rebuffer(file.buffered_by, file.buffered, 0);
    const auto keep = file.queue;
    files_.erase(found);
    // An anonymous queue lives while some handle to it is open.
    if (--queue.open_handles == 0 && queue.anonymous && !queue.removed()) registry_.remove(queue);
  }
  if (reply != nullptr) reply->error(0);
}

void OpenFiles::flush(const Requester& requester, uint64_t handle, Reply& reply) {
  OpenFile* file = find(handle);
  // close(kq) in one thread wakes the others' kevent() on it (BSD): its
  // calls check whether their descriptor is still open.
  if (file != nullptr && file->kind == FileKind::clone && !file->queue->removed() &&
      sent_by_error(requester, file->owner) == 0) {
    events_.recheck_calls(*file);
  }
  if (file == nullptr || !file->changes.has_unfinished() || file->queue->removed()) {
    reply.error(0);
    return;
  }
  // Every close of a copy flushes (a child that inherited the descriptor
  // and exits, close(dup(fd))): only the writer's own close ends its line.
  if (sent_by_error(requester, file->unfinished_by) != 0) {
    reply.error(0);
    return;
  }
  QueueNode& queue = *file->queue;
  const std::string fragment =
      !codec_of(file->kind).framed_by_lines()
          ? std::to_string(file->changes.unfinished().size()) + " bytes of a binary record"
          : quoted_fragment(file->changes.unfinished());
  // A writer killed mid-line never meant what it wrote so far.
  if (const auto signal = killing_signal(requester.pid)) {
    file->changes.discard();
    queue.last_fragment =
        std::string("discarded: writer killed by SIG") + ::sigabbrev_np(*signal) + ": " + fragment;
    log_.info("queue " + queue.name + ": unfinished line " + queue.last_fragment);
    reply.error(0);
    return;
  }
  const int error = changes_.finish(queue, *file, requester);
  queue.last_fragment =
      (error == 0 ? "applied at close: " : "rejected at close (see last-error): ") + fragment;
  reply.error(error);
  events_.serve(queue);
}

}  // namespace kqfsd
