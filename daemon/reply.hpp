// What the plain C++ core of kqfsd answers requests through, so that it
// knows nothing of libfuse: the FUSE channel (fuse_operations.cpp) adapts
// these to libfuse's replies, the unit tests to records of their own.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kqfsd {

// How an open file behaves, given with the reply to its open.
enum OpenFlags : uint32_t {
  kDirectIo = 1u << 0,  // no page cache: every read and write reaches the daemon
  kStream = 1u << 1,    // no file position (FOPEN_STREAM)
  kNoFlush = 1u << 2,   // close() need not be told (FOPEN_NOFLUSH)
};

// The thread that sent a request, as the kernel told it.
struct Requester {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// What a setattr asks to change; the unset ones stay.
struct AttributeChange {
  std::optional<off_t> size;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<mode_t> mode;
};

struct DirectoryEntry {
  std::string name;
  uint64_t inode;
  mode_t type;  // S_IFDIR, S_IFREG
};

// The one answer to one request. Exactly one of the answering calls is
// made, once.
class Reply {
 public:
  virtual ~Reply() = default;

  // 0 is success with nothing to say (rmdir, release, flush).
  virtual void error(int error) = 0;
  virtual void data(std::string_view bytes) = 0;
  // The part of a whole text file that a read of `size` bytes at `offset`
  // asks for (status, tied-to).
  void text_at(std::string_view text, off_t offset, size_t size) {
    const size_t start = std::min(static_cast<size_t>(offset), text.size());
    data(text.substr(start, std::min(size, text.size() - start)));
  }
  virtual void written(size_t count) = 0;
  virtual void entry(const struct stat& attributes) = 0;
  virtual void attributes(const struct stat& attributes) = 0;
  // The entries from index `offset` on that fit in `size` bytes.
  virtual void directory(std::span<const DirectoryEntry> entries, size_t size, off_t offset) = 0;
  // False when the opener is gone: no release will come for `handle`.
  virtual bool opened(uint64_t handle, uint32_t flags) = 0;
  virtual void poll(unsigned revents) = 0;
  // An ioctl's answer: result 0, and `out` copied to the caller's buffer.
  virtual void ioctl(std::string_view out) = 0;

  // A request that waits (a parked read or call): `interrupted` runs when its
  // sender is interrupted, perhaps at once. It may only take note: the
  // answer is given later, from the loop.
  virtual void on_interrupt(std::function<void()> interrupted) = 0;
};

// Kept from a poll to say when its file becomes ready; said once.
class PollWaker {
 public:
  virtual ~PollWaker() = default;
  virtual void wake() = 0;
};

}  // namespace kqfsd
