// How a client's task is ending. A task that dies closes its files only
// after the kernel has set its exit code and PF_EXITING, so the FLUSH sent
// by that close can tell a writer killed by a signal from one that exited.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace kqfsd {

// The signal killing thread `tid`, or nothing when it is not exiting, exits
// normally (exit(), return from main) or cannot be read.
std::optional<int> killing_signal(pid_t tid);

// `fragment` (an unfinished line) quoted for status and the log: printable
// ASCII as is, other bytes as \xNN, cut after a bounded length.
std::string quoted_fragment(std::string_view fragment);

}  // namespace kqfsd
