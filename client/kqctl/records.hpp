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

class Syntax;
struct Arguments;

// What wait and watch print unless an option names another format.
inline constexpr kqfs::codec::Format kDefaultFormat = kqfs::codec::Format::text;

// One option per format but the default: --json, --bin.
void add_format_options(Syntax& syntax);

// The format those options chose, else the default; UsageError for two.
const kqfs::codec::Codec& chosen_format(const Arguments& arguments);

// One record as an events file gives it: a text or JSON line, or 32 bytes.
void write_record(std::ostream& out, const kqfs::Kevent& record, const kqfs::codec::Codec& format);

}  // namespace kqctl
