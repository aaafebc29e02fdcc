// The Linux half of EVFILT_READ/WRITE: what kind of open file a descriptor
// names and one look at its state (poll, ioctls, TCP_INFO, sock_diag, fdinfo).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace kqfs {

// What kind of open file a descriptor names; it decides how state is read.
enum class DescriptorKind : uint8_t {
  pipe,             // pipes and FIFOs
  stream_socket,    // connected or connecting stream and seqpacket sockets
  datagram_socket,  // UDP, unix datagram, raw
  tcp_listener,
  unix_listener,
  tty,
  eventfd,
  pollable,    // anything else epoll accepts: epoll (a queue), timerfd, pidfd ...
  file,        // regular files, directories, block devices: inotify, not epoll
  unpollable,  // devices without poll support: always ready, as poll(2) says
};

// One look at a descriptor, shared by its read and write knotes.
struct DescriptorState {
  bool open = false;  // the registrant still has the descriptor on this file
  short revents = 0;  // poll(2)
  int64_t readable = 0;
  int64_t writable = 0;
  bool read_eof = false;
  bool write_eof = false;
  bool pending_error = false;  // an error queued without end of file
  uint32_t eof_error = 0;      // the socket error that came with end of file
};

// How a file epoll cannot hold (a regular file, a directory) is known
// again: by its inode, and by the access mode it was opened with, so that a
// reopen under the same number with another mode (read, then write) is a
// new file. A reopen with the same mode is not told apart (docs/semantics.md).
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  int access_mode = 0;

  static FileIdentity of(int fd, const struct stat& st);
  static std::optional<FileIdentity> of(int fd);
  bool operator==(const FileIdentity&) const = default;
};

DescriptorKind classify_descriptor(int fd, const struct stat& st);

// Fills `s` from a look at `fd`. `kind` may change (listen() after the
// registration); `socket_error_seen` keeps a socket's error once read,
// since reading SO_ERROR clears it.
void read_descriptor_state(int fd, DescriptorKind& kind, bool for_writer,
                           uint32_t& socket_error_seen, DescriptorState& s);

}  // namespace kqfs
