// Ownership of one file descriptor, or of another handle.
#pragma once

#include <unistd.h>

#include <utility>

namespace kqfs {

// Ownership of one handle (a descriptor, a watch): move-only, and given back
// with `Release` (which may hold what it needs for that) when it goes.
template <class Release>
class UniqueHandle {
 public:
  UniqueHandle() = default;
  explicit UniqueHandle(int handle, Release release = {}) : handle_(handle), release_(release) {}
  UniqueHandle(UniqueHandle&& other) noexcept
      : handle_(other.release()), release_(other.release_) {}
  UniqueHandle& operator=(UniqueHandle&& other) noexcept {
    if (this != &other) {
      reset();
      release_ = other.release_;
      handle_ = other.release();
    }
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  ~UniqueHandle() { reset(); }

  int get() const { return handle_; }
  explicit operator bool() const { return handle_ >= 0; }

  // Keeps the handle from being given back (it is someone else's, or gone).
  int release() { return std::exchange(handle_, -1); }
  void reset(int handle = -1) {
    if (handle_ >= 0) release_(handle_);
    handle_ = handle;
  }

 private:
  int handle_ = -1;
  [[no_unique_address]] Release release_{};
};

struct CloseFd {
  void operator()(int fd) const { ::close(fd); }
};

using UniqueFd = UniqueHandle<CloseFd>;

}  // namespace kqfs
