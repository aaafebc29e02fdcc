// The call path: one kevent() in one request. An ioctl on a kq/clone
// handle carries the changelist, the room for entries and the timeout
// (kqfs/call_ioctl.h); the changes go through the change path, the wait
// parks like a read (event_path.hpp), and the answer holds kevent()'s
// result and entries (docs/design.md#one-kevent-call-one-request).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "daemon/reply.hpp"

namespace kqfsd {

class OpenFiles;
class ChangePath;
class EventPath;

class CallPath {
 public:
  CallPath(OpenFiles& files, ChangePath& changes, EventPath& events)
      : files_(files), changes_(changes), events_(events) {}

  // An ioctl of `command` on open file `handle` (inode `inode`), with the
  // bytes the kernel copied in and room for `out_size` bytes out.
  void call(const Requester& requester, uint64_t handle, uint64_t inode, unsigned command,
            std::string_view in, size_t out_size, std::unique_ptr<Reply> reply);

 private:
  OpenFiles& files_;
  ChangePath& changes_;
  EventPath& events_;
  uint64_t next_call_id_ = 1;
};

}  // namespace kqfsd
