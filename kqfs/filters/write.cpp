// EVFILT_WRITE: room to write, and end of file when the reader is gone.
#include <poll.h>

#include <optional>

#include "kqfs/filter_table.hpp"
#include "kqfs/filters/descriptor.hpp"

namespace kqfs {
namespace {

std::optional<bool> write_plain(Knote& kn, DescriptorKind kind, const DescriptorState&) {
  switch (kind) {
    case DescriptorKind::file:  // always writable, data 0, as FreeBSD
    case DescriptorKind::unpollable:
      kn.data = 0;
      return true;
    case DescriptorKind::tcp_listener:  // a listener never fires for writing
    case DescriptorKind::unix_listener:
      return false;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::unique_ptr<Filter> make_write_filter(FilterObjects& objects) {
  const Direction writing{&DescriptorState::writable, &DescriptorState::write_eof, POLLOUT,
                          write_plain};
  return std::make_unique<DirectionFilter>(objects.descriptors, writing);
}

}  // namespace kqfs
