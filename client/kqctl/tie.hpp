// Tying a queue to a process: MOUNT/kq/NAME/tied-to (create --tie, tie).
#pragma once

#include <string>

#include "client/kqctl/mount.hpp"

namespace kqctl {

// What --tie and tie's PID operand say: a pid, or "none" or "0" (written
// as "none"); empty is the process that ran kqctl (its parent). The value
// to write to tied-to, or UsageError.
std::string tie_value(const std::string& operand);

// Writes `value` (from tie_value) to queue NAME's tied-to; throws Failure
// with the daemon's reason.
void tie_queue(const Mount& mount, const std::string& name, const std::string& value);

}  // namespace kqctl
