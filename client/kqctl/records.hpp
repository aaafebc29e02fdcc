// The record formats as kqctl names and prints them: the codecs' own table.
#pragma once

#include <iosfwd>
#include <string>

#include "kqfs/codec/formats.hpp"
#include "kqfs/kevent.hpp"

namespace kqctl {

// The format called `name` ("text", "json", "bin", or an alias such as
// "binary"); UsageError names `option` otherwise.
const kqfs::codec::Codec& parse_format(const std::string& name, const std::string& option);

// One record as an events file gives it: a text or JSON line, or 32 bytes.
void write_record(std::ostream& out, const kqfs::Kevent& record, const kqfs::codec::Codec& format);

}  // namespace kqctl
