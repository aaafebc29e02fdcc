// The change side of a queue's files, driven as the daemon drives it: the
// bytes of one open file go through a codec::ChangeStream, once in a single
// write and once cut into many, and every record it decodes is applied to a
// real in-process kqfs::Kqueue. What comes out is checked against a
// reference reading of the same bytes (DESIGN.md "Writing changes").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kqfs/codec/codec.hpp"

namespace kqfs::fuzz {

// Checks one line on its own (text and JSON): properties of its parser
// beyond what the stream shows. `parsed` is what the parser made of it.
using LineCheck = void (*)(std::string_view line, const codec::Parsed& parsed);

// `other`, `line` changed in a way that must not matter, parses as `line`
// did: the same record and the same verdict, and with `same_reason` the same
// reason too. `parsed` and `reparsed` are what the parser made of each.
void check_parses_alike(std::string_view line, const codec::Parsed& parsed, std::string_view other,
                        const codec::Parsed& reparsed, bool same_reason = false);

void check_changes(codec::Format format, std::string_view bytes, LineCheck check_line = nullptr);

}  // namespace kqfs::fuzz

// The fuzz entry point of a change target: the input is the bytes written
// to a queue's change file of `format`, each line checked by `check_line`.
#define KQFS_FUZZ_CHANGE_TARGET(format, check_line)                                \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {        \
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);       \
    ::kqfs::fuzz::check_changes(::kqfs::codec::Format::format, bytes, check_line); \
    return 0;                                                                      \
  }
