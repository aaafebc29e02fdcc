// add, delete, trigger: text change records written to MOUNT/kq/NAME/changes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "client/kqctl/commands.hpp"
#include "client/kqctl/mount.hpp"
#include "kqfs/codec/codec.hpp"

namespace kqctl {
namespace {

constexpr char kOwnershipNote[] =
    "Knotes on descriptors (EVFILT_READ, EVFILT_WRITE, EVFILT_VNODE) and EVFILT_SIGNAL\n"
    "knotes belong to the process that writes them, so kqctl's own vanish when it\n"
    "exits; timers, user events and EVFILT_PROC knotes stay until deleted. To watch\n"
    "a descriptor of another process (the shell), name it FD@PID: the knote is then\n"
    "that process's, and lasts until it closes FD or exits:\n"
    "  kqctl add q \"4@$$ read add\"\n";

// Why `record` failed with `error` (the errno of the write): what the
// errno means for a change, else what the codec finds wrong with the
// record (the daemon parses it with the same), else the queue's last-error
// line as it stands.
std::string why_failed(const std::string& record, int error, const std::string& last_error) {
  const kqfs::codec::Parsed parsed = kqfs::codec::parse_text(record);
  if (error == ENOENT) {
    // A trigger sent before the waiting side added its knote: a race of
    // two scripts, worth naming.
    const std::optional<kqfs::Kevent>& change = parsed.record;
    const bool trigger = change && change->filter == EVFILT_USER && (change->fflags & NOTE_TRIGGER);
    return trigger ? "no such knote: is the user event registered yet?" : "no such knote";
  }
  if (error == EBADF) {
    return parsed.pid == 0 ? "not a descriptor open in kqctl"
                           : "not a descriptor open in process " + std::to_string(parsed.pid);
  }
  if (parsed.rejected()) return parsed.error;
  return last_error;
}

// "record 2 of 3 '2 usr add' failed: Invalid argument (unknown filter
// 'usr'); record 1 was applied, record 3 was not"
Failure record_failure(const Mount& mount, const std::string& name,
                       const std::vector<std::string>& records, size_t failed, int error) {
  std::string last_error;
  try {
    last_error = mount.last_error(name);
  } catch (const Failure&) {
    // The queue is gone (removed meanwhile): that is the error to report.
    throw mount.queue_failure(name, error);
  }
  const std::string why = why_failed(records[failed], error, last_error);
  const std::string description = describe_errno(error);
  const std::string reason = why.empty() ? description : description + " (" + why + ")";

  const size_t count = records.size();
  // "record 3 was", "records 3 to 5 were"
  const auto span = [](size_t first, size_t last) {
    return first == last
               ? "record " + std::to_string(first) + " was"
               : "records " + std::to_string(first) + " to " + std::to_string(last) + " were";
  };
  std::string message =
      count == 1 ? "record"
                 : "record " + std::to_string(failed + 1) + " of " + std::to_string(count);
  message += " '" + records[failed] + "' failed: " + reason;
  if (failed > 0) message += "; " + span(1, failed) + " applied";
  if (failed + 1 < count) message += (failed > 0 ? ", " : "; ") + span(failed + 2, count) + " not";
  return Failure(message);
}

// Writes `records` (one text line each) to queue NAME in one write(2), so
// that they are applied in order and a failure names the record the daemon
// stopped at: a short write ends just before it, and writing the rest gives
// its errno.
void write_records(const Mount& mount, const std::string& name,
                   const std::vector<std::string>& records) {
  std::string bytes;
  std::vector<size_t> starts;  // where each record begins in `bytes`
  for (size_t index = 0; index < records.size(); ++index) {
    if (records[index].find('\n') != std::string::npos) {
      throw UsageError("RECORD " + std::to_string(index + 1) +
                       " has a line break: give one record per argument");
    }
    starts.push_back(bytes.size());
    bytes.append(records[index]).push_back('\n');
  }

  kqfs::UniqueFd changes = mount.open(name, "changes", O_WRONLY);
  for (size_t written = 0; written < bytes.size();) {
    const ssize_t length = ::write(changes.get(), bytes.data() + written, bytes.size() - written);
    if (length < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      const size_t failed =
          std::upper_bound(starts.begin(), starts.end(), written) - starts.begin() - 1;
      throw record_failure(mount, name, records, failed, error);
    }
    written += static_cast<size_t>(length);
  }
  close_checked(changes, "queue '" + name + "'");
}

// A field spliced into a record must stay one field (and a leading "#"
// would make the whole record a comment, silently skipped).
const std::string& one_word(const std::string& text, const char* what) {
  if (text.empty() || text.find_first_of(" \t\r\n\v\f#") != std::string::npos) {
    throw UsageError(std::string(what) + " must be one word, not '" + text + "'");
  }
  return text;
}

}  // namespace

int run_add(const Invocation& invocation) {
  Syntax syntax(
      "add", "NAME RECORD...",
      std::string("Registers or changes knotes of queue NAME: writes the change RECORDs to\n"
                  "MOUNT/kq/NAME/changes in one write, one text record per argument:\n"
                  "  IDENT FILTER FLAGS FFLAGS DATA UDATA\n"
                  "Trailing fields may be left out (0). Names are long or short, in any case\n"
                  "(EVFILT_TIMER or timer, EV_ADD|EV_ONESHOT or add|oneshot, NOTE_SECONDS or\n"
                  "seconds); numbers are decimal or 0x hex; a signal ident may be a name (USR1).\n"
                  "  kqctl add q '1 timer add 0 500 7' '2 user add|clear'\n"
                  "Records are applied in order. At the first that fails kqctl says which and\n"
                  "why (the errno and the queue's last-error) and exits 1: the records before\n"
                  "it stay applied, those after it are not.\n\n") +
          kOwnershipNote);
  syntax.operand("name", "NAME");
  syntax.operand("records", "RECORD", true);
  const auto arguments = syntax.parse(invocation);
  if (!arguments) return kExitSuccess;

  write_records(Mount(arguments->mount), arguments->text("name"), arguments->texts("records"));
  return kExitSuccess;
}

int run_delete(const Invocation& invocation) {
  Syntax syntax("delete", "NAME IDENT FILTER",
                std::string("Deletes the knote (IDENT, FILTER) of queue NAME: writes the record\n"
                            "'IDENT FILTER EV_DELETE'. FILTER is a name (EVFILT_TIMER, timer) or\n"
                            "a number (-7). No such knote: 'No such file or directory'.\n\n") +
                    kOwnershipNote);
  syntax.operand("name", "NAME");
  syntax.operand("ident", "IDENT");
  syntax.operand("filter", "FILTER");
  const auto arguments = syntax.parse(invocation);
  if (!arguments) return kExitSuccess;

  const std::string record = one_word(arguments->text("ident"), "IDENT") + " " +
                             one_word(arguments->text("filter"), "FILTER") + " EV_DELETE";
  write_records(Mount(arguments->mount), arguments->text("name"), {record});
  return kExitSuccess;
}

int run_trigger(const Invocation& invocation) {
  Syntax syntax("trigger", "NAME IDENT [--fflags FFLAGS] [--data DATA] [--udata UDATA]",
                "Triggers user event IDENT of queue NAME (an EVFILT_USER knote, made with\n"
                "e.g. kqctl add NAME 'IDENT user add|clear'): writes the record\n"
                "'IDENT EVFILT_USER EV_KEEPUDATA NOTE_TRIGGER|FFLAGS DATA', which keeps the\n"
                "knote's udata unless --udata is given. No such knote: 'No such file or\n"
                "directory'.\n");
  syntax.options()("fflags", po::value<std::string>()->value_name("FFLAGS"),
                   "NOTE_FFAND, NOTE_FFOR or NOTE_FFCOPY with the low 24 bits to apply to the "
                   "event's fflags, e.g. 'ffor|0x5'")(
      "data", po::value<std::string>()->value_name("DATA")->default_value("0"),
      "the event's data (each change stores its own, as on FreeBSD)")(
      "udata", po::value<std::string>()->value_name("UDATA"), "a new udata for the knote");
  syntax.operand("name", "NAME");
  syntax.operand("ident", "IDENT");
  const auto arguments = syntax.parse(invocation);
  if (!arguments) return kExitSuccess;

  std::string record = one_word(arguments->text("ident"), "IDENT") + " EVFILT_USER " +
                       (arguments->has("udata") ? "0" : "EV_KEEPUDATA") + " NOTE_TRIGGER";
  if (arguments->has("fflags")) record += "|" + one_word(arguments->text("fflags"), "FFLAGS");
  record += " " + one_word(arguments->text("data"), "DATA");
  if (arguments->has("udata")) record += " " + one_word(arguments->text("udata"), "UDATA");
  write_records(Mount(arguments->mount), arguments->text("name"), {record});
  return kExitSuccess;
}

}  // namespace kqctl
