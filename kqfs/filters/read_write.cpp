// EVFILT_READ (data to read, connections to accept, end of file) and
// EVFILT_WRITE (room to write, and end of file when the reader is gone):
// one filter, told apart by its Direction.
#include <poll.h>

#include <cstdint>
#include <optional>

#include "kqfs/filter_table.hpp"
#include "kqfs/filters/descriptor.hpp"

namespace kqfs {
namespace {

// What a direction reports for a descriptor that is no stream (a file, an
// unpollable one, a listener); nothing for a stream.
using PlainEvent = std::optional<bool> (*)(Knote& kn, DescriptorKind kind,
                                           const DescriptorState& s);

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

struct Direction {
  int64_t DescriptorState::*amount;  // data: readable or writable
  bool DescriptorState::*eof;
  short ready;  // the poll bit
  PlainEvent plain;
};

class DirectionFilter final : public DescriptorFilter {
 public:
  DirectionFilter(DescriptorWatches& watches, const Direction& direction)
      : DescriptorFilter(watches), direction_(direction) {}

  bool event(Knote& kn) override {
    DescriptorWatch& watch = watch_of(kn);
    const DescriptorState& s = watch.state();
    kn.flags &= ~EV_EOF;
    kn.fflags = 0;
    if (!s.open) return false;
    const int64_t amount = s.*direction_.amount;
    kn.data = amount;  // files: bytes from the offset to the end, maybe negative
    if (std::optional<bool> fired = direction_.plain(kn, watch.kind(), s)) return *fired;
    return stream_event(kn, s, s.*direction_.eof, direction_.ready, amount);
  }

 private:
  const Direction direction_;
};

}  // namespace

std::unique_ptr<Filter> make_read_filter(FilterObjects& objects) {
  const Direction reading{&DescriptorState::readable, &DescriptorState::read_eof, POLLIN,
                          read_plain};
  return std::make_unique<DirectionFilter>(objects.descriptors, reading);
}

std::unique_ptr<Filter> make_write_filter(FilterObjects& objects) {
  const Direction writing{&DescriptorState::writable, &DescriptorState::write_eof, POLLOUT,
                          write_plain};
  return std::make_unique<DirectionFilter>(objects.descriptors, writing);
}

}  // namespace kqfs
