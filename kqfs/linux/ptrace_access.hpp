// What the kernel's ptrace access check would answer for this process and
// another, worked out from what /proc shows without that access.
//
// /proc hides some of a process's state from whoever may not ptrace-read it
// (PTRACE_MODE_READ_FSCREDS), its exit status among them: /proc/PID/stat
// shows a zombie's exit code as 0. Without CAP_SYS_PTRACE that is every
// process whose real, effective and saved uids and gids are not all this
// process's filesystem uid and gid, and every process permitted a
// capability this one does not hold. The uids, gids and capabilities stay
// readable to anyone in /proc/PID/status.
#pragma once

#include <sys/types.h>

#include <string>

namespace kqfs {

// Whether this process (its calling thread) holds `capability` (CAP_*) in
// its effective set.
bool has_effective_capability(int capability);

// Empty when this process may ptrace-read process `pid` as /proc checks it,
// by credentials and capabilities (what counts for a zombie, whose memory,
// and with it its dumpable flag, is gone); otherwise why not, in words.
// Empty as well when `pid`'s status cannot be read (a process gone: the
// caller finds that out itself). A Linux security module's own ptrace rules
// (Yama restricts only attaching, not reading) are not modelled.
std::string ptrace_read_refusal(pid_t pid);

}  // namespace kqfs
