// One factory per filter: the queue builds its operations table from these.
#pragma once

#include <memory>

#include "kqfs/filter.hpp"

namespace kqfs {

class DescriptorWatches;

std::unique_ptr<Filter> make_read_filter(DescriptorWatches& watches);
std::unique_ptr<Filter> make_write_filter(DescriptorWatches& watches);
std::unique_ptr<Filter> make_timer_filter(FilterHost& host);
std::unique_ptr<Filter> make_user_filter(FilterHost& host);

}  // namespace kqfs
