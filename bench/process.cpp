#include "bench/process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "bench/errors.hpp"

extern char** environ;

namespace kqfs::bench {
namespace {

// posix_spawn_file_actions_t, destroyed with its owner.
class FileActions {
 public:
  FileActions() { ::posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { ::posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;

  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

CommandLine::CommandLine(std::vector<std::string> arguments) : arguments_(std::move(arguments)) {
  if (arguments_.empty()) throw std::invalid_argument("a command line needs a program");
  for (std::string& argument : arguments_)
    pointers_.push_back(argument.data());
  pointers_.push_back(nullptr);
}

std::string CommandLine::text() const {
  std::string text;
  for (const std::string& argument : arguments_) {
    if (!text.empty()) text += ' ';
    text += argument;
  }
  return text;
}

int run_and_wait(const CommandLine& command, int output_fd) {
  FileActions actions;
  ::posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (output_fd >= 0) {
    ::posix_spawn_file_actions_adddup2(actions.get(), output_fd, STDOUT_FILENO);
  } else {
    ::posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  }
  pid_t child = -1;
  if (const int error =
          ::posix_spawn(&child, command.program(), actions.get(), nullptr, command.argv(), environ);
      error != 0) {
    throw_error(error, "cannot run " + command.text());
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  if (!WIFEXITED(status)) throw std::runtime_error(command.text() + " was killed by a signal");
  return WEXITSTATUS(status);
}

}  // namespace kqfs::bench
