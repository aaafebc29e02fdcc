#include "kqfs/linux/ptrace_access.hpp"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "kqfs/linux/procfs.hpp"
#include "kqfs/linux/resolver.hpp"

namespace kqfs {
namespace {

// The four ids of a "Uid:" or "Gid:" line: real, effective, saved, filesystem.
using Ids = std::array<unsigned long, 4>;

std::optional<Ids> ids_of(std::string_view status, std::string_view key) {
  const auto line = procfs::value_of(status, key);
  if (!line) return std::nullopt;
  std::istringstream fields{std::string(*line)};
  Ids ids{};
  for (unsigned long& id : ids) {
    if (!(fields >> id)) return std::nullopt;
  }
  return ids;
}

// A capability set of status ("CapPrm:", "CapEff:"), printed in hex.
std::optional<uint64_t> capabilities_of(std::string_view status, std::string_view key) {
  const auto line = procfs::value_of(status, key);
  if (!line || line->empty()) return std::nullopt;
  const std::string digits(*line);
  char* end = nullptr;
  const uint64_t set = std::strtoull(digits.c_str(), &end, 16);
  if (end == digits.c_str()) return std::nullopt;
  return set;
}

// "uid 1000", or "uids 1000 0 0" (real, effective, saved) when they differ.
std::string described(const Ids& ids, const char* kind) {
  if (ids[0] == ids[1] && ids[1] == ids[2]) return std::string(kind) + " " + std::to_string(ids[0]);
  return std::string(kind) + "s " + std::to_string(ids[0]) + " " + std::to_string(ids[1]) + " " +
         std::to_string(ids[2]);
}

}  // namespace

bool has_effective_capability(int capability) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_TO_INDEX(capability)].effective & CAP_TO_MASK(capability)) != 0;
}

std::string ptrace_read_refusal(pid_t pid) {
  if (pid == own_pid() || has_effective_capability(CAP_SYS_PTRACE)) return {};
  const auto theirs = procfs::read_file(procfs::path_of(pid, "status"));
  // The calling thread's credentials: the kernel checks the thread's.
  const auto ours = procfs::read_file("/proc/thread-self/status");
  if (!theirs || !ours) return {};
  const auto their_uids = ids_of(*theirs, "Uid:");
  const auto their_gids = ids_of(*theirs, "Gid:");
  const auto their_permitted = capabilities_of(*theirs, "CapPrm:");
  const auto our_uids = ids_of(*ours, "Uid:");
  const auto our_gids = ids_of(*ours, "Gid:");
  const auto our_effective = capabilities_of(*ours, "CapEff:");
  if (!their_uids || !their_gids || !their_permitted || !our_uids || !our_gids || !our_effective) {
    return {};
  }
  const std::string process = "process " + std::to_string(pid);
  const unsigned long fsuid = (*our_uids)[3];
  const unsigned long fsgid = (*our_gids)[3];
  const auto all_are = [](const Ids& ids, unsigned long id) {
    return std::all_of(ids.begin(), ids.begin() + 3,
                       [id](unsigned long each) { return each == id; });
  };
  if (!all_are(*their_uids, fsuid) || !all_are(*their_gids, fsgid)) {
    return process + " runs as " + described(*their_uids, "uid") + ", " +
           described(*their_gids, "gid") + ", kqfs as uid " + std::to_string(fsuid) + ", gid " +
           std::to_string(fsgid) + " without CAP_SYS_PTRACE";
  }
  // The capabilities count only within one user namespace; another one's
  // process (a container's) is not told apart here.
  const uint64_t lacking = *their_permitted & ~*our_effective;
  if (lacking == 0) return {};
  std::ostringstream mask;
  mask << std::hex << lacking;
  return process + " may use capabilities kqfs lacks (mask 0x" + mask.str() +
         (lacking & (uint64_t{1} << CAP_SYS_PTRACE) ? ", CAP_SYS_PTRACE among them)" : ")");
}

}  // namespace kqfs
