// watch: the one-shot tool of scripts, as inotifywait and pwait are.
// The change records of the command line go to an anonymous queue
// (kq/clone) opened in kqctl's own process, so the descriptors kqctl
// inherited from the shell are the ones watched; its events are printed
// as they come, until COUNT, the timeout, or no knote is left to fire.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "client/kqctl/commands.hpp"
#include "client/kqctl/event_reader.hpp"
#include "client/kqctl/exit_status.hpp"
#include "client/kqctl/mount.hpp"
#include "client/kqctl/records.hpp"
#include "kqfs/codec/codec.hpp"
#include "kqfs/names.hpp"

namespace kqctl {
namespace {

using kqfs::Kevent;

constexpr char kDescription[] =
    "Registers the change RECORDs (the text syntax, one record per argument, as\n"
    "kqctl add takes them) on an anonymous queue of kqctl's own (kq/clone) and\n"
    "prints the events as they come, as inotifywait and pwait do. Descriptor\n"
    "idents (read, write, vnode) are kqctl's own descriptors, inherited from the\n"
    "shell:\n"
    "  kqctl watch '3 vnode add|clear write|delete' 3<FILE   FILE written or deleted\n"
    "  kqctl watch \"$pid proc add exit\"                      process $pid exits\n"
    "  kqctl watch -t 5 '0 read add' <FIFO                   FIFO readable within 5 s\n"
    "  kqctl watch -m '1 timer add 0 1000'                   a tick every second\n"
    "Each event is a line 'IDENT FILTER FLAGS FFLAGS DATA UDATA' as the events\n"
    "file gives it, a JSON object per line (--json) or a 32-byte record (--bin).\n"
    "A process's exit (EVFILT_PROC NOTE_EXIT) also gives its wait status in\n"
    "words: a comment after the six fields ('... 768 0 # exited with status 3';\n"
    "read it with 'read -r ident filter flags fflags data udata comment'), or the\n"
    "key \"exit\" in JSON ({\"status\":3}, {\"signal\":\"SIGKILL\",\"signo\":9,\"core\":false}).\n"
    "kqctl stops after COUNT events (default 1; -m: never), or once no knote can\n"
    "fire again (one-shot and dispatch knotes delivered, watched processes\n"
    "exited). A record that fails is named with its errno and why, before any\n"
    "waiting. SIGINT, SIGTERM or SIGHUP end kqctl by that signal once the events\n"
    "it took are printed, unless a record watches it: a signal an EVFILT_SIGNAL\n"
    "record names is ignored, and counted ('USR1 signal add').\n"
    "Exit status: 0 the events came (or no knote is left), 1 a record failed or\n"
    "another error, 2 a bad command line, 3 the timeout passed first (after the\n"
    "events that came are printed).\n";

// Filters whose ident is a descriptor of the writing process: kqctl.
bool names_a_descriptor(int16_t filter) {
  return filter == EVFILT_READ || filter == EVFILT_WRITE || filter == EVFILT_VNODE;
}

// The knotes that may still fire, as kqctl can tell from its records and
// the events: a one-shot or dispatch knote after its event, a process
// knote after the exit, are done; NOTE_TRACK's children come with NOTE_CHILD.
class LiveKnotes {
 public:
  void registered(const Kevent& change) {
    if (change.flags & EV_DELETE) {
      knotes_.erase(key_of(change));
    } else if (change.flags & EV_ADD) {
      knotes_.insert(key_of(change));
    }
  }

  void delivered(const Kevent& event) {
    if (event.filter == EVFILT_PROC && (event.fflags & NOTE_CHILD)) knotes_.insert(key_of(event));
    if ((event.flags & (EV_ONESHOT | EV_DISPATCH)) ||
        (event.filter == EVFILT_PROC && (event.fflags & NOTE_EXIT))) {
      knotes_.erase(key_of(event));
    }
  }

  bool empty() const { return knotes_.empty(); }

 private:
  static std::pair<uint64_t, int16_t> key_of(const Kevent& record) {
    return {record.ident, record.filter};
  }

