// wait: events of MOUNT/kq/NAME, printed as text, JSON or binary records.
//
// Events are taken from events.bin by read_events (event_reader.hpp): a
// read never waits, so none can take an event after the deadline, when
// kqctl no longer prints, and each read asks for no more records than are
// still wanted, so no event is taken past COUNT.
#include <fcntl.h>

#include <iostream>
#include <optional>
#include <string>

#include "client/kqctl/commands.hpp"
#include "client/kqctl/event_reader.hpp"
#include "client/kqctl/mount.hpp"
#include "client/kqctl/records.hpp"

namespace kqctl {

int run_wait(const Invocation& invocation) {
  Syntax syntax("wait", "NAME [-n COUNT | -f] [-t SECONDS] [--json|--bin]",
                "Waits for COUNT events of queue NAME and prints each as it arrives: a text\n"
                "line 'IDENT FILTER FLAGS FFLAGS DATA UDATA', a JSON object per line (--json),\n"
                "or a 32-byte binary record (--bin). Exits 0 once COUNT events arrived, or 3\n"
                "when the timeout passes first, after printing those that did. No event is\n"
                "lost to a timeout: kqctl takes an event from the queue only to print it.\n"
                "With --follow it prints events until the queue is removed (exit 0 at that\n"
                "end of file) or the timeout passes (exit 3). SIGINT, SIGTERM or SIGHUP end\n"
                "any wait once the events taken are printed, none lost: kqctl then dies of\n"
                "that signal (the shell sees 128 + its number), as an interrupted program does.\n");
  syntax.options()("count,n", po::value<std::string>()->value_name("COUNT")->default_value("1"),
                   "how many events to wait for")(
      "follow,f", "print events until the queue is removed (no COUNT)")(
      "timeout,t", po::value<std::string>()->value_name("SECONDS"),
      "give up after SECONDS, fractions allowed (e.g. 0.5); 0 takes only what is "
      "pending (default: wait forever)");
  add_format_options(syntax);
  syntax.operand("name", "NAME");
  const auto arguments = syntax.parse(invocation);
  if (!arguments) return kExitSuccess;

  const bool follow = arguments->has("follow");
  std::optional<unsigned long long> count;
  if (!follow) {
    count = parse_count(arguments->text("count"), "COUNT");
    if (count == 0U) {
      throw UsageError(
          "COUNT must be at least 1 (--follow prints events until the queue is removed)");
    }
  } else if (!arguments->values["count"].defaulted()) {
    throw UsageError("--follow and --count exclude each other");
  }
  std::optional<double> timeout;
  if (arguments->has("timeout")) timeout = parse_seconds(arguments->text("timeout"), "SECONDS");
  const kqfs::codec::Codec& output = chosen_format(*arguments);

  const Mount mount(arguments->mount);
  const std::string& name = arguments->text("name");
  const kqfs::UniqueFd events = mount.open(name, "events.bin", O_RDONLY | O_NONBLOCK);
  const ReadOutcome outcome =
      read_events(events.get(), count, Deadline(timeout), [&output](const kqfs::Kevent& event) {
        write_record(std::cout, event, output);
        return true;
      });
  switch (outcome.end) {
    case ReadEnd::count:
    case ReadEnd::stopped:
      return kExitSuccess;
    case ReadEnd::end_of_file:
      if (follow) return kExitSuccess;
      throw Failure("queue '" + name + "' was removed while waiting (" +
                    events_text(outcome.received) + " of " + std::to_string(*count) + " arrived)");
    case ReadEnd::signal:
      die_of(outcome.signal);
    case ReadEnd::error:
      throw mount.queue_failure(name, outcome.error);
    case ReadEnd::deadline:
      break;
  }
  throw Failure("timed out with " + events_text(outcome.received) +
                    (follow ? "" : " of " + std::to_string(*count)),
                kExitTimedOut);
}

}  // namespace kqctl
