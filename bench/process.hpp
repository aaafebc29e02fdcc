// Running a program as a child and waiting for it: kqfsd's start, and the
// shell tools of the text-path case.
#pragma once

#include <string>
#include <vector>

namespace kqfs::bench {

// A program's command line, prepared once so that running it repeatedly
// measures the program and not the preparation.
class CommandLine {
 public:
  // arguments[0] is the program's path.
  explicit CommandLine(std::vector<std::string> arguments);
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  const char* program() const { return arguments_.front().c_str(); }
  char* const* argv() const { return const_cast<char* const*>(pointers_.data()); }
  std::string text() const;

 private:
  std::vector<std::string> arguments_;
  std::vector<char*> pointers_;
};

// Runs the command with standard input from /dev/null, standard output into
// `output_fd` (or /dev/null when it is negative) and standard error
// inherited, and waits for it. Returns its exit status; throws when it cannot
// be started or is killed by a signal.
int run_and_wait(const CommandLine& command, int output_fd = -1);

}  // namespace kqfs::bench
