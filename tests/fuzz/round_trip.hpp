// The codecs' promise for any record: each format writes it as one line
// (or 32 bytes) within max_record_size(), and reading that back gives the
// same record, every field and bit of it (docs/design.md#record-formats).
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "fuzz.hpp"
#include "kqfs/codec/codec.hpp"
#include "kqfs/kevent.hpp"

namespace kqfs::fuzz {

// A formatted record: one line, '\n' last and nowhere else.
inline std::string_view without_newline(const std::string& line, const Kevent& event) {
  KQFS_FUZZ_CHECK(!line.empty() && line.find('\n') == line.size() - 1, describe(event),
                  " formatted as ", quoted(line));
  return std::string_view(line).substr(0, line.size() - 1);
}

inline void check_parsed_back(const codec::Parsed& parsed, const Kevent& event,
                              const std::string& line) {
  KQFS_FUZZ_CHECK(!parsed.rejected() && parsed.record == event, describe(event), " formatted as ",
                  quoted(line), " parses back as ",
                  parsed.record ? describe(*parsed.record) : "nothing", " (", parsed.error, ")");
}

// A change naming another process's descriptor: text and JSON keep its pid.
inline void check_change_round_trips(const Kevent& change, int32_t pid) {
  using Format = std::string (*)(const Kevent&, int32_t);
  using Parse = codec::Parsed (*)(std::string_view);
  const std::array<std::pair<Format, Parse>, 2> formats = {
      std::pair{&codec::format_text_change, &codec::parse_text},
      std::pair{&codec::format_json_change, &codec::parse_json}};
  for (const auto& [format, parse] : formats) {
    const std::string line = format(change, pid);
    const codec::Parsed parsed = parse(without_newline(line, change));
    check_parsed_back(parsed, change, line);
    KQFS_FUZZ_CHECK(parsed.pid == pid, describe(change), " with pid ", pid, " formatted as ",
                    quoted(line), " parses back with pid ", parsed.pid);
  }
}

inline void check_round_trips(const Kevent& event, int32_t pid = 0) {
  if (pid != 0) check_change_round_trips(event, pid);
  using codec::Format;

  const std::string text = codec::format_text(event);
  const std::string_view text_line = without_newline(text, event);
  KQFS_FUZZ_CHECK(text.size() <= codec::max_record_size(Format::text),
                  "text record longer than max_record_size: ", quoted(text));
  // Six fields, each without spaces: five separators.
  KQFS_FUZZ_CHECK(std::count(text_line.begin(), text_line.end(), ' ') == 5,
                  "not six fields: ", quoted(text));
  check_parsed_back(codec::parse_text(text_line), event, text);

  const std::string json = codec::format_json(event);
  const std::string_view json_line = without_newline(json, event);
  KQFS_FUZZ_CHECK(json.size() <= codec::max_record_size(Format::json),
                  "JSON record longer than max_record_size: ", quoted(json));
  check_parsed_back(codec::parse_json(json_line), event, json);

  // The binary record is the struct's own bytes: a C array of struct
  // kevent is written as-is.
  std::array<char, codec::kBinaryRecordSize> binary;
  codec::encode_binary(event, binary);
  KQFS_FUZZ_CHECK(std::memcmp(binary.data(), &event, binary.size()) == 0,
                  "binary record is not the struct's bytes: ", describe(event));
  const Kevent decoded = codec::decode_binary(binary);
  KQFS_FUZZ_CHECK(decoded == event, describe(event), " decodes as ", describe(decoded));
}

}  // namespace kqfs::fuzz
