#include "daemon/credentials.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>

#include "kqfs/linux/procfs.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfsd {
namespace {

bool checked_user(uid_t uid) {
  return uid != 0 && uid != ::geteuid();
}

std::string who(const Credentials& caller) {
  return "uid " + std::to_string(caller.uid);
}

// What a check on a thread of the caller's could not do.
struct CheckFailed {
  int error;
  std::string reason;
};

// Runs `check` on a thread of its own that first takes the caller's
// credentials, so the kernel applies the caller's rights. Credentials are
// per thread in the kernel; glibc's setuid() and friends would change every
// thread of the daemon, so the thread makes the raw system calls. The
// thread ends with the check, and its credentials with it.
template <class Check>
std::optional<CheckFailed> as_caller(const Credentials& caller, Check check, int& result) {
  bool switched = false;
  try {
    std::thread worker([&] {
      const long groups = ::syscall(SYS_setgroups, caller.groups.size(), caller.groups.data());
      if (groups != 0 || ::syscall(SYS_setresgid, caller.gid, caller.gid, caller.gid) != 0 ||
          ::syscall(SYS_setresuid, caller.uid, caller.uid, caller.uid) != 0) {
        return;
      }
      switched = true;
      result = check();
    });
    worker.join();
  } catch (const std::system_error& error) {
    return CheckFailed{error.code().value() != 0 ? error.code().value() : EAGAIN,
                       "kqfsd cannot start a thread to check the permission of " + who(caller)};
  }
  if (!switched) {
    // A daemon that is not root cannot act as another user: refused rather
    // than granted unchecked.
    return CheckFailed{EACCES, "kqfsd (uid " + std::to_string(::geteuid()) +
                                   ") cannot take the credentials of " + who(caller) +
                                   " to check its permission"};
  }
  return std::nullopt;
}

// How the caller's /proc hides processes: its hidepid= and gid= options.
struct ProcVisibility {
  int hidepid = 0;  // 0 off, 1 noaccess, 2 invisible, 4 ptraceable
  gid_t exempt_group = 0;
};

int hidepid_value(std::string_view text) {
  if (text == "noaccess") return 1;
  if (text == "invisible") return 2;
  if (text == "ptraceable") return 4;
  if (text == "off") return 0;
  return std::atoi(std::string(text).c_str());  // kernels before 5.8 print numbers
}

// The options of the proc filesystem the caller sees at /proc, from its
// mountinfo (mount points there are relative to its own root). This is
// read rather than walked into: a path walk in the caller's mount namespace
// could reach a filesystem the caller serves (FUSE) and stall the daemon.
ProcVisibility proc_visibility_of(pid_t caller_pid) {
  ProcVisibility visibility;
  const auto mounts = kqfs::procfs::read_mountinfo(caller_pid);
  if (!mounts) return visibility;
  for (const kqfs::procfs::Mount& mount : *mounts) {
    if (mount.mount_point != "/proc" || mount.type != "proc") continue;
    // The last mount at /proc is the one on top.
    visibility = ProcVisibility{};
    std::istringstream each(mount.options);
    for (std::string option; std::getline(each, option, ',');) {
      if (option.starts_with("hidepid=")) visibility.hidepid = hidepid_value(option.substr(8));
      if (option.starts_with("gid=")) {
        visibility.exempt_group = static_cast<gid_t>(std::strtoul(option.c_str() + 4, nullptr, 10));
      }
    }
  }
  return visibility;
}

}  // namespace

bool Credentials::in_group(gid_t group) const {
  return gid == group || std::find(groups.begin(), groups.end(), group) != groups.end();
}

Credentials credentials_of_request(pid_t tid, uid_t uid, gid_t gid) {
  return Credentials{uid, gid, {}, tid};
}

Credentials with_groups(Credentials credentials) {
  credentials.groups.clear();
  const auto status = kqfs::procfs::read_file(kqfs::procfs::path_of(credentials.thread, "status"));
  const auto listed = status ? kqfs::procfs::value_of(*status, "Groups:") : std::nullopt;
  if (!listed) return credentials;
  std::istringstream groups{std::string(*listed)};
  for (unsigned long group; groups >> group;)
    credentials.groups.push_back(static_cast<gid_t>(group));
  return credentials;
}

bool permits(const Credentials& who, uid_t owner, gid_t group, mode_t mode, int access) {
  if (who.is_root()) return true;
  const mode_t wanted = (access & R_OK ? 4 : 0) | (access & W_OK ? 2 : 0);
  int shift = 0;  // the class whose bits apply: owner, else group, else others
  if (who.uid == owner) {
    shift = 6;
  } else if (who.in_group(group)) {
    shift = 3;
  }
  return ((mode >> shift) & wanted) == wanted;
}

