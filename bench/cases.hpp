// The benchmark's cases, each measuring kqfs and its baselines in one run.
#pragma once

#include <array>
#include <string_view>

#include "bench/context.hpp"

namespace kqfs::bench {

void run_user_events(Context& context);        // user_events.cpp
void run_latency(Context& context);            // latency.cpp
void run_registration(Context& context);       // registration.cpp
void run_scale(Context& context);              // scale.cpp
void run_text_path(Context& context);          // text_path.cpp
void run_signals(Context& context);            // signals.cpp
void run_memory(Context& context);             // memory.cpp
void run_noop(Context& context);               // noop.cpp
void run_kevent_one_change(Context& context);  // kevent_one_change.cpp
void run_kevent_wakeup(Context& context);      // kevent_wakeup.cpp
void run_kevent_loop(Context& context);        // kevent_loop.cpp

struct Case {
  std::string_view name;  // for --case
  std::string_view summary;
  void (*run)(Context&);
};

inline constexpr std::array<Case, 11> kCases{{
    {"user-events", "user-event throughput: mount, engine, epoll + eventfds", run_user_events},
    {"latency", "wake-up latency of a pipe write: mount, engine, epoll", run_latency},
    {"registration", "10 000 timer registrations: mount, engine, timerfd + epoll",
     run_registration},
    {"scale", "a million idle timers: daemon memory, registration, event cost", run_scale},
    {"text-path", "head -n1 and bash read of an event, against a FIFO", run_text_path},
    {"signals", "adding a signal knote: mount, engine; the daemon's tracefs instances",
     run_signals},
    {"memory", "daemon VmRSS before, with a million timers, after their queue's rmdir", run_memory},
    {"noop", "a no-op request: kqfsd against the FUSE floor, on one CPU and on two", run_noop},
    {"kevent-one-change", "kevent() with one change and no events: floor, epoll_ctl",
     run_kevent_one_change},
    {"kevent-wakeup", "pipe write -> blocked kevent() returns: floor, epoll_wait",
     run_kevent_wakeup},
    {"kevent-loop", "64 sockets, a change and a wait per turn: kevent(), epoll", run_kevent_loop},
}};

}  // namespace kqfs::bench
