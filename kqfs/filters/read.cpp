// EVFILT_READ: data to read, connections to accept, end of file.
#include <poll.h>

#include "kqfs/filters/descriptor.hpp"
#include "kqfs/filters/filters.hpp"

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
    if (s.read_eof) {
      kn.flags |= EV_EOF;
      kn.fflags = s.eof_error;
      return true;
    }
    if (s.pending_error) return true;
    if (!(s.revents & POLLIN)) return false;
    if ((kn.sfflags & NOTE_LOWAT) && kn.sdata > 0) return s.readable >= kn.sdata;
    return true;
  }
};

}  // namespace

std::unique_ptr<Filter> make_read_filter(DescriptorWatches& watches) {
  return std::make_unique<ReadFilter>(watches);
}

}  // namespace kqfs
