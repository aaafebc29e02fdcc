// EVFILT_READ: data to read, connections to accept, end of file.
#include <poll.h>

#include <optional>

#include "kqfs/filter_table.hpp"
#include "kqfs/filters/descriptor.hpp"

namespace kqfs {
namespace {

std::optional<bool> read_plain(Knote& kn, DescriptorKind kind, const DescriptorState& s) {
  switch (kind) {
    case DescriptorKind::file:
      return (kn.sfflags & NOTE_FILE_POLL) || s.readable != 0;
    case DescriptorKind::unpollable:
      return true;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::unique_ptr<Filter> make_read_filter(FilterObjects& objects) {
  const Direction reading{&DescriptorState::readable, &DescriptorState::read_eof, POLLIN,
                          read_plain};
  return std::make_unique<DirectionFilter>(objects.descriptors, reading);
}

}  // namespace kqfs
