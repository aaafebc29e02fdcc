#include "daemon/tree_operations.hpp"

#include <string>
#include <vector>

#include "daemon/queue_registry.hpp"

namespace kqfsd {

std::optional<struct stat> TreeOperations::attributes_of_inode(Inode inode) const {
  switch (inode) {
    case kRootInode:
      return attributes_of_root(owner_uid_, owner_gid_, mounted_at_);
    case kQueuesInode:
      return attributes_of_queues(owner_uid_, owner_gid_, mounted_at_);
    case kCloneInode:
      return attributes_of_clone(kCloneInode, owner_uid_, owner_gid_, mounted_at_);
    case kMountStatusInode:
      return attributes_of_mount_status(owner_uid_, owner_gid_, mounted_at_);
    default:
      break;
  }
  const auto decoded = decode_inode(inode);
  if (!decoded) return std::nullopt;
  if (decoded->second == FileKind::clone) {
    return attributes_of_clone(inode, owner_uid_, owner_gid_, mounted_at_);
  }
  const auto queue = tree_.find(decoded->first);
  if (queue == nullptr) return std::nullopt;
  return attributes_of(*queue, decoded->second);
}

void TreeOperations::lookup(Inode parent, std::string_view wanted, Reply& reply) {
  std::optional<struct stat> found;
  if (parent == kRootInode && wanted == "kq") {
    found = attributes_of_inode(kQueuesInode);
  } else if (parent == kRootInode && wanted == "status") {
    found = attributes_of_inode(kMountStatusInode);
  } else if (parent == kQueuesInode && wanted == "clone") {
    found = attributes_of_inode(file_inode(tree_.reserve_id(), FileKind::clone));
  } else if (parent == kQueuesInode) {
    if (const auto queue = tree_.find(wanted)) found = attributes_of(*queue, FileKind::directory);
  } else if (const auto decoded = decode_inode(parent);
             decoded && decoded->second == FileKind::directory) {
    const auto queue = tree_.find(decoded->first);
    for (const FileSpec& file : queue_files()) {
      if (queue != nullptr && file.name == wanted) found = attributes_of(*queue, file.kind);
    }
  }
  if (!found) {
    reply.error(ENOENT);
    return;
  }
  reply.entry(*found);
}

void TreeOperations::getattr(Inode inode, Reply& reply) {
  const auto attributes = attributes_of_inode(inode);
  if (!attributes) {
    reply.error(ENOENT);
    return;
  }
  reply.attributes(*attributes);
}

void TreeOperations::setattr(const Requester& requester, Inode inode, const AttributeChange& change,
                             Reply& reply) {
  const auto decoded = decode_inode(inode);
  const auto queue = decoded ? tree_.find(decoded->first) : nullptr;
  if (change.size) {
    // "> changes" truncates: a stream has nothing to cut, so size 0 is fine.
    const bool writable = decoded && (decoded->second == FileKind::clone ||
                                      (queue != nullptr && (is_changes(decoded->second) ||
                                                            decoded->second == FileKind::tied_to)));
    if (!writable || *change.size != 0) {
      reply.error(EINVAL);
      return;
    }
  }
  if (change.uid || change.gid) {
    if (queue == nullptr || decoded->second != FileKind::directory || requester.uid != 0) {
      reply.error(EPERM);
      return;
    }
    if (change.uid) queue->uid = *change.uid;
    if (change.gid) queue->gid = *change.gid;
  }
  if (change.mode) {
    // The kernel checked ownership (default_permissions); the directory's
    // mode decides its files' modes.
    if (queue == nullptr || decoded->second != FileKind::directory) {
      reply.error(EPERM);
      return;
    }
    queue->mode = *change.mode & 07777;
  }
  getattr(inode, reply);
}

void TreeOperations::readdir(Inode inode, size_t size, off_t offset, Reply& reply) {
  std::vector<DirectoryEntry> entries = {{".", inode, S_IFDIR}};
  if (inode == kRootInode) {
    entries.push_back({"..", kRootInode, S_IFDIR});
    entries.push_back({"kq", kQueuesInode, S_IFDIR});
    entries.push_back({"status", kMountStatusInode, S_IFREG});
  } else if (inode == kQueuesInode) {
    entries.push_back({"..", kRootInode, S_IFDIR});
    entries.push_back({"clone", kCloneInode, S_IFREG});
    for (const auto& [name, queue] : tree_.by_name()) {
      entries.push_back({name, directory_inode(queue->id), S_IFDIR});
    }
  } else if (const auto decoded = decode_inode(inode);
             decoded && decoded->second == FileKind::directory && tree_.find(decoded->first)) {
    entries.push_back({"..", kQueuesInode, S_IFDIR});
    for (const FileSpec& file : queue_files()) {
      entries.push_back({std::string(file.name), file_inode(decoded->first, file.kind), S_IFREG});
    }
  } else {
    reply.error(ENOTDIR);
    return;
  }
  reply.directory(entries, size, offset);
}

void TreeOperations::mkdir(const Requester& requester, Inode parent, std::string_view wanted,
                           mode_t mode, Reply& reply) {
  if (parent != kQueuesInode) {
    reply.error(EPERM);
    return;
  }
  if (wanted == "clone" || tree_.find(wanted) != nullptr) {
    reply.error(EEXIST);
    return;
  }
  if (!valid_queue_name(wanted)) {
    reply.error(EINVAL);
    return;
  }
  auto queue = registry_.create(std::string(wanted), requester, mode, false);
  if (!queue) {
    reply.error(queue.error());
    return;
  }
  reply.entry(attributes_of(**queue, FileKind::directory));
}

void TreeOperations::rmdir(Inode parent, std::string_view name, Reply& reply) {
  const auto queue = parent == kQueuesInode ? tree_.find(name) : nullptr;
  if (queue == nullptr) {
    reply.error(parent == kQueuesInode ? ENOENT : EPERM);
    return;
  }
  registry_.remove(*queue);
  reply.error(0);
}

}  // namespace kqfsd
