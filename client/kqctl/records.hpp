// The three record formats as kqctl names and prints them.
#pragma once

#include <iosfwd>
#include <string>

#include "kqfs/codec/codec.hpp"
#include "kqfs/kevent.hpp"

namespace kqctl {

// "text", "json" or "bin" (also "binary"); UsageError names `option` otherwise.
kqfs::codec::Format parse_format(const std::string& name, const std::string& option);

// One record as an events file gives it: a text or JSON line, or 32 bytes.
void write_record(std::ostream& out, const kqfs::Kevent& record, kqfs::codec::Format format);

}  // namespace kqctl
