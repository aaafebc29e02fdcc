// The one table of kqueue constant names, for the text and JSON codecs.
//
// Every name has a long form (EVFILT_TIMER, EV_ADD, NOTE_SECONDS) and a short
// form without its prefix (timer, add, seconds); lookups ignore case.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kqfs::names {

struct Name {
  std::string_view name;  // long form, e.g. "EV_ADD"
  uint32_t value;
};

// Filters (their values are negative; `value` holds the int16_t bit pattern).
std::span<const Name> filters();
// EV_* flags that a change or an event may carry.
std::span<const Name> flags();
// NOTE_* names that apply to `filter` (empty for filters without fflags).
std::span<const Name> fflags(int16_t filter);
// Other spellings of `filter`'s NOTE_* values, accepted on input, never written.
std::span<const Name> fflag_aliases(int16_t filter);

std::optional<int16_t> filter_value(std::string_view name);
std::optional<uint16_t> flag_value(std::string_view name);
std::optional<uint32_t> fflag_value(int16_t filter, std::string_view name);

// "EVFILT_TIMER", or empty when the value has no name.
std::string_view filter_name(int16_t filter);

// "EV_ADD|EV_CLEAR"; bits without a name as one hex number; "0" for none.
std::string format_flags(uint16_t flags);
// The same for a filter's fflags. Multi-bit fields (EVFILT_USER's control
// field, EVFILT_TIMER's unit) are named as a whole.
std::string format_fflags(int16_t filter, uint32_t fflags);

// ASCII letters compared without case, as every lookup here does.
bool equal_ignoring_case(std::string_view a, std::string_view b);

}  // namespace kqfs::names
