// Binary records: 32 bytes, little-endian, packed in field order
// (docs/design.md#record-formats), the layout of Kevent on x86-64.
#include <bit>
#include <cstddef>
#include <cstring>
#include <string>

#include "kqfs/codec/codec.hpp"

namespace kqfs::codec {

// The record is copied in host order, which is the record's order only on
// a little-endian host; a big-endian port would byte-swap here.
static_assert(std::endian::native == std::endian::little,
              "binary records are little-endian; add byte swapping for this host");

// The record's layout is Kevent's, with no padding: a C array of struct
// kevent is written as-is, and a record is copied whole.
static_assert(sizeof(Kevent) == kBinaryRecordSize && offsetof(Kevent, ident) == 0 &&
              offsetof(Kevent, filter) == 8 && offsetof(Kevent, flags) == 10 &&
              offsetof(Kevent, fflags) == 12 && offsetof(Kevent, data) == 16 &&
              offsetof(Kevent, udata) == 24);

void encode_binary(const Kevent& event, std::span<char, kBinaryRecordSize> out) {
  std::memcpy(out.data(), &event, kBinaryRecordSize);
}

Kevent decode_binary(std::span<const char, kBinaryRecordSize> in) {
  Kevent event;
  std::memcpy(&event, in.data(), kBinaryRecordSize);
  return event;
}

Parsed parse_binary(std::string_view record) {
  if (record.size() != kBinaryRecordSize) {
    return Parsed{std::nullopt, std::to_string(record.size()) + " bytes, not a " +
                                    std::to_string(kBinaryRecordSize) + "-byte record"};
  }
  return Parsed{
      decode_binary(std::span<const char, kBinaryRecordSize>(record.data(), kBinaryRecordSize)),
      {}};
}

std::string format_binary(const Kevent& event) {
  std::string record(kBinaryRecordSize, '\0');
  encode_binary(event, std::span<char, kBinaryRecordSize>(record.data(), kBinaryRecordSize));
  return record;
}

size_t max_binary_size() {
  return kBinaryRecordSize;
}

}  // namespace kqfs::codec