int writer_may_apply(bool names_writers_own, const Credentials& opener, const Credentials& writer,
                     std::string& why) {
  if (!names_writers_own || (opener.uid == writer.uid && opener.gid == writer.gid)) return 0;
  why = "writer's credentials (" + std::to_string(writer.uid) + ":" + std::to_string(writer.gid) +
        ") differ from those of the process that opened this file (" + std::to_string(opener.uid) +
        ":" + std::to_string(opener.gid) + ")";
  return EACCES;
}

namespace {

// The real, effective and saved ids of a "Uid:" or "Gid:" line of
// /proc/PID/status (the fourth is the filesystem id); nothing if unreadable.
std::optional<std::array<unsigned long, 3>> ids_of(std::string_view status, std::string_view key) {
  const auto line = kqfs::procfs::value_of(status, key);
  if (!line) return std::nullopt;
  std::istringstream fields{std::string(*line)};
  std::array<unsigned long, 3> ids{};
  for (unsigned long& id : ids) {
    if (!(fields >> id)) return std::nullopt;
  }
  return ids;
}

bool all_are(const std::array<unsigned long, 3>& ids, unsigned long wanted) {
  return std::all_of(ids.begin(), ids.end(), [wanted](unsigned long id) { return id == wanted; });
}

}  // namespace

int may_take_descriptors(const Credentials& writer, pid_t target, std::string& why) {
  const std::string process = "process " + std::to_string(target);
  if (writer.is_root()) return 0;
  const auto status = kqfs::procfs::read_file(kqfs::procfs::path_of(target, "status"));
  const auto uids = status ? ids_of(*status, "Uid:") : std::nullopt;
  const auto gids = status ? ids_of(*status, "Gid:") : std::nullopt;
  // A process that is not dumpable has its /proc files owned by root (its
  // /proc/PID directory itself keeps its owner).
  struct stat file {};
  if (!uids || !gids || ::stat(kqfs::procfs::path_of(target, "status").c_str(), &file) != 0) {
    why = process + " is gone";
    return ESRCH;
  }
  const std::string refused = ": its descriptors are not uid " + std::to_string(writer.uid) +
                              "'s to take (pidfd_getfd would refuse them)";
  if (!all_are(*uids, writer.uid) || !all_are(*gids, writer.gid)) {
    why = process + " runs as uid " + std::to_string((*uids)[1]) + ", gid " +
          std::to_string((*gids)[1]) + refused;
    return EPERM;
  }
  if (file.st_uid != writer.uid) {
    why = process + " is not dumpable (setuid or setgid, or PR_SET_DUMPABLE 0)" + refused;
    return EPERM;
  }
  return 0;
}

int CredentialChecks::may_read(const Credentials& request, int fd, std::string& why) {
  if (!checked_user(request.uid)) return 0;
  const Credentials caller = with_groups(request);
  // Our descriptor, reached through /proc as the file itself (O_PATH ones
  // too); a thread of ours may always look in our own fd directory.
  const std::string path = kqfs::procfs::fd_path(0, fd);
  int denied = 0;
  const auto failed = as_caller(
      caller, [&] { return ::faccessat(AT_FDCWD, path.c_str(), R_OK, 0) == 0 ? 0 : errno; },
      denied);
  if (failed) {
    why = failed->reason;
    return failed->error;
  }
  if (denied == 0) return 0;
  // EACCES whatever faccessat said (EROFS cannot come from R_OK; a file
  // that went away cannot be watched either).
  why = who(caller) + " may not read this file, which inotify requires";
  return EACCES;
}

int CredentialChecks::may_see_process(const Credentials& request, pid_t caller_pid, pid_t target,
                                      std::string& why) {
  if (!checked_user(request.uid)) return 0;
  const ProcVisibility visibility = proc_visibility_of(caller_pid);
  if (visibility.hidepid == 0) return 0;
  const Credentials caller = with_groups(request);
  // As the kernel's has_pid_permissions: the gid= group sees all, except
  // under hidepid=ptraceable; everyone else what it may ptrace-read.
  if (visibility.hidepid != 4 && caller.in_group(visibility.exempt_group)) return 0;
  int outcome = 0;
  const auto failed = as_caller(
      caller,
      [&] {
        // kcmp asks the kernel whether we may ptrace-read the process.
        const long same = ::syscall(SYS_kcmp, target, target, KCMP_VM, 0, 0);
        return same >= 0 ? 0 : errno;
      },
      outcome);
  if (failed) {
    why = failed->reason;
    return failed->error;
  }
  if (outcome == 0) return 0;
  if (outcome == ENOSYS) {
    why = "kqfsd cannot check which processes " + who(caller) + " sees (no kcmp)";
    return EACCES;
  }
  why = "process " + std::to_string(target) + " is hidden from " + who(caller) +
        " by its /proc (hidepid)";
  return ESRCH;
}

}  // namespace kqfsd
