#include "daemon/writer_exit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "kqfs/escape.hpp"
#include "kqfs/linux/procfs.hpp"

namespace kqfsd {
namespace {

constexpr unsigned long kTaskExiting = 0x4;  // PF_EXITING, <linux/sched.h>
// Fields of /proc/TID/stat (proc(5)), counted from 1.
constexpr size_t kFlagsField = 9;
constexpr size_t kExitCodeField = 52;
constexpr size_t kQuotedBytes = 120;

}  // namespace

std::optional<int> killing_signal(pid_t tid) {
  const auto stat = kqfs::procfs::read_stat(tid);
  if (!stat) return std::nullopt;
  const auto flags_field = stat->number(kFlagsField);
  const auto exit_field = stat->number(kExitCodeField);
  if (!flags_field || !exit_field) return std::nullopt;
  const auto flags = static_cast<unsigned long>(*flags_field);
  // The wait status: a signal in the low 7 bits, an exit() code above them.
  const auto exit_code = static_cast<int>(*exit_field);
  if (!(flags & kTaskExiting) || (exit_code & 0x7f) == 0) return std::nullopt;
  return exit_code & 0x7f;
}

std::string quoted_fragment(std::string_view fragment) {
  std::string text = "\"" + kqfs::escape_bytes(fragment.substr(0, kQuotedBytes), "\"\\") + "\"";
  if (fragment.size() > kQuotedBytes) {
    text += " (" + std::to_string(fragment.size()) + " bytes)";
  }
  return text;
}

}  // namespace kqfsd
