// The session's I/O with /dev/fuse, hooked to add open flags libfuse 3.14
// cannot express: FOPEN_STREAM (no file position, so many threads can block
// in read() on one shared descriptor) and FOPEN_NOFLUSH.
#pragma once

#include <fuse_lowlevel.h>

#include <cstdint>

namespace kqfsd {

// What fuse_session_new() is given as userdata: the hook reads the flags
// to add to the open reply being sent, the operations find their owner.
struct SessionData {
  void* owner = nullptr;
  uint32_t extra_open_flags = 0;  // set only around one fuse_reply_open()
  // The request read last, and whether a reply to it has been sent: what
  // answers a request that failed must not answer it twice.
  uint64_t request_read = 0;
  bool request_answered = false;
};

// Replaces the session's reads and writes of /dev/fuse with equivalents
// that apply `extra_open_flags` and note which request was answered.
// Returns 0 or -errno.
int install_open_flags_hook(fuse_session* session);

// Replies to an open request adding `open_flags` (FOPEN_*).
int reply_open_with(fuse_req_t request, const fuse_file_info& info, uint32_t open_flags);

}  // namespace kqfsd
