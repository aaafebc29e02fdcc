// The wait(2) status an EVFILT_PROC NOTE_EXIT event carries in its data,
// told in words for people and as a JSON object for programs.
#pragma once

#include <cstdint>
#include <string>

namespace kqctl {

// "exited with status 3", "killed by signal 9 (SIGKILL)", "killed by
// signal 11 (SIGSEGV), core dumped".
std::string exit_in_words(int64_t wait_status);

// {"status":3}, or {"signal":"SIGKILL","signo":9,"core":false}.
std::string exit_as_json(int64_t wait_status);

}  // namespace kqctl
