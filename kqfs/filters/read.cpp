// EVFILT_READ: data to read, connections to accept, end of file.
#include <poll.h>

#include "kqfs/filter_table.hpp"
#include "kqfs/filters/descriptor.hpp"

namespace kqfs {
namespace {

class ReadFilter final : public DescriptorFilter {
 public:
  using DescriptorFilter::DescriptorFilter;

  bool event(Knote& kn) override {
    DescriptorWatch& watch = watch_of(kn);
    const DescriptorState& s = watch.state();
    kn.flags &= ~EV_EOF;
    kn.fflags = 0;
    if (!s.open) return false;
    kn.data = s.readable;  // files: bytes from the offset to the end, maybe negative

    switch (watch.kind()) {
      case DescriptorKind::file:
        return (kn.sfflags & NOTE_FILE_POLL) || s.readable != 0;
      case DescriptorKind::unpollable:
        return true;
      default:
        break;
    }
    return stream_event(kn, s, s.read_eof, POLLIN, s.readable);
  }
};

}  // namespace

std::unique_ptr<Filter> make_read_filter(FilterObjects& objects) {
  return std::make_unique<ReadFilter>(objects.descriptors);
}

}  // namespace kqfs
