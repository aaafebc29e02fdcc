// Paths on a kqfs mount for kqctl, and failures that say what is missing:
// the mount, the queue, or something else, with the errno's text.
#pragma once

#include <string>
#include <string_view>

#include "client/kqctl/syntax.hpp"
#include "kqfs/codec/codec.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqctl {

// "No such file or directory" for ENOENT, as the daemon words it.
using kqfs::codec::describe_errno;

// What a queue name may be, for messages (the daemon decides).
inline constexpr std::string_view kQueueNameRule =
    "a queue name is 1 to 64 characters of A-Za-z0-9._-";

class Mount {
 public:
  explicit Mount(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  // ROOT/kq
  std::string queues() const { return root_ + "/kq"; }
  // ROOT/kq/NAME, or ROOT/kq/NAME/FILE. A NAME that is not a single path
  // component is EINVAL here, so that kqctl never opens a file outside kq/.
  std::string queue(std::string_view name, std::string_view file = {}) const;

  // The failure of an operation on kq/ itself with `error`, e.g. ENOENT:
  // "no kqfs mount at ROOT ...".
  Failure mount_failure(int error) const;

  // The failure of an operation on queue NAME with `error`: for ENOENT it
  // tells a missing mount from a missing queue.
  Failure queue_failure(std::string_view name, int error) const;

  // Opens FILE of queue NAME with `flags` (O_CLOEXEC added), or throws
  // queue_failure.
  kqfs::UniqueFd open(std::string_view name, std::string_view file, int flags) const;

  // The whole of FILE of queue NAME, or throws queue_failure.
  std::string read(std::string_view name, std::string_view file) const;

  // Queue NAME's status line for the last rejected input (last-error),
  // or empty when there is none; throws queue_failure.
  std::string last_error(std::string_view name) const;

 private:
  std::string root_;
};

// Closes `fd`; a Failure "WHAT: errno text" when close reports an error (a
// changes file reports an unfinished last line's error there).
void close_checked(kqfs::UniqueFd& fd, const std::string& what);

}  // namespace kqctl
