// Fuzz target: JSON change records (`changes.json`), through the change
// stream and into a real queue (change_harness.hpp), plus properties of the
// JSON parser on each line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "change_harness.hpp"
#include "fuzz.hpp"
#include "kqfs/codec/codec.hpp"

namespace kqfs::fuzz {
namespace {

void check_json_line(std::string_view line, const codec::Parsed& parsed) {
  // A line is one object and nothing else (json.cpp): a byte more after
  // an accepted object makes the line malformed.
  if (parsed.record) {
    const std::string longer = cat(line, "x");
    KQFS_FUZZ_CHECK(codec::parse_json(longer).rejected(), quoted(longer), " is accepted, as ",
                    describe(*parsed.record));
  }
  // Blanks around the object change nothing.
  const std::string padded = cat(" \t", line, " \r");
  check_parses_alike(line, parsed, padded, codec::parse_json(padded));
}

}  // namespace
}  // namespace kqfs::fuzz

KQFS_FUZZ_CHANGE_TARGET(json, kqfs::fuzz::check_json_line)
