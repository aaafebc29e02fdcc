// tie: a queue removed when a process exits (MOUNT/kq/NAME/tied-to).
#include "client/kqctl/tie.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "client/kqctl/commands.hpp"

namespace kqctl {

std::string tie_value(const std::string& operand) {
  if (operand.empty()) return std::to_string(::getppid());
  if (operand == "none") return operand;
  const unsigned long long pid = parse_count(operand, "PID");
  return pid == 0 ? "none" : std::to_string(pid);
}

void tie_queue(const Mount& mount, const std::string& name, const std::string& value) {
  kqfs::UniqueFd tied_to = mount.open(name, "tied-to", O_WRONLY);
  const std::string line = value + "\n";
  ssize_t written;
  do {
    written = ::write(tied_to.get(), line.data(), line.size());
  } while (written < 0 && errno == EINTR);
  if (written >= 0) {
    close_checked(tied_to, "queue '" + name + "'");
    return;
  }
  const int error = errno;
  // "tied-to 42: No such process (process 42 has exited)": the words after
  // the value say why.
  std::string why = describe_errno(error);
  const std::string last_error = mount.last_error(name);
  if (const size_t colon = last_error.find(": ");
      last_error.starts_with("tied-to") && colon != std::string::npos) {
    why = last_error.substr(colon + 2);
  }
  const std::string target = value == "none" ? "untie" : "tie it to process " + value;
  throw Failure("queue '" + name + "': cannot " + target + ": " + why);
}

int run_tie(const Invocation& invocation) {
  Syntax syntax("tie", "NAME [PID|none]",
                "Ties queue NAME to process PID: when that process exits, killed or not,\n"
                "the queue is removed as 'kqctl remove' removes it (readers blocked on it\n"
                "get end of file). Without PID, the process that ran kqctl: in a shell\n"
                "script, the script itself, unless kqctl runs in a subshell ($(...), a\n"
                "pipeline, ( ... )): give $$ there. 'none' (or 0) unties it. A queue has\n"
                "one tie; a new one replaces the old. PID must be a process you can see.\n"
                "Writes MOUNT/kq/NAME/tied-to; 'kqctl status NAME' shows it (tied-to:).\n");
  syntax.operand("name", "NAME");
  syntax.optional_operand("pid", "PID");
  const auto arguments = syntax.parse(invocation);
  if (!arguments) return kExitSuccess;

  const std::string value = tie_value(arguments->has("pid") ? arguments->text("pid") : "");
  tie_queue(Mount(arguments->mount), arguments->text("name"), value);
  return kExitSuccess;
}

}  // namespace kqctl
