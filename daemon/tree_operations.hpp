// Requests on the tree itself: names, attributes, listings, and queues made
// and removed as directories.
#pragma once

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <optional>

#include "daemon/reply.hpp"
#include "daemon/tree.hpp"

namespace kqfsd {

class QueueRegistry;

class TreeOperations {
 public:
  TreeOperations(Tree& tree, QueueRegistry& registry)
      : tree_(tree), registry_(registry), owner_uid_(::getuid()), owner_gid_(::getgid()) {}

  // When the mount was made: the time of the tree's own nodes.
  void mounted_now() { ::clock_gettime(CLOCK_REALTIME, &mounted_at_); }

  void lookup(Inode parent, std::string_view name, Reply& reply);
  void getattr(Inode inode, Reply& reply);
  void setattr(const Requester& requester, Inode inode, const AttributeChange& change,
               Reply& reply);
  void readdir(Inode inode, size_t size, off_t offset, Reply& reply);
  void mkdir(const Requester& requester, Inode parent, std::string_view name, mode_t mode,
             Reply& reply);
  void rmdir(Inode parent, std::string_view name, Reply& reply);

  std::optional<struct stat> attributes_of_inode(Inode inode) const;

 private:
  Tree& tree_;
  QueueRegistry& registry_;
  const uid_t owner_uid_;
  const gid_t owner_gid_;
  timespec mounted_at_{};
};

}  // namespace kqfsd
