#include "bench/client_kqueue.hpp"

#include <cerrno>
#include <cstdlib>

#include "bench/errors.hpp"

namespace kqfs::bench {

ClientKqueue::ClientKqueue(const std::string& mount_point) {
  if (::setenv("KQFS_MOUNT", mount_point.c_str(), 1) != 0) throw_errno("setenv KQFS_MOUNT");
  kq_.reset(::kqueue());
  if (!kq_) throw_errno("kqueue() on " + mount_point);
}

int ClientKqueue::kevent(std::span<const struct kevent> changes,
                         std::span<struct kevent> events) const {
  int got;
  do {
    got = ::kevent(kq_.get(), changes.data(), static_cast<int>(changes.size()), events.data(),
                   static_cast<int>(events.size()), nullptr);
  } while (got < 0 && errno == EINTR);
  if (got < 0) throw_errno("kevent");
  return got;
}

}  // namespace kqfs::bench
