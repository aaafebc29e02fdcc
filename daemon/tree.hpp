// The mounted tree: the root, its status, kq/, kq/clone and one directory
// per queue,
// with inode numbers derived from queue ids (never reused, so a stale inode
// can never name a newer queue).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "daemon/lost_knotes.hpp"
#include "daemon/parked_request.hpp"
#include "daemon/reply.hpp"
#include "kqfs/codec/formats.hpp"
#include "kqfs/kqueue.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfsd {

using Inode = uint64_t;

inline constexpr Inode kRootInode = 1;
inline constexpr Inode kQueuesInode = 2;  // kq/
// kq/clone as listed. Each lookup of it gives a fresh inode of kind clone,
// numbered as the queue its open will make, so a kqueue handle is told from
// every other by its inode alone (fdinfo shows it, without asking FUSE).
inline constexpr Inode kCloneInode = 3;
// The mount's own status (mount_status_text.hpp): below every queue inode.
inline constexpr Inode kMountStatusInode = 4;

// The files of a queue directory. Record format i (kqfs::codec::kCodecs)
// has two: its changes file, 1 + 2i, and its events file, 2 + 2i
// (changes_file(), events_file()).
enum class FileKind : uint8_t {
  directory = 0,
  status = 1 + 2 * kqfs::codec::kFormatCount,
  tied_to,  // the process whose exit removes the queue (tie_path.hpp)
  clone,    // the kq/clone handle: binary in both directions
};

constexpr FileKind changes_file(kqfs::codec::Format format) {
  return static_cast<FileKind>(1 + 2 * kqfs::codec::index_of(format));
}

constexpr FileKind events_file(kqfs::codec::Format format) {
  return static_cast<FileKind>(2 + 2 * kqfs::codec::index_of(format));
}

struct FileSpec {
  std::string_view name;
  FileKind kind;
};

// The files inside every queue directory, in listing order: "changes" and
// "events" with each format's suffix, in the table's order, then status
// and tied-to.
std::span<const FileSpec> queue_files();

bool is_changes(FileKind kind);
bool is_events(FileKind kind);
kqfs::codec::Format format_of(FileKind kind);
const kqfs::codec::Codec& codec_of(FileKind kind);
// An events file that returns one record per read (text): it stays
// seekable, and a reader that seeks back into its last reply gets those
// bytes again (GNU head, bash's read).
bool is_rewindable(FileKind kind);

class OpenFile;

// Why the queue's last write was refused (status shows `reason`).
struct Rejection {
  int error = 0;
  std::string reason;
};

// A queue's tie: the process whose exit removes it, held by a pidfd (no pid
// reuse can redirect it) that the loop watches.
struct Tie {
  pid_t pid = 0;
  kqfs::UniqueFd pidfd;
  uint64_t loop_watch = 0;
};

struct QueueNode {
  uint64_t id = 0;
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  uid_t charged_uid = 0;  // whose per-user count holds this queue
  mode_t mode = 0755;     // of the directory; the files derive theirs
  timespec created{};
  bool anonymous = false;  // made by opening kq/clone

  std::unique_ptr<kqfs::Kqueue> engine;  // released when the queue is removed
  uint64_t loop_watch = 0;
  std::optional<Tie> tie;  // set and dropped by QueueRegistry::tie/untie

  std::list<ParkedRequest> waiters;  // FIFO; list: interrupt callbacks hold pointers
  std::set<OpenFile*> pollers;       // open files with a poll handle to notify
  size_t open_handles = 0;
  uint64_t changes_applied = 0;
  uint64_t events_delivered = 0;
  std::optional<Rejection> last_error;
  std::string last_fragment;  // what became of the last line left unfinished at a close
  LostKnotes lost_knotes;     // knotes that went with their owner
  // The shared signal tracer's lost count when this queue's first signal
  // knote came: losses before it are not this queue's.
  uint64_t signals_lost_before = 0;

  bool removed() const { return engine == nullptr; }
};

// The pid of the process `queue` is tied to, or "none": what tied-to and
// status show.
std::string tied_to_text(const QueueNode& queue);

// Inode numbers of a queue's directory and files.
Inode directory_inode(uint64_t queue_id);
Inode file_inode(uint64_t queue_id, FileKind kind);
// The queue id and kind an inode names, for queue inodes.
std::optional<std::pair<uint64_t, FileKind>> decode_inode(Inode inode);

// 1 to 64 characters of [A-Za-z0-9._-], not "." or "..".
bool valid_queue_name(std::string_view name);

// Attributes of every node in the tree.
struct stat attributes_of_root(uid_t uid, gid_t gid, const timespec& mounted);
struct stat attributes_of_queues(uid_t uid, gid_t gid, const timespec& mounted);
struct stat attributes_of_clone(Inode inode, uid_t uid, gid_t gid, const timespec& mounted);
struct stat attributes_of_mount_status(uid_t uid, gid_t gid, const timespec& mounted);
struct stat attributes_of(const QueueNode& queue, FileKind kind);

// The queues by name and id.
class Tree {
 public:
  std::shared_ptr<QueueNode> find(std::string_view name) const;
  std::shared_ptr<QueueNode> find(uint64_t id) const;
  size_t size() const { return by_name_.size(); }
  const std::map<std::string, std::shared_ptr<QueueNode>, std::less<>>& by_name() const {
    return by_name_;
  }

  // An id no queue will take but the one that asks for it.
  uint64_t reserve_id() { return next_id_++; }
  // Adds a queue under its name with `id` (reserved), or a fresh id; on
  // std::bad_alloc, adds nothing.
  void add(std::shared_ptr<QueueNode> queue, uint64_t id = 0);
  // A name no queue has, for an anonymous queue: clone-N, N from `preferred`.
  std::string unused_anonymous_name(uint64_t preferred) const;
  void erase(const QueueNode& queue);

 private:
  std::map<std::string, std::shared_ptr<QueueNode>, std::less<>> by_name_;
  std::map<uint64_t, std::shared_ptr<QueueNode>> by_id_;
  uint64_t next_id_ = 1;
};

}  // namespace kqfsd
