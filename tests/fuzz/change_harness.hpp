// The change side of a queue's files, driven as the daemon drives it: the
// bytes of one open file go through a codec::ChangeStream, once in a single
// write and once cut into many, and every record it decodes is applied to a
// real in-process kqfs::Kqueue. What comes out is checked against a
// reference reading of the same bytes (docs/design.md#writing-changes).
#pragma once

#include <string_view>

#include "kqfs/codec/codec.hpp"

namespace kqfs::fuzz {

// Checks one line on its own (text and JSON): properties of its parser
// beyond what the stream shows. `parsed` is what the parser made of it.
using LineCheck = void (*)(std::string_view line, const codec::Parsed& parsed);

void check_changes(codec::Format format, std::string_view bytes, LineCheck check_line = nullptr);

}  // namespace kqfs::fuzz
