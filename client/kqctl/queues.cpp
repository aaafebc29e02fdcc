// create, list, remove, status: queues are directories of MOUNT/kq.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "client/kqctl/commands.hpp"
#include "client/kqctl/mount.hpp"
#include "client/kqctl/tie.hpp"

namespace kqctl {
namespace {

// Permission bits in octal, as mkdir -m and chmod take them.
mode_t parse_mode(const std::string& text) {
  const bool octal =
      !text.empty() && text.size() <= 5 && text.find_first_not_of("01234567") == std::string::npos;
  if (!octal || std::stoul(text, nullptr, 8) > 07777) {
    throw UsageError("MODE must be permission bits in octal (e.g. 0700), not '" + text + "'");
  }
  return static_cast<mode_t>(std::stoul(text, nullptr, 8));
}

// Lets mkdir give a directory exactly the mode asked for (as mkdir -m).
class UmaskCleared {
 public:
  UmaskCleared() : saved_(::umask(0)) {}
  ~UmaskCleared() { ::umask(saved_); }
  UmaskCleared(const UmaskCleared&) = delete;
  UmaskCleared& operator=(const UmaskCleared&) = delete;

 private:
  mode_t saved_;
};

// A command on queue NAME: the NAME operand is added last; nothing after --help.
struct QueueCommand {
  Arguments arguments;
  Mount mount;
  std::string name;
};

std::optional<QueueCommand> parse_queue_command(Syntax& syntax, const Invocation& invocation) {
  syntax.operand("name", "NAME");
  std::optional<Arguments> arguments = syntax.parse(invocation);
  if (!arguments) return std::nullopt;
  Mount mount(arguments->mount);
  std::string name = arguments->text("name");
  return QueueCommand{std::move(*arguments), std::move(mount), std::move(name)};
}

}  // namespace

int run_create(const Invocation& invocation) {
  Syntax syntax("create", "NAME [--mode MODE] [--tie[=PID]]",
                "Makes queue NAME: mkdir MOUNT/kq/NAME. NAME is 1 to 64 characters of\n"
                "A-Za-z0-9._- (anything else is 'Invalid argument'); the queue is yours.\n"
                "Fails if NAME exists, whoever made it (see docs/security.md).\n"
                "With --tie the queue is removed when the process that ran kqctl (a\n"
                "script, say), or PID, exits; if it cannot be tied, it is not left behind\n"
                "('kqctl tie --help').\n");
  syntax.options()("mode", po::value<std::string>()->value_name("MODE"),
                   "its permission bits in octal, e.g. 0700 (default: 0777 less the umask)")(
      "tie", po::value<std::string>()->implicit_value("")->value_name("PID"),
      "remove it when process PID exits; a bare --tie: the process that ran kqctl");
  const auto command = parse_queue_command(syntax, invocation);
  if (!command) return kExitSuccess;

  const Mount& mount = command->mount;
  const std::string& name = command->name;
  const std::string path = mount.queue(name);
  // Read before anything is made: a bad value makes nothing.
  const bool tied = command->arguments.has("tie");
  const std::string tied_to = tied ? tie_value(command->arguments.text("tie")) : "";
  if (tied_to == "none") throw UsageError("--tie needs a process, not none");
  int result;
  if (command->arguments.has("mode")) {
    const mode_t mode = parse_mode(command->arguments.text("mode"));
    const UmaskCleared umask_cleared;
    result = ::mkdir(path.c_str(), mode);
  } else {
    result = ::mkdir(path.c_str(), 0777);
  }
  if (result != 0) {
    const int error = errno;
    if (error == EINVAL) {
      throw Failure("cannot create queue '" + name + "': " + describe_errno(error) + " (" +
                    std::string(kQueueNameRule) + ")");
    }
    // Never taken over: in a shared mount another user may have made it.
    struct stat existing {};
    if (error == EEXIST && ::stat(path.c_str(), &existing) == 0) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%04o", existing.st_mode & 07777);
      throw Failure("cannot create queue '" + name + "': it already exists (owner uid " +
                    std::to_string(existing.st_uid) + ", mode " + mode + ")");
    }
    throw mount.queue_failure(name, error);
  }
  if (tied) {
    try {
      tie_queue(mount, name, tied_to);
    } catch (const Failure&) {
      ::rmdir(path.c_str());  // an untied queue would outlive its script
      throw;
    }
  }
  return kExitSuccess;
}

int run_list(const Invocation& invocation) {
  Syntax syntax("list", "",
                "Prints the name of every queue, one per line in name order: those made\n"
                "with create (mkdir) and the anonymous clone-N queues of open kq/clone\n"
                "handles.\n");
  const auto arguments = syntax.parse(invocation);
  if (!arguments) return kExitSuccess;

  const Mount mount(arguments->mount);
  std::vector<std::string> names;
  std::error_code error;
  for (std::filesystem::directory_iterator entry(mount.queues(), error), end;
       !error && entry != end; entry.increment(error)) {
    // kq/clone is a file; every queue is a directory.
    std::error_code type_error;
    if (entry->is_directory(type_error)) names.push_back(entry->path().filename());
  }
  if (error) throw mount.mount_failure(error.value());
  std::sort(names.begin(), names.end());
  for (const std::string& name : names)
    std::cout << name << "\n";
  return kExitSuccess;
}

int run_remove(const Invocation& invocation) {
  Syntax syntax("remove", "NAME",
                "Destroys queue NAME and its knotes: rmdir MOUNT/kq/NAME. Readers blocked\n"
                "on it get end of file.\n");
  const auto command = parse_queue_command(syntax, invocation);
  if (!command) return kExitSuccess;

  const Mount& mount = command->mount;
  if (::rmdir(mount.queue(command->name).c_str()) != 0) {
    throw mount.queue_failure(command->name, errno);
  }
  return kExitSuccess;
}

int run_status(const Invocation& invocation) {
  Syntax syntax("status", "NAME",
                "Prints queue NAME's status file: owner, mode, knotes per filter, pending\n"
                "events, blocked readers, events delivered, changes applied, the\n"
                "reason the last rejected change record was refused (last-error), and\n"
                "the registered knotes (knote: lines, in the text record syntax).\n");
  const auto command = parse_queue_command(syntax, invocation);
  if (!command) return kExitSuccess;

  std::cout << command->mount.read(command->name, "status");
  return kExitSuccess;
}

}  // namespace kqctl
