#include "client/kqctl/exit_status.hpp"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

namespace kqctl {
namespace {

// "SIGKILL", "SIGRTMIN+2", or "signal 77" for a number with no name.
std::string signal_name(int signal) {
  if (const char* abbreviation = sigabbrev_np(signal); abbreviation != nullptr) {
    return std::string("SIG") + abbreviation;
  }
  if (signal >= SIGRTMIN && signal <= SIGRTMAX) {
    return signal == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(signal - SIGRTMIN);
  }
  return "signal " + std::to_string(signal);
}

}  // namespace

std::string exit_in_words(int64_t wait_status) {
  const int status = static_cast<int>(wait_status);
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return "killed by signal " + std::to_string(signal) + " (" + signal_name(signal) + ")" +
           (WCOREDUMP(status) ? ", core dumped" : "");
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

std::string exit_as_json(int64_t wait_status) {
  const int status = static_cast<int>(wait_status);
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    return "{\"signal\":\"" + signal_name(signal) + "\",\"signo\":" + std::to_string(signal) +
           ",\"core\":" + (WCOREDUMP(status) ? "true" : "false") + "}";
  }
  return "{\"status\":" + std::to_string(WEXITSTATUS(status)) + "}";
}

}  // namespace kqctl
