// A queue's status file: what it holds and did, as "key: value" lines.
#pragma once

#include <string>

#include "daemon/tree.hpp"
#include "kqfs/kqueue.hpp"
#include "kqfs/linux/signal_trace.hpp"

namespace kqfsd {

// `with_knotes`: the registered knotes too, for those who may change them.
std::string status_text(const QueueNode& queue, bool with_knotes,
                        const kqfs::SignalTracer& signals);

// The "knotes.<filter>" lines: one per filter, in this order.
std::string knotes_by_filter(const kqfs::Kqueue& engine);

}  // namespace kqfsd
