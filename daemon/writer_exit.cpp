#include "daemon/writer_exit.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "kqfs/unique_fd.hpp"

namespace kqfsd {
namespace {

constexpr unsigned long kTaskExiting = 0x4;  // PF_EXITING, <linux/sched.h>
// Fields of /proc/TID/stat (proc(5)), counted from 1.
constexpr size_t kFlagsField = 9;
constexpr size_t kExitCodeField = 52;
constexpr size_t kQuotedBytes = 120;

// The fields after "(comm)", which may itself hold spaces and parentheses:
// element 0 is field 3.
std::vector<std::string> stat_fields(pid_t tid) {
  char path[40];
  std::snprintf(path, sizeof path, "/proc/%d/stat", tid);
  kqfs::UniqueFd file(::open(path, O_RDONLY | O_CLOEXEC));
  if (!file) return {};
  char buffer[2048];
  const ssize_t length = ::read(file.get(), buffer, sizeof buffer - 1);
  if (length <= 0) return {};
  const std::string text(buffer, static_cast<size_t>(length));
  const size_t comm_end = text.rfind(')');
  if (comm_end == std::string::npos) return {};
  std::istringstream rest(text.substr(comm_end + 1));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;)
    fields.push_back(field);
  return fields;
}

}  // namespace

std::optional<int> killing_signal(pid_t tid) {
  const std::vector<std::string> fields = stat_fields(tid);
  if (fields.size() < kExitCodeField - 2) return std::nullopt;
  const unsigned long flags = std::strtoul(fields[kFlagsField - 3].c_str(), nullptr, 10);
  // The wait status: a signal in the low 7 bits, an exit() code above them.
  const int exit_code = std::atoi(fields[kExitCodeField - 3].c_str());
  if (!(flags & kTaskExiting) || (exit_code & 0x7f) == 0) return std::nullopt;
  return exit_code & 0x7f;
}

std::string quoted_fragment(std::string_view fragment) {
  std::string text = "\"";
  for (const char c : fragment.substr(0, kQuotedBytes)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '"' || byte == '\\') {
      text += '\\';
      text += c;
    } else if (byte >= 0x20 && byte < 0x7f) {
      text += c;
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      text += escaped;
    }
  }
  text += '"';
  if (fragment.size() > kQuotedBytes) {
    text += " (" + std::to_string(fragment.size()) + " bytes)";
  }
  return text;
}

}  // namespace kqfsd
