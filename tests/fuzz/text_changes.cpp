// Fuzz target: text change records (`changes`), through the change stream
// and into a real queue (change_harness.hpp), plus properties of the text
// parser on each line.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "change_harness.hpp"
#include "fuzz.hpp"
#include "kqfs/codec/codec.hpp"

namespace kqfs::fuzz {
namespace {

std::string with_case(std::string_view line, int (*convert)(int)) {
  std::string out(line);
  std::transform(out.begin(), out.end(), out.begin(), [convert](char c) {
    return static_cast<char>(convert(static_cast<unsigned char>(c)));
  });
  return out;
}

void check_text_line(std::string_view line, const codec::Parsed& parsed) {
  // Names, signal names and hex digits are read in any case.
  for (const auto convert : {::toupper, ::tolower}) {
    const std::string other = with_case(line, convert);
    check_parses_alike(line, parsed, other, codec::parse_text(other));
  }
  // Blanks around the fields change nothing, not even the reason.
  const std::string padded = cat(" \t", line, " \r");
  check_parses_alike(line, parsed, padded, codec::parse_text(padded), /*same_reason=*/true);
}

}  // namespace
}  // namespace kqfs::fuzz

KQFS_FUZZ_CHANGE_TARGET(text, kqfs::fuzz::check_text_line)
