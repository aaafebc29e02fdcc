// The change path: bytes written to a changes file go through the codec to
// the engine, record by record; a record refused stops the write, and the
// queue keeps why (its last error) for status.
#pragma once

#include <string_view>

#include "daemon/log.hpp"
#include "daemon/memory_reserve.hpp"
#include "daemon/rate_limit.hpp"
#include "daemon/reply.hpp"
#include "daemon/tree.hpp"
#include "daemon/users.hpp"
#include "kqfs/codec/codec.hpp"

namespace kqfsd {

class OpenFile;
class OpenFiles;
class EventPath;
class QueueRegistry;

class ChangePath {
 public:
  ChangePath(const Log& log, Users& users, MemoryReserve& memory, QueueRegistry& registry,
             OpenFiles& files, EventPath& events);

  void write(const Requester& requester, uint64_t handle, std::string_view bytes, Reply& reply);
  // At the writer's close: its unfinished line or record, applied or
  // rejected; 0 or the errno.
  int finish(QueueNode& queue, OpenFile& file, const Requester& requester);
  // Tells the rejections held back from the log.
  void flush_log();

 private:
  kqfs::codec::WriteOutcome apply(QueueNode& queue, OpenFile& file, std::string_view bytes,
                                  bool finishing, const Requester& requester);
  void reject(QueueNode& queue, int error, const std::string& reason);
  // Counts what `file` keeps between writes against `writer`; false, with
  // the count unchanged, when growing would pass the per-user limit.
  bool account_buffered(OpenFile& file, uid_t writer);

  const Log& log_;
  Users& users_;
  MemoryReserve& memory_;
  QueueRegistry& registry_;
  OpenFiles& files_;
  EventPath& events_;
  RateLimiter rejections_;  // per queue
};

}  // namespace kqfsd
