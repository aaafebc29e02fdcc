// Who a request comes from, and the checks that keep a root kqfsd mounted
// with allow_other from giving a caller more than the kernel would give it
// directly (docs/security.md).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace kqfsd {

// The identity the kernel gives a FUSE request (the calling thread's
// filesystem uid and gid) and that thread's supplementary groups.
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // read only where needed: with_groups()
  pid_t thread = 0;           // the thread that made the request

  bool is_root() const { return uid == 0; }
  bool in_group(gid_t group) const;
};

// Credentials of a request from thread `tid`, with `uid` and `gid` as the
// kernel gave them; the groups are not read yet.
Credentials credentials_of_request(pid_t tid, uid_t uid, gid_t gid);
// The same with the thread's supplementary groups, read from /proc (none
// if the thread is gone).
Credentials with_groups(Credentials credentials);

// Whether `who` may open a file of `owner`:`group` with permission bits
// `mode` for `access` (R_OK or W_OK), as the kernel's permission bits rule
// (root may always).
bool permits(const Credentials& who, uid_t owner, gid_t group, mode_t mode, int access);

// The confused deputy: a change whose ident names something of the process
// writing it (`names_writers_own`: a descriptor, its signals; the engine's
// Kqueue::tied_to_caller says which filters) is refused with EACCES unless
// the writer has the credentials of the process that opened the changes
// file. Otherwise a privileged process writing text another user chose
// into that user's handle would give that user knotes on its own files.
// 0, or EACCES with the reason in `why`.
int writer_may_apply(bool names_writers_own, const Credentials& opener, const Credentials& writer,
                     std::string& why);

// A descriptor of another process (`FD@PID`): whether `writer` may take
// process `target`'s descriptors itself, as pidfd_getfd's ptrace check
// allows: root, or a writer whose uid is the target's real, effective and
// saved uid and whose gid its real, effective and saved gid, of a target
// that is dumpable (not a setuid program). 0, or EPERM (pidfd_getfd's own
// errno) with the reason in `why`; ESRCH when the target is gone.
int may_take_descriptors(const Credentials& writer, pid_t target, std::string& why);

// The checks run with the caller's rights, so that the kernel decides.
// Root and the daemon's own user pass unchecked: they have the daemon's
// rights anyway (and a private mount, used by its owner alone, never pays
// for a check).
class CredentialChecks {
 public:
  // EVFILT_VNODE: whether `caller` may read the file our descriptor
  // `fd` names (what inotify_add_watch requires). 0, or EACCES.
  static int may_read(const Credentials& caller, int fd, std::string& why);

  // EVFILT_PROC: whether `caller` (process `caller_pid`) sees process
  // `target` in its own /proc: with hidepid, only the processes it may
  // ptrace-read unless it is in the mount's gid= group. 0, ESRCH, or
  // EACCES when the check could not be made.
  static int may_see_process(const Credentials& caller, pid_t caller_pid, pid_t target,
                             std::string& why);
};

}  // namespace kqfsd
