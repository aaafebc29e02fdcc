// One reader for /proc: whole files read with a bound, errno as a value, and
// the few formats kqfs parses (key: value lines, stat, mountinfo).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kqfs/result.hpp"

namespace kqfs::procfs {

// /proc files kqfs reads are small; the bound keeps a hostile one from
// growing the reader.
constexpr size_t kDefaultLimit = 64 * 1024;

// The file's text, up to `limit` bytes, or the errno of open or read.
Result<std::string> read_file(const std::string& path, size_t limit = kDefaultLimit);
// Where a symbolic link points, or the errno of readlink.
Result<std::string> read_link(const std::string& path);

// "/proc/PID/<entry>"; pid 0 means "/proc/self/<entry>".
std::string path_of(pid_t pid, std::string_view entry);
// "/proc/PID/fd/FD" and "/proc/PID/fdinfo/FD"; pid 0 means self.
std::string fd_path(pid_t pid, int fd);
std::string fdinfo_path(pid_t pid, int fd);

// The value on the line that starts with `key` (such as "Tgid:"), without
// leading blanks; nullopt when no line does.
std::optional<std::string_view> value_of(std::string_view text, std::string_view key);
// That value as a number in `base` (0: as C reads it, so fdinfo's octal
// "flags:" work).
std::optional<long long> number_of(std::string_view text, std::string_view key, int base = 10);

// /proc/PID/stat. The command name may hold anything, spaces and ')'
// included, so the fields are counted from its last ')'.
struct Stat {
  pid_t pid = 0;
  std::string comm;
  char state = '?';
  std::vector<std::string> fields;  // fields[0] is field 3 (the state)

  // Field `number` as proc(5) counts them (from 1; >= 3), or nullopt.
  std::optional<long long> number(size_t number) const;
};
Result<Stat> parse_stat(std::string_view text);
Result<Stat> read_stat(pid_t pid);
Result<Stat> read_stat(pid_t pid, pid_t tid);  // /proc/PID/task/TID/stat

// How many pid namespaces process `pid` (0: this one) has a pid in, counted
// from the one of the /proc mount read down to its own: the numbers of the
// NSpid line of its status, which anyone may read (the ns/pid link needs
// ptrace access). Nothing when it is gone, or the kernel has no NSpid (4.1).
std::optional<size_t> pid_namespace_levels(pid_t pid);

// Threads of `pid` that have not ended (not zombies); empty when it is gone.
std::set<pid_t> live_threads(pid_t pid);

// One line of /proc/PID/mountinfo (proc(5)).
struct Mount {
  unsigned long long id = 0;
  unsigned long long parent = 0;
  std::string root;
  std::string mount_point;  // octal escapes (\040) left as they are
  std::string type;         // after the " - " separator
  std::string source;
  std::string options;  // the superblock's, such as hidepid=2
};
std::vector<Mount> parse_mountinfo(std::string_view text);
// A mount table can be long (containers): read with a larger bound.
constexpr size_t kMountinfoLimit = 16 * 1024 * 1024;
Result<std::vector<Mount>> read_mountinfo(pid_t pid);

}  // namespace kqfs::procfs