  std::set<std::pair<uint64_t, int16_t>> knotes_;
};

// "record 'X'" or "record 2 of 3 'X'", for messages.
std::string record_label(const std::vector<std::string>& records, size_t index) {
  const std::string number = records.size() == 1 ? ""
                                                 : " " + std::to_string(index + 1) + " of " +
                                                       std::to_string(records.size());
  return "record" + number + " '" + records[index] + "'";
}

Failure record_failure(const std::vector<std::string>& records, size_t index, int error,
                       const std::string& why) {
  return Failure(record_label(records, index) + " failed: " + describe_errno(error) +
                 (why.empty() ? "" : " (" + why + ")"));
}

// A change and the index of its record on the command line.
struct Change {
  size_t index;
  Kevent record;
};

// Parses and checks every record before any is sent, so that a bad one
// costs no registration; blank records and comments are skipped.
std::vector<Change> parse_records(const std::vector<std::string>& records) {
  std::vector<Change> changes;
  for (size_t index = 0; index < records.size(); ++index) {
    if (records[index].find('\n') != std::string::npos) {
      throw UsageError("RECORD " + std::to_string(index + 1) +
                       " has a line break: give one record per argument");
    }
    const kqfs::codec::Parsed parsed = kqfs::codec::parse_text(records[index]);
    if (parsed.rejected()) throw record_failure(records, index, EINVAL, parsed.error);
    if (!parsed.record) continue;
    const Kevent& change = *parsed.record;
    // The queue is kqctl's own and takes binary records, which carry no
    // pid: a descriptor of another process is handed to kqctl instead.
    if (parsed.pid != 0 && parsed.pid != ::getpid()) {
      throw record_failure(records, index, EINVAL,
                           "watch watches its own descriptors: give kqctl the descriptor, "
                           "e.g. 3<&4, not FD@PID");
    }
    if (kqfs::names::filter_name(change.filter).empty()) {
      throw record_failure(records, index, EINVAL,
                           "unknown filter " + std::to_string(change.filter));
    }
    // Checked here, before kqctl opens anything that could take the number.
    if (names_a_descriptor(change.filter) && change.ident <= INT_MAX &&
        ::fcntl(static_cast<int>(change.ident), F_GETFD) < 0 && errno == EBADF) {
      const std::string fd = std::to_string(change.ident);
      throw record_failure(
          records, index, EBADF,
          "descriptor " + fd + " is not open in kqctl: give it one, e.g. " + fd + "<FILE");
    }
    changes.push_back({index, change});
  }
  if (changes.empty()) throw UsageError("no RECORD to watch, only blank lines and comments");
  return changes;
}

// A watched signal is ignored, as BSD programs using EVFILT_SIGNAL do:
// the knote counts it still, and it neither ends kqctl nor its wait.
// (SIGKILL and SIGSTOP cannot be.)
void ignore_watched_signals(const std::vector<Change>& changes) {
  for (const Change& change : changes) {
    if (change.record.filter == EVFILT_SIGNAL && (change.record.flags & EV_ADD) &&
        change.record.ident < NSIG) {
      ::signal(static_cast<int>(change.record.ident), SIG_IGN);
    }
  }
}

// Writes each change to the queue on its own, so a failure names its record.
void register_changes(int queue, const std::vector<Change>& changes,
                      const std::vector<std::string>& records, LiveKnotes& live) {
  for (const auto& [index, change] : changes) {
    const std::string bytes = kqfs::codec::format_binary(change);
    ssize_t written;
    do {
      written = ::write(queue, bytes.data(), bytes.size());
    } while (written < 0 && errno == EINTR);
    if (written < 0) {
      const int error = errno;
      throw record_failure(records, index, error, error == ENOENT ? "no such knote" : "");
    }
    live.registered(change);
  }
}

// One event as the chosen format prints it, with a process's exit status
// told in words (text: a comment after the six fields) or as a JSON key.
std::string formatted(const Kevent& event, const kqfs::codec::Codec& format) {
  std::string record = format.encode(event);
  if (event.filter != EVFILT_PROC || !(event.fflags & NOTE_EXIT)) return record;
  if (format.format == kqfs::codec::Format::text) {
    record.pop_back();  // its '\n'
    record += " # " + exit_in_words(event.data) + "\n";
  } else if (format.format == kqfs::codec::Format::json && record.ends_with("}\n")) {
    record.resize(record.size() - 2);
    record += ",\"exit\":" + exit_as_json(event.data) + "}\n";
  }
  return record;
}

}  // namespace

int run_watch(const Invocation& invocation) {
  Syntax syntax("watch", "[-m | -n COUNT] [-t SECONDS] [-q] [--json|--bin] RECORD...",
                kDescription);
  syntax.options()("count,n", po::value<std::string>()->value_name("COUNT")->default_value("1"),
                   "stop after COUNT events")(
      "monitor,m", "keep watching: no COUNT (ends when no knote is left)")(
      "timeout,t", po::value<std::string>()->value_name("SECONDS"),
      "give up after SECONDS, fractions allowed (e.g. 0.5): exit 3 (default: wait forever)")(
      "quiet,q", "print no event: the exit status alone tells what happened");
  add_format_options(syntax);
  syntax.operand("records", "RECORD", true);
  const auto arguments = syntax.parse(invocation);
  if (!arguments) return kExitSuccess;

  std::optional<unsigned long long> count;
  if (arguments->has("monitor")) {
    if (!arguments->values["count"].defaulted()) {
      throw UsageError("--monitor and --count exclude each other");
    }
  } else {
    count = parse_count(arguments->text("count"), "COUNT");
    if (count == 0U) throw UsageError("COUNT must be at least 1 (--monitor never stops)");
  }
  std::optional<double> timeout;
  if (arguments->has("timeout")) timeout = parse_seconds(arguments->text("timeout"), "SECONDS");
  const kqfs::codec::Codec& output = chosen_format(*arguments);
  const bool quiet = arguments->has("quiet");
  const std::vector<std::string>& records = arguments->texts("records");
  const std::vector<Change> changes = parse_records(records);

  const Mount mount(arguments->mount);
  const std::string clone = mount.queues() + "/clone";
  const kqfs::UniqueFd queue(::open(clone.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!queue) throw mount.mount_failure(errno);
  ignore_watched_signals(changes);
  LiveKnotes live;
  register_changes(queue.get(), changes, records, live);

  const Deadline deadline(timeout);
  ReadOutcome outcome{ReadEnd::stopped};
  if (!live.empty()) {
    outcome = read_events(queue.get(), count, deadline, [&](const Kevent& event) {
      if (!quiet) std::cout << formatted(event, output);
      live.delivered(event);
      return !live.empty();
    });
  }
  switch (outcome.end) {
    case ReadEnd::count:
    case ReadEnd::stopped:
      return kExitSuccess;
    case ReadEnd::signal:
      die_of(outcome.signal);
    case ReadEnd::end_of_file:
      throw Failure(clone + ": end of file while watching (has kqfsd stopped?)");
    case ReadEnd::error:
      throw Failure(clone + ": " + describe_errno(outcome.error));
    case ReadEnd::deadline:
      break;
  }
  if (quiet) return kExitTimedOut;
  throw Failure("timed out with " + events_text(outcome.received) +
                    (count ? " of " + std::to_string(*count) : ""),
                kExitTimedOut);
}

}  // namespace kqctl
