// One factory per filter: the queue builds its operations table from these.
#pragma once

#include <memory>

#include "kqfs/filter.hpp"

namespace kqfs {

class DescriptorWatches;
class FileEvents;
class ProcConnector;
class SignalTracer;

std::unique_ptr<Filter> make_read_filter(DescriptorWatches& watches);
std::unique_ptr<Filter> make_write_filter(DescriptorWatches& watches);
std::unique_ptr<Filter> make_timer_filter(FilterHost& host);
std::unique_ptr<Filter> make_user_filter(FilterHost& host);
std::unique_ptr<Filter> make_vnode_filter(FilterHost& host, FileEvents& files);
std::unique_ptr<Filter> make_proc_filter(FilterHost& host, ProcConnector& processes);
// Without a tracer, the filter makes one of its own at its first knote.
std::unique_ptr<Filter> make_signal_filter(FilterHost& host, ProcConnector& processes,
                                           std::shared_ptr<SignalTracer> tracer);

}  // namespace kqfs
