// EVFILT_WRITE: room to write, and end of file when the reader is gone.
#include <poll.h>

#include "kqfs/filter_table.hpp"
#include "kqfs/filters/descriptor.hpp"

namespace kqfs {
namespace {

class WriteFilter final : public DescriptorFilter {
 public:
  using DescriptorFilter::DescriptorFilter;

  bool event(Knote& kn) override {
    DescriptorWatch& watch = watch_of(kn);
    const DescriptorState& s = watch.state();
    kn.flags &= ~EV_EOF;
    kn.fflags = 0;
    if (!s.open) return false;
    kn.data = s.writable;

    switch (watch.kind()) {
      case DescriptorKind::file:  // always writable, data 0, as FreeBSD
      case DescriptorKind::unpollable:
        kn.data = 0;
        return true;
      case DescriptorKind::tcp_listener:  // a listener never fires for writing
      case DescriptorKind::unix_listener:
        return false;
      default:
        break;
    }
    return stream_event(kn, s, s.write_eof, POLLOUT, s.writable);
  }
};

}  // namespace

std::unique_ptr<Filter> make_write_filter(FilterObjects& objects) {
  return std::make_unique<WriteFilter>(objects.descriptors);
}

}  // namespace kqfs
