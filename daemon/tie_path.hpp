// A queue's tied-to file: writing a pid ties the queue to that process,
// whose exit then removes the queue as rmdir does; `none` or 0 unties it;
// reading it gives the pid, or none (docs/design.md#the-mounted-tree).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/reply.hpp"
#include "daemon/tree.hpp"

namespace kqfsd {

class OpenFiles;
class QueueRegistry;
class ChangePath;

class TiePath {
 public:
  TiePath(OpenFiles& files, QueueRegistry& registry, ChangePath& changes)
      : files_(files), registry_(registry), changes_(changes) {}

  // Whether `handle` is a tied-to file: the channel sends its reads and
  // writes here.
  bool serves(uint64_t handle) const;
  void read(const Requester& requester, uint64_t handle, size_t size, off_t offset, Reply& reply);
  // One write is one value, with or without its newline.
  void write(const Requester& requester, uint64_t handle, std::string_view bytes, Reply& reply);

 private:
  // Ties `queue` to `pid` as `requester` names it: 0, or the errno with
  // `why` saying more when there is more to say.
  int tie(QueueNode& queue, const Requester& requester, uint64_t pid, std::string& why);

  OpenFiles& files_;
  QueueRegistry& registry_;
  ChangePath& changes_;
};

}  // namespace kqfsd
