// The change path: bytes written to a changes file go through the codec to
// the engine, record by record; a record refused stops the write, and the
// queue keeps why (its last error) for status.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "daemon/credentials.hpp"
#include "daemon/log.hpp"
#include "daemon/memory_reserve.hpp"
#include "daemon/rate_limit.hpp"
#include "daemon/reply.hpp"
#include "daemon/tree.hpp"
#include "daemon/users.hpp"
#include "kqfs/codec/codec.hpp"
#include "kqfs/result.hpp"

namespace kqfsd {

class OpenFile;
class OpenFiles;
class EventPath;
class QueueRegistry;
class ProcessResolver;

// Who writes one request's changes: its credentials, and its process once
// a change needs it.
struct ChangeWriter {
  explicit ChangeWriter(const Requester& requester);

  Requester requester;
  Credentials credentials;
  std::optional<kqfs::Result<std::shared_ptr<ProcessResolver>>> process;
};

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

  // Applies one change of `writer`'s to `queue` through `file`: 0 or the
  // errno, with `why` saying more when there is more to say. A descriptor
  // ident is `pid`'s when that is not 0 (`FD@PID`), else the writer's.
  int apply_change(QueueNode& queue, const OpenFile& file, ChangeWriter& writer,
                   const kqfs::Kevent& change, int32_t pid, std::string& why);
  // The queue's last error is `reason`; the log hears of a few.
  void reject(QueueNode& queue, int error, const std::string& reason);

 private:
  kqfs::codec::WriteOutcome apply(QueueNode& queue, OpenFile& file, std::string_view bytes,
                                  bool finishing, const Requester& requester);
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
