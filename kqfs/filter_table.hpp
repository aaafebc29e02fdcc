// The one table of filters kqfs implements, after FreeBSD's sysfilt_ops:
// the queue builds its filters from it, the names and status list it. A new
// filter is one file in kqfs/filters/, one row in filter_table.cpp and one
// line in kqfs/meson.build.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "kqfs/filter.hpp"
#include "kqfs/names.hpp"

namespace kqfs {

class DescriptorWatches;
class FileEvents;
class ProcConnector;
class SignalTracer;

// What a queue lends its filters: itself and the kernel-event sources the
// filters share.
struct FilterObjects {
  FilterHost& host;
  DescriptorWatches& descriptors;
  FileEvents& files;
  ProcConnector& processes;
  // Without a tracer, the signal filter makes one of its own at its first knote.
  std::shared_ptr<SignalTracer> signal_tracer;
};

struct FilterRow {
  int16_t id;                           // EVFILT_READ
  std::string_view name;                // "EVFILT_READ"
  std::string_view short_name;          // "read", as in status's knotes.read
  std::span<const names::Name> fflags;  // NOTE_* names, in formatting order
  std::unique_ptr<Filter> (*make)(FilterObjects& objects);
};

// In the order status lists them.
std::span<const FilterRow> filter_table();
// The row of `id`, or null for a filter kqfs does not implement.
const FilterRow* filter_row(int16_t id);

template <class Fn>
void for_each_available_filter(Fn&& fn) {
  for (const FilterRow& row : filter_table())
    fn(row);
}

std::unique_ptr<Filter> make_read_filter(FilterObjects& objects);
std::unique_ptr<Filter> make_write_filter(FilterObjects& objects);
std::unique_ptr<Filter> make_vnode_filter(FilterObjects& objects);
std::unique_ptr<Filter> make_proc_filter(FilterObjects& objects);
std::unique_ptr<Filter> make_signal_filter(FilterObjects& objects);
std::unique_ptr<Filter> make_timer_filter(FilterObjects& objects);
std::unique_ptr<Filter> make_user_filter(FilterObjects& objects);

}  // namespace kqfs
