// The FUSE channel: the one part of kqfsd that knows libfuse. It mounts,
// reads requests from /dev/fuse when the loop says so, hands them to the
// Filesystem (fuse_operations.cpp) and sends back its replies.
#pragma once

#include <fuse_lowlevel.h>

#include <cstdint>
#include <memory>

#include "daemon/busy_poll.hpp"
#include "daemon/filesystem.hpp"
#include "daemon/loop.hpp"
#include "daemon/open_flags_hook.hpp"

namespace kqfsd {

// The low-level operations table, each forwarding to the Filesystem that
// the session's SessionData::owner points at.
fuse_lowlevel_ops fuse_operations();

class FuseChannel {
 public:
  FuseChannel(Filesystem& filesystem, Loop& loop);
  ~FuseChannel();
  FuseChannel(const FuseChannel&) = delete;
  FuseChannel& operator=(const FuseChannel&) = delete;

  // Mounts at the options' mount point; throws std::runtime_error with the
  // reason.
  void mount();
  // Ends every parked read with end of file and unmounts.
  void unmount();
  bool exited() const;

 private:
  void on_readable();
  // One request from the device into `buffer`: its size, 0 when the
  // session ended, or -errno (-EAGAIN: none waiting).
  int receive(fuse_buf& buffer);
  // Reads the device until a request comes or the busy-poll window ends.
  int spin(fuse_buf& buffer, std::chrono::microseconds window);

  Filesystem& filesystem_;
  Loop& loop_;
  SessionData session_data_;
  fuse_session* session_ = nullptr;
  bool mounted_ = false;
  uint64_t fuse_watch_ = 0;
  std::unique_ptr<char, void (*)(void*)> request_buffer_;
  size_t request_buffer_size_ = 0;
  BusyPoll busy_poll_;
};

}  // namespace kqfsd
