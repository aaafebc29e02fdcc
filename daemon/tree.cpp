#include "daemon/tree.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace kqfsd {
namespace {

using kqfs::codec::kCodecs;
using kqfs::codec::kFormatCount;

// The names of a queue's files, made once from the table of formats.
class QueueFiles {
 public:
  QueueFiles() {
    for (size_t index = 0; index < kFormatCount; ++index) {
      const kqfs::codec::Codec& codec = kCodecs[index];
      names_[2 * index] = "changes" + std::string(codec.suffix);
      names_[2 * index + 1] = "events" + std::string(codec.suffix);
      specs_[2 * index] = FileSpec{names_[2 * index], changes_file(codec.format)};
      specs_[2 * index + 1] = FileSpec{names_[2 * index + 1], events_file(codec.format)};
    }
    specs_[2 * kFormatCount] = FileSpec{"status", FileKind::status};
    specs_[2 * kFormatCount + 1] = FileSpec{"tied-to", FileKind::tied_to};
  }
  QueueFiles(const QueueFiles&) = delete;  // specs_ point into names_
  QueueFiles& operator=(const QueueFiles&) = delete;

  std::span<const FileSpec> specs() const { return specs_; }

 private:
  std::array<std::string, 2 * kFormatCount> names_;
  std::array<FileSpec, 2 * kFormatCount + 2> specs_;
};

// Queue inodes: the id in the high bits, the file in the low four.
constexpr int kKindBits = 4;
static_assert(static_cast<unsigned>(FileKind::clone) < (1u << kKindBits),
              "too many formats for the inode's file bits");

// A changes or events file of a format (not clone).
bool is_format_file(FileKind kind) {
  return kind != FileKind::directory && kind < FileKind::status;
}

size_t format_index(FileKind kind) {
  return (static_cast<size_t>(kind) - 1) / 2;
}

struct stat base_attributes(Inode inode, mode_t mode, uid_t uid, gid_t gid, const timespec& when) {
  struct stat st {};
  st.st_ino = inode;
  st.st_mode = mode;
  st.st_nlink = S_ISDIR(mode) ? 2 : 1;
  st.st_uid = uid;
  st.st_gid = gid;
  st.st_blksize = 4096;
  st.st_atim = st.st_mtim = st.st_ctim = when;
  return st;
}

}  // namespace

std::span<const FileSpec> queue_files() {
  static const QueueFiles files;
  return files.specs();
}

bool is_changes(FileKind kind) {
  return kind == FileKind::clone || (is_format_file(kind) && kind == changes_file(format_of(kind)));
}

bool is_events(FileKind kind) {
  return kind == FileKind::clone || (is_format_file(kind) && kind == events_file(format_of(kind)));
}

kqfs::codec::Format format_of(FileKind kind) {
  if (kind == FileKind::clone) return kqfs::codec::Format::binary;
  if (!is_format_file(kind)) return kqfs::codec::Format::text;
  return kCodecs[format_index(kind)].format;
}

const kqfs::codec::Codec& codec_of(FileKind kind) {
  return kqfs::codec::codec_of(format_of(kind));
}

bool is_rewindable(FileKind kind) {
  return is_format_file(kind) && kind == events_file(format_of(kind)) &&
         codec_of(kind).one_per_read;
}

std::string tied_to_text(const QueueNode& queue) {
  return queue.tie ? std::to_string(queue.tie->pid) : "none";
}

Inode directory_inode(uint64_t queue_id) {
  return file_inode(queue_id, FileKind::directory);
}

Inode file_inode(uint64_t queue_id, FileKind kind) {
  return (queue_id << kKindBits) | static_cast<Inode>(kind);
}

std::optional<std::pair<uint64_t, FileKind>> decode_inode(Inode inode) {
  const uint64_t id = inode >> kKindBits;
  const auto kind = static_cast<uint8_t>(inode & ((1u << kKindBits) - 1));
  if (id == 0 || kind > static_cast<uint8_t>(FileKind::clone)) return std::nullopt;
  return std::make_pair(id, static_cast<FileKind>(kind));
}

bool valid_queue_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

struct stat attributes_of_root(uid_t uid, gid_t gid, const timespec& mounted) {
  return base_attributes(kRootInode, S_IFDIR | 0755, uid, gid, mounted);
}

// Anyone the mount admits may make queues; the sticky bit keeps others from
// removing them, as in /tmp.
struct stat attributes_of_queues(uid_t uid, gid_t gid, const timespec& mounted) {
  return base_attributes(kQueuesInode, S_IFDIR | S_ISVTX | 0777, uid, gid, mounted);
}

struct stat attributes_of_clone(Inode inode, uid_t uid, gid_t gid, const timespec& mounted) {
  return base_attributes(inode, S_IFREG | 0666, uid, gid, mounted);
}

// Read by anyone the mount admits: it names no queue and no user.
struct stat attributes_of_mount_status(uid_t uid, gid_t gid, const timespec& mounted) {
  return base_attributes(kMountStatusInode, S_IFREG | 0444, uid, gid, mounted);
}

// A queue's files take the directory's permission bits: changes files its
// write bits, status its read bits. Reading events consumes the queue, so
// events files are readable by those who may write changes: the
// directory's write bits, as read bits. tied-to is read as status and
// written as changes.
struct stat attributes_of(const QueueNode& queue, FileKind kind) {
  mode_t mode = S_IFDIR | (queue.mode & 07777);
  if (kind == FileKind::status) {
    mode = S_IFREG | (queue.mode & 0444);
  } else if (kind == FileKind::tied_to) {
    mode = S_IFREG | (queue.mode & 0666);
  } else if (is_events(kind)) {
    mode = S_IFREG | ((queue.mode & 0222) << 1);
  } else if (is_changes(kind)) {
    mode = S_IFREG | (queue.mode & 0222);
  }
  return base_attributes(file_inode(queue.id, kind), mode, queue.uid, queue.gid, queue.created);
}

std::shared_ptr<QueueNode> Tree::find(std::string_view name) const {
  const auto found = by_name_.find(name);
  return found == by_name_.end() ? nullptr : found->second;
}

std::shared_ptr<QueueNode> Tree::find(uint64_t id) const {
  const auto found = by_id_.find(id);
  return found == by_id_.end() ? nullptr : found->second;
}

void Tree::add(std::shared_ptr<QueueNode> queue, uint64_t id) {
  queue->id = id != 0 && !by_id_.contains(id) ? id : next_id_++;
  // Both maps or neither, should memory run out between them.
  const auto by_id = by_id_.emplace(queue->id, queue).first;
  try {
    by_name_.emplace(queue->name, std::move(queue));
  } catch (...) {
    by_id_.erase(by_id);
    throw;
  }
}

std::string Tree::unused_anonymous_name(uint64_t preferred) const {
  for (uint64_t n = preferred;; ++n) {
    std::string name = "clone-" + std::to_string(n);
    if (!by_name_.contains(name)) return name;
  }
}

void Tree::erase(const QueueNode& queue) {
  by_name_.erase(queue.name);
  by_id_.erase(queue.id);
}

}  // namespace kqfsd
