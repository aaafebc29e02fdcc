#include "daemon/tie_path.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <optional>

#include "daemon/change_path.hpp"
#include "daemon/open_files.hpp"
#include "daemon/processes.hpp"
#include "daemon/queue_registry.hpp"
#include "daemon/writer_exit.hpp"
#include "kqfs/codec/codec.hpp"

namespace kqfsd {
namespace {

// The value written, without the blanks around it (the shell's newline).
std::string_view trimmed(std::string_view text) {
  constexpr std::string_view kBlanks = " \t\r\n";
  const size_t first = text.find_first_not_of(kBlanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlanks) - first + 1);
}

// A pid, 0 for "none" or "0", nothing when malformed.
std::optional<uint64_t> parse_tie(std::string_view value) {
  if (value == "none") return 0;
  uint64_t pid = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), pid);
  if (value.empty() || error != std::errc() || end != value.data() + value.size()) {
    return std::nullopt;
  }
  return pid;
}

}  // namespace

bool TiePath::serves(uint64_t handle) const {
  const OpenFile* file = files_.find(handle);
  return file != nullptr && file->kind == FileKind::tied_to;
}

void TiePath::read(const Requester& requester, uint64_t handle, size_t size, off_t offset,
                   Reply& reply) {
  const OpenFile* file = files_.usable(requester, handle, reply);
  if (file == nullptr) return;
  // A removed queue's file reads end of file, as its other files do.
  const std::string text = file->queue->removed() ? "" : tied_to_text(*file->queue) + "\n";
  reply.text_at(text, offset, size);
}

void TiePath::write(const Requester& requester, uint64_t handle, std::string_view bytes,
                    Reply& reply) {
  OpenFile* file = files_.usable(requester, handle, reply);
  if (file == nullptr) return;
  QueueNode& queue = *file->queue;
  if (queue.removed()) {
    reply.error(ENOENT);
    return;
  }
  const std::string_view value = trimmed(bytes);
  const auto pid = parse_tie(value);
  std::string why;
  int error = 0;
  if (!pid) {
    error = EINVAL;
    why = quoted_fragment(value) + " is not a process id, 0 or none";
  } else if (*pid == 0) {
    registry_.untie(queue);
  } else {
    error = tie(queue, requester, *pid, why);
  }
  if (error != 0) {
    // As a refused change record, in status (last-error) and the log:
    // "tied-to 4242: No such process (process 4242 has exited)".
    std::string reason = "tied-to";
    if (pid) reason += " " + std::to_string(*pid);
    reason += ": " + kqfs::codec::describe_errno(error);
    if (!why.empty()) reason += " (" + why + ")";
    changes_.reject(queue, error, reason);
    reply.error(error);
    return;
  }
  reply.written(bytes.size());
}

int TiePath::tie(QueueNode& queue, const Requester& requester, uint64_t pid, std::string& why) {
  auto writer = registry_.caller_of(requester);
  if (!writer) {
    why = "cannot reach the writing process: " + registry_.caller_failure(writer.error());
    return writer.error();
  }
  if (pid > INT32_MAX) return ESRCH;
  // The pidfd first: once it is known not to have exited after the checks,
  // the pid named this very process all along (no reuse in between).
  kqfs::UniqueFd pidfd(open_pidfd(static_cast<pid_t>(pid)));
  if (!pidfd) {
    const int error = errno;
    if (error == EMFILE || error == ENFILE || error == ENOMEM) {
      why = short_of(error);
      return error;
    }
    return ESRCH;  // none, or a thread that is not a process's main one
  }
  // Whom the writer may name, by the rule of EVFILT_PROC.
  if (const int error = kqfs::check_sees_process(**writer, pid, why); error != 0) return error;
  if (has_exited(pidfd.get())) {
    why = "process " + std::to_string(pid) + " has exited";
    return ESRCH;
  }
  const int error = registry_.tie(queue, static_cast<pid_t>(pid), std::move(pidfd));
  if (error != 0) why = short_of(error);
  return error;
}

}  // namespace kqfsd
