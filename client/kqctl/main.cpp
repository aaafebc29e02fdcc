// kqctl: queues, knotes and events of a kqfs mount from the command line.
//
//   kqctl [--mount DIR] COMMAND [options] [arguments]
//
// The global options come before COMMAND; everything after it is the
// command's own (each command parses it, --help included).
#include <iomanip>
#include <iostream>
#include <string>

#include "client/kqctl/commands.hpp"
#include "client/kqctl/syntax.hpp"
#include "kqfs/mount_point.hpp"

namespace {

using kqctl::po::value;

void print_help(const kqctl::po::options_description& global) {
  std::cout << "Usage: kqctl [--mount DIR] COMMAND [options] [arguments]\n"
               "Queues, knotes and events of a kqfs mount (BSD kqueue through files).\n"
               "\nCommands:\n";
  for (const kqctl::Command& command : kqctl::kCommands) {
    std::cout << "  " << std::left << std::setw(36) << command.synopsis << command.summary << "\n";
  }
  std::cout << "\n"
            << global
            << "\n'kqctl COMMAND --help' describes COMMAND.\n"
               "Exit status: 0 done, 1 failed, 2 bad command line, 3 wait or watch timed out.\n";
}

const kqctl::Command* find_command(std::string_view name) {
  for (const kqctl::Command& command : kqctl::kCommands) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::string mount = kqfs::default_mount_point();
  const std::string mount_help =
      "the kqfs mount (default: $KQFS_MOUNT, else $XDG_RUNTIME_DIR/kqfs, else /run/kqfs; here " +
      mount + ")";
  kqctl::po::options_description global("Global options");
  global.add_options()("mount", value(&mount)->value_name("DIR"), mount_help.c_str())(
      "help,h", "show this help and exit")("version,V", "show the version and exit");

  const kqctl::SplitCommandLine split = kqctl::split_at_command(argc, argv, global);
  kqctl::po::variables_map values;
  try {
    values = kqctl::parse_arguments(split.global, global, {});
  } catch (const kqctl::po::error& error) {
    std::cerr << "kqctl: " << error.what() << "\nTry 'kqctl --help'.\n";
    return kqctl::kExitUsage;
  }
  if (values.count("help")) {
    print_help(global);
    return kqctl::kExitSuccess;
  }
  if (values.count("version")) {
    std::cout << "kqctl " << KQFS_VERSION << "\n";
    return kqctl::kExitSuccess;
  }
  if (!split.command) {
    std::cerr << "kqctl: missing COMMAND\nTry 'kqctl --help'.\n";
    return kqctl::kExitUsage;
  }
  const kqctl::Command* command = find_command(*split.command);
  if (command == nullptr) {
    std::cerr << "kqctl: unknown command '" << *split.command << "'\nTry 'kqctl --help'.\n";
    return kqctl::kExitUsage;
  }

  const std::string prefix = "kqctl " + std::string(command->name) + ": ";
  try {
    const int status = command->run(kqctl::Invocation{mount, split.rest});
    std::cout.flush();
    if (!std::cout) {
      std::cerr << prefix << "cannot write the output\n";
      return kqctl::kExitFailure;
    }
    return status;
  } catch (const kqctl::UsageError& error) {
    std::cerr << prefix << error.what() << "\nTry 'kqctl " << command->name << " --help'.\n";
    return kqctl::kExitUsage;
  } catch (const kqctl::Failure& failure) {
    std::cout.flush();  // what was printed before the failure
    std::cerr << prefix << failure.what() << "\n";
    return failure.exit_code();
  } catch (const std::exception& error) {
    std::cerr << prefix << error.what() << "\n";
    return kqctl::kExitFailure;
  }
}
