// Binary records: 32 bytes, little-endian, packed in field order
// (docs/design.md#record-formats), the layout of Kevent on x86-64.
#include <bit>
#include <cstddef>
#include <cstring>
#include <string>

#include "kqfs/codec/codec.hpp"

namespace kqfs::codec {
namespace {

// Each field is copied in host order, which is the record's order only on
// a little-endian host; a big-endian port would byte-swap here.
static_assert(std::endian::native == std::endian::little,
              "binary records are little-endian; add byte swapping for this host");

// Offsets in the record, which are also Kevent's: a C array of struct
// kevent is written as-is.
constexpr size_t kIdentOffset = 0;
constexpr size_t kFilterOffset = 8;
constexpr size_t kFlagsOffset = 10;
constexpr size_t kFflagsOffset = 12;
constexpr size_t kDataOffset = 16;
constexpr size_t kUdataOffset = 24;
static_assert(offsetof(Kevent, ident) == kIdentOffset &&
              offsetof(Kevent, filter) == kFilterOffset &&
              offsetof(Kevent, flags) == kFlagsOffset &&
              offsetof(Kevent, fflags) == kFflagsOffset && offsetof(Kevent, data) == kDataOffset &&
              offsetof(Kevent, udata) == kUdataOffset);

template <class T>
void store(std::span<char, kBinaryRecordSize> out, size_t offset, const T& value) {
  std::memcpy(out.data() + offset, &value, sizeof value);
}

template <class T>
void load(std::span<const char, kBinaryRecordSize> in, size_t offset, T& value) {
  std::memcpy(&value, in.data() + offset, sizeof value);
}

}  // namespace

void encode_binary(const Kevent& event, std::span<char, kBinaryRecordSize> out) {
  store(out, kIdentOffset, event.ident);
  store(out, kFilterOffset, event.filter);
  store(out, kFlagsOffset, event.flags);
  store(out, kFflagsOffset, event.fflags);
  store(out, kDataOffset, event.data);
  store(out, kUdataOffset, event.udata);
}

Kevent decode_binary(std::span<const char, kBinaryRecordSize> in) {
  Kevent event;
  load(in, kIdentOffset, event.ident);
  load(in, kFilterOffset, event.filter);
  load(in, kFlagsOffset, event.flags);
  load(in, kFflagsOffset, event.fflags);
  load(in, kDataOffset, event.data);
  load(in, kUdataOffset, event.udata);
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
