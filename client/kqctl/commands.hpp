// kqctl's subcommands. Each parses its own arguments (--help included) and
// returns an exit status, or throws Failure or UsageError.
#pragma once

#include <span>
#include <string_view>

#include "client/kqctl/syntax.hpp"

namespace kqctl {

// queues.cpp: queues as directories of the mount.
int run_create(const Invocation& invocation);
int run_list(const Invocation& invocation);
int run_remove(const Invocation& invocation);
int run_status(const Invocation& invocation);

// tie.cpp: a queue removed when a process exits.
int run_tie(const Invocation& invocation);

// changes.cpp: change records written to a queue.
int run_add(const Invocation& invocation);
int run_delete(const Invocation& invocation);
int run_trigger(const Invocation& invocation);

// wait.cpp
int run_wait(const Invocation& invocation);

// watch.cpp
int run_watch(const Invocation& invocation);

// convert.cpp
int run_convert(const Invocation& invocation);

struct Command {
  std::string_view name;
  std::string_view synopsis;  // for `kqctl --help`: "create NAME [--mode MODE]"
  std::string_view summary;   // what it does, in a few words
  int (*run)(const Invocation&);
};

inline constexpr Command kCommands[] = {
    {"create", "create NAME [--mode M] [--tie]", "make a queue (mkdir kq/NAME)", run_create},
    {"list", "list", "print the queues, one name per line", run_list},
    {"remove", "remove NAME", "destroy a queue (rmdir kq/NAME)", run_remove},
    {"tie", "tie NAME [PID|none]", "remove a queue when PID exits", run_tie},
    {"add", "add NAME RECORD...", "register knotes: text change records", run_add},
    {"delete", "delete NAME IDENT FILTER", "delete a knote", run_delete},
    {"trigger", "trigger NAME IDENT [options]", "trigger a user event (NOTE_TRIGGER)", run_trigger},
    {"wait", "wait NAME [-n COUNT|-f] [-t SEC]", "wait for events and print them", run_wait},
    {"watch", "watch [options] RECORD...", "register records of its own, wait, print", run_watch},
    {"status", "status NAME", "print a queue's status", run_status},
    {"convert", "convert --from F --to F", "convert records: text, json, bin", run_convert},
};

}  // namespace kqctl
