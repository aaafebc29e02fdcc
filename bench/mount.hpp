// The kqfs mount the cases measure: a kqfsd the benchmark starts on a
// temporary mount point of its own, or an existing mount (--mount); the
// FUSE floor (kqfs-fuse-floor, bench/fuse_floor.cpp) it starts beside it;
// and the daemon's resident memory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/private_kqfsd.hpp"

namespace kqfs::bench {

// A mount point and the pid of the kqfsd serving it (-1 when unknown).
struct MountView {
  std::string path;
  pid_t daemon = -1;
};

// A kqfsd, or the FUSE floor (which takes kqfsd's launch options), on a
// fresh temporary mount point of its own; when it goes, a sanitizer report
// in its log is printed to standard error unless stop() took it.
class PrivateDaemon {
 public:
  explicit PrivateDaemon(const std::string& program) : daemon_(program, "kqfs-bench") {}
  ~PrivateDaemon();
  PrivateDaemon(const PrivateDaemon&) = delete;
  PrivateDaemon& operator=(const PrivateDaemon&) = delete;

  MountView view() const { return {daemon_.mount_point(), daemon_.pid()}; }

  // Stops the daemon and returns its log if the log holds a sanitizer
  // report, else an empty string.
  std::string stop();

 private:
  test_support::PrivateKqfsd daemon_;
  bool reported_ = false;
};

// Where the cases find kqfs: either daemons started from a kqfsd program,
// or an existing mount.
class Mounts {
 public:
  static Mounts started_from(std::string kqfsd_program);
  static Mounts existing(const std::string& mount_point);

  // The mount most cases share (started on first use).
  MountView shared();

  // The FUSE floor, kqfs-fuse-floor beside this program, on a mount of its
  // own (started on first use, also with --mount): its file `f` answers
  // writes and ioctls at once and reads at the next write.
  MountView floor();

  // A daemon for one measurement alone (memory growth must not mix with
  // other cases): a new private daemon, or the existing mount with --mount.
  class Lease {
   public:
    Lease(MountView view, std::unique_ptr<PrivateDaemon> owned,
          std::vector<std::string>& sanitizer_reports)
        : view_(std::move(view)), owned_(std::move(owned)), sanitizer_reports_(sanitizer_reports) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    const MountView& view() const { return view_; }

   private:
    MountView view_;
    std::unique_ptr<PrivateDaemon> owned_;
    std::vector<std::string>& sanitizer_reports_;
  };
  Lease dedicated();

  // Stops the daemons still running and returns the logs, of every daemon
  // started, that hold a sanitizer report (none: empty).
  std::vector<std::string> finish();

  // For the report's header: which kqfsd, or which mount.
  std::string description() const;

 private:
  Mounts() = default;

  std::string kqfsd_program_;  // empty: use existing_
  std::optional<MountView> existing_;
  std::unique_ptr<PrivateDaemon> shared_daemon_;
  std::unique_ptr<PrivateDaemon> floor_daemon_;
  std::vector<std::string> sanitizer_reports_;
};

// The resident memory of a process (VmRSS in /proc/PID/status), in bytes.
std::optional<int64_t> resident_bytes(pid_t pid);

// The kqfsd next to this program in the build tree (build/daemon/kqfsd
// beside build/bench/kqfs-bench).
std::string kqfsd_beside_this_program();

// The FUSE floor in this program's directory (build/bench/kqfs-fuse-floor).
std::string floor_beside_this_program();

}  // namespace kqfs::bench
