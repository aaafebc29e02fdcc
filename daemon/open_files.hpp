// The open files of the tree, by handle: opening (a kq/clone open makes its
// queue), release (an anonymous queue goes with its last handle) and flush
// (a writer's close ends its unfinished line).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "daemon/credentials.hpp"
#include "daemon/log.hpp"
#include "daemon/reply.hpp"
#include "daemon/tree.hpp"
#include "daemon/users.hpp"
#include "kqfs/codec/codec.hpp"

namespace kqfsd {

class QueueRegistry;
class ChangePath;
class EventPath;

// One open file of the tree.
class OpenFile {
 public:
  OpenFile(std::shared_ptr<QueueNode> queue, FileKind kind)
      : queue(std::move(queue)), kind(kind), changes(format_of(kind)), events(format_of(kind)) {}

  std::shared_ptr<QueueNode> queue;
  const FileKind kind;
  kqfs::codec::ChangeStream changes;
  kqfs::codec::EventStream events;
  std::string status_text;          // a status file's snapshot, taken at open
  std::unique_ptr<PollWaker> poll;  // kept to say when it becomes readable
  pid_t owner = 0;                  // kq/clone handles: the process that opened it
  pid_t unfinished_by = 0;          // the process whose write left a line unfinished
  uid_t buffered_by = 0;            // whose count of buffered bytes holds `buffered`
  size_t buffered = 0;
  Credentials opener;  // changes files: writers must match (writer_may_apply)
  // The text events file is seekable (GNU head): where the reader's file
  // position is after the last reply, and that reply, so that a seek back
  // into it (bash `read -n`) gets those bytes again.
  off_t position = 0;
  std::string last_reply;
};

// Tells every open file polling `queue` that it is ready, once.
void wake_pollers(QueueNode& queue);

// Whether `requester` is a thread of `process`: 0, EBADF when it is not,
// or the errno that kept the daemon from telling (EMFILE).
int sent_by_error(const Requester& requester, pid_t process);

class OpenFiles {
 public:
  OpenFiles(const Log& log, Tree& tree, Users& users, QueueRegistry& registry, ChangePath& changes,
            EventPath& events)
      : log_(log),
        tree_(tree),
        users_(users),
        registry_(registry),
        changes_(changes),
        events_(events) {}

  // What the mount's status file says, asked at each open of it.
  void show_mount_status(std::function<std::string()> render) { mount_status_ = std::move(render); }

  void open(const Requester& requester, Inode inode, Reply& reply);
  // `reply` null: the open was undone, nobody waits for an answer.
  void release(uint64_t handle, Reply* reply);
  void flush(const Requester& requester, uint64_t handle, Reply& reply);

  OpenFile* find(uint64_t handle) const;
  // The open file for a read, write or poll, or null with `error` set
  // (EBADF): a kqueue handle answers only the process that opened it.
  OpenFile* usable(const Requester& requester, uint64_t handle, int& error) const;
  // The same, with `reply` answered with the error when it is null.
  OpenFile* usable(const Requester& requester, uint64_t handle, Reply& reply) const;
  size_t size() const { return files_.size(); }

 private:
  // The mount's status file stands for no queue: its handles hold this
  // husk, a queue already removed (no engine), which nothing can change.
  const std::shared_ptr<QueueNode> mount_husk_ = std::make_shared<QueueNode>();
  std::function<std::string()> mount_status_;
  const Log& log_;
  Tree& tree_;
  Users& users_;
  QueueRegistry& registry_;
  ChangePath& changes_;
  EventPath& events_;
  std::unordered_map<uint64_t, std::unique_ptr<OpenFile>> files_;
  uint64_t next_handle_ = 1;
};

}  // namespace kqfsd
