// The table of record formats: one row per format, which the change and
// event streams (stream.cpp), the daemon's tree (its changes and events
// files) and kqctl (--from, --to, printing) go through.
//
// A new format is: its codec file (parse, encode, an upper bound on a
// record), a value of Format (codec.hpp), a row below, and a line in
// kqfs/meson.build.
#pragma once

#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>

#include "kqfs/codec/codec.hpp"
#include "kqfs/kevent.hpp"

namespace kqfs::codec {

struct Codec {
  Format format;
  // What kqctl calls it (--from, --to), and another name it takes.
  std::string_view name;
  std::string_view alias;
  // Of the tree's files: "changes" + suffix and "events" + suffix.
  std::string_view suffix;
  // Its records, in words for help texts: "JSON lines".
  std::string_view records;
  // Framing: 0 when records are lines ending in '\n' (split, joined across
  // writes, and returned in parts to a short read); else every record is
  // exactly this many bytes, and a read returns whole records only.
  size_t record_size;
  // An events read returns one record (as `head -n1` and shell `read` want)
  // rather than as many as fit.
  bool one_per_read;
  // One record: a line without its '\n', or record_size bytes.
  Parsed (*parse)(std::string_view record);
  // One record as an events file returns it (a line ends in '\n').
  std::string (*encode)(const Kevent& event);
  // A change record with the process whose descriptor its ident is
  // (Parsed::pid), or nullptr when the format has no room for one.
  std::string (*encode_change)(const Kevent& change, int32_t pid);
  // An upper bound on the length of what encode returns.
  size_t (*max_size)();

  bool framed_by_lines() const { return record_size == 0; }
};

// One row a format, its columns in Codec's order: format, name, alias,
// suffix, records, record_size, one_per_read, parse, encode,
// encode_change, max_size.
inline constexpr Codec kCodecs[] = {
    // clang-format off
    {Format::text,   "text", {},       {},      "text lines",     0,                 true,
     parse_text,   format_text,   format_text_change, max_text_size},
    {Format::json,   "json", {},       ".json", "JSON lines",     0,                 false,
     parse_json,   format_json,   format_json_change, max_json_size},
    {Format::binary, "bin",  "binary", ".bin",  "binary records", kBinaryRecordSize, false,
     parse_binary, format_binary, nullptr,            max_binary_size},
    // clang-format on
};

inline constexpr size_t kFormatCount = std::size(kCodecs);

constexpr size_t index_of(Format format) {
  return static_cast<size_t>(format);
}

constexpr const Codec& codec_of(Format format) {
  return kCodecs[index_of(format)];
}

// The rows are in the order of Format's values.
static_assert([] {
  for (size_t index = 0; index < kFormatCount; ++index) {
    if (index_of(kCodecs[index].format) != index) return false;
  }
  return true;
}());

// The format called `name` (or its alias), or nullptr.
const Codec* find_codec(std::string_view name);

// "text, json or bin": the names, for messages.
std::string format_names();

}  // namespace kqfs::codec
