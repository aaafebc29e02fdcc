// Fuzz target: the event side. The input is a run of 32-byte records taken
// as arbitrary kevents (a shorter tail only seeds the read sizes). Each is
// written in the three formats and read back (round_trip.hpp), and all of
// them go through each format's EventStream with reads of varied sizes, as
// the daemon answers reads of `events`, `events.json` and `events.bin`
// (docs/design.md#reading-events).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz.hpp"
#include "kqfs/codec/codec.hpp"
#include "kqfs/constants.h"
#include "kqfs/kevent.hpp"
#include "round_trip.hpp"

namespace kqfs::fuzz {
namespace {

using codec::Format;

std::string formatted(Format format, const Kevent& event) {
  switch (format) {
    case Format::text:
      return codec::format_text(event);
    case Format::json:
      return codec::format_json(event);
    case Format::binary:
      break;
  }
  std::string record(codec::kBinaryRecordSize, '\0');
  codec::encode_binary(event, std::span<char, codec::kBinaryRecordSize>(record));
  return record;
}

const char* name_of(Format format) {
  return format == Format::text ? "text" : format == Format::json ? "JSON" : "binary";
}

// A read's size: tiny (bash's `read` takes one byte), small, a few records,
// or large.
size_t read_size(Dice& dice, size_t record_max) {
  switch (dice.below(4)) {
    case 0:
      return 1 + dice.below(8);
    case 1:
      return 1 + dice.below(128);
    case 2:
      return record_max * (1 + dice.below(4)) + dice.below(3) - 1;
    default:
      return 1 + dice.below(4096);
  }
}

void check_event_stream(Format format, std::span<const Kevent> events, Dice& dice) {
  const size_t record_max = codec::max_record_size(format);
  std::string expected;
  for (const Kevent& event : events)
    expected += formatted(format, event);

  codec::EventStream stream(format);
  std::string received;
  size_t next = 0;
  while (next < events.size() || stream.has_leftover()) {
    size_t size = read_size(dice, record_max);
    if (format == Format::binary && size < codec::kBinaryRecordSize) {
      // Too small for a record (the daemon answers EINVAL): nothing taken.
      KQFS_FUZZ_CHECK(stream.wanted(size) == 0, size);
      size += codec::kBinaryRecordSize;
    }
    const size_t wanted = stream.wanted(size);
    const auto context = [&] {
      return cat(name_of(format), " read of ", size, " bytes, wanted ", wanted, ", at event ", next,
                 " of ", events.size());
    };
    if (stream.has_leftover()) {
      KQFS_FUZZ_CHECK(wanted == 0, context());
    } else if (format == Format::text) {
      KQFS_FUZZ_CHECK(wanted == 1, context());
    } else if (format == Format::json) {
      KQFS_FUZZ_CHECK(wanted == std::max<size_t>(1, size / record_max), context());
    } else {
      KQFS_FUZZ_CHECK(wanted == size / codec::kBinaryRecordSize, context());
    }

    const size_t taken = std::min(wanted, events.size() - next);
    const std::string reply = stream.read(size, events.subspan(next, taken));
    next += taken;
    // Something was pending, so the read returns something, and no more
    // than was asked.
    KQFS_FUZZ_CHECK(!reply.empty() && reply.size() <= size, context(), ": ", reply.size(),
                    " bytes");
    if (format == Format::binary) {
      // Whole records only, and every record taken fits.
      KQFS_FUZZ_CHECK(reply.size() % codec::kBinaryRecordSize == 0 && !stream.has_leftover(),
                      context());
    } else {
      // Whole lines, or part of one line that does not fit; text gives one.
      const size_t newline = reply.find('\n');
      KQFS_FUZZ_CHECK(newline == std::string::npos || reply.back() == '\n', context(), ": ",
                      quoted(reply));
      if (format == Format::text) {
        KQFS_FUZZ_CHECK(newline == std::string::npos || newline + 1 == reply.size(), context(),
                        ": ", quoted(reply));
      }
      // A read of at least one record's bound takes what it asked for whole.
      if (size >= record_max && taken > 0) {
        KQFS_FUZZ_CHECK(!stream.has_leftover(), context());
      }
    }
    received += reply;
  }
  KQFS_FUZZ_CHECK(received == expected, name_of(format), " events read as ", quoted(received),
                  ", written as ", quoted(expected));
}

}  // namespace
}  // namespace kqfs::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kqfs;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::vector<Kevent> events(size / codec::kBinaryRecordSize);
  if (!events.empty()) std::memcpy(events.data(), data, events.size() * sizeof(Kevent));

  for (const Kevent& event : events) {
    fuzz::check_round_trips(event);
    // Random bytes seldom name a filter; the same record with its filter
    // folded onto a named one exercises that filter's fflags names.
    Kevent named = event;
    named.filter =
        static_cast<int16_t>(-1 - static_cast<int>(static_cast<uint16_t>(event.filter) % 13));
    fuzz::check_round_trips(named);
  }

  fuzz::Dice dice(bytes);
  for (const codec::Format format :
       {codec::Format::text, codec::Format::json, codec::Format::binary}) {
    fuzz::check_event_stream(format, events, dice);
  }
  return 0;
}
