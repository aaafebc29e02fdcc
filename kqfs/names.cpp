#include "kqfs/names.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>

#include "kqfs/constants.h"
#include "kqfs/filter_table.hpp"

namespace kqfs::names {
namespace {

#define KQFS_NAME(constant)                                              \
  Name {                                                                 \
#constant, static_cast < uint32_t>(static_cast <uint16_t>(constant)) \
  }
#define KQFS_NAME32(constant)                    \
  Name {                                         \
#constant, static_cast < uint32_t>(constant) \
  }

constexpr std::array kFilters = {
    KQFS_NAME(EVFILT_READ),  KQFS_NAME(EVFILT_WRITE),    KQFS_NAME(EVFILT_AIO),
    KQFS_NAME(EVFILT_VNODE), KQFS_NAME(EVFILT_PROC),     KQFS_NAME(EVFILT_SIGNAL),
    KQFS_NAME(EVFILT_TIMER), KQFS_NAME(EVFILT_PROCDESC), KQFS_NAME(EVFILT_FS),
    KQFS_NAME(EVFILT_LIO),   KQFS_NAME(EVFILT_USER),     KQFS_NAME(EVFILT_SENDFILE),
    KQFS_NAME(EVFILT_EMPTY),
};

// In bit order, so formatted masks read the same way every time.
constexpr std::array kFlags = {
    KQFS_NAME(EV_ADD),       KQFS_NAME(EV_DELETE),   KQFS_NAME(EV_ENABLE),
    KQFS_NAME(EV_DISABLE),   KQFS_NAME(EV_ONESHOT),  KQFS_NAME(EV_CLEAR),
    KQFS_NAME(EV_RECEIPT),   KQFS_NAME(EV_DISPATCH), KQFS_NAME(EV_FORCEONESHOT),
    KQFS_NAME(EV_KEEPUDATA), KQFS_NAME(EV_DROP),     KQFS_NAME(EV_FLAG1),
    KQFS_NAME(EV_ERROR),     KQFS_NAME(EV_EOF),
};

// Accepted on input, never written: other spellings of the same values.
constexpr std::array kTimerAliases = {KQFS_NAME32(NOTE_ABSOLUTE)};

#undef KQFS_NAME
#undef KQFS_NAME32

// True when `wanted` is `name` or `name` without its prefix ("EV_", "NOTE_"...).
bool matches(std::string_view name, std::string_view wanted) {
  if (equal_ignoring_case(name, wanted)) return true;
  const auto underscore = name.find('_');
  return underscore != std::string_view::npos &&
         equal_ignoring_case(name.substr(underscore + 1), wanted);
}

std::optional<uint32_t> find(std::span<const Name> table, std::string_view wanted) {
  for (const Name& entry : table) {
    if (matches(entry.name, wanted)) return entry.value;
  }
  return std::nullopt;
}

std::string format_mask(std::span<const Name> table, uint32_t mask) {
  std::string out;
  uint32_t rest = mask;
  for (const Name& entry : table) {
    if (entry.value != 0 && (rest & entry.value) == entry.value) {
      if (!out.empty()) out += '|';
      out += entry.name;
      rest &= ~entry.value;
    }
  }
  if (rest != 0) {
    char number[16];
    std::snprintf(number, sizeof number, "0x%x", rest);
    if (!out.empty()) out += '|';
    out += number;
  }
  return out.empty() ? "0" : out;
}

}  // namespace

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::span<const Name> filters() {
  return kFilters;
}
std::span<const Name> flags() {
  return kFlags;
}

std::span<const Name> fflags(int16_t filter) {
  const FilterRow* row = filter_row(filter);
  return row == nullptr ? std::span<const Name>{} : row->fflags;
}

std::span<const Name> fflag_aliases(int16_t filter) {
  return filter == EVFILT_TIMER ? std::span<const Name>{kTimerAliases} : std::span<const Name>{};
}

std::optional<int16_t> filter_value(std::string_view name) {
  if (auto value = find(kFilters, name)) return static_cast<int16_t>(*value);
  return std::nullopt;
}

std::optional<uint16_t> flag_value(std::string_view name) {
  if (auto value = find(kFlags, name)) return static_cast<uint16_t>(*value);
  return std::nullopt;
}

std::optional<uint32_t> fflag_value(int16_t filter, std::string_view name) {
  if (auto value = find(fflags(filter), name)) return value;
  return find(fflag_aliases(filter), name);
}

std::string_view filter_name(int16_t filter) {
  for (const Name& entry : kFilters) {
    if (static_cast<int16_t>(entry.value) == filter) return entry.name;
  }
  return {};
}

std::string format_flags(uint16_t flags) {
  return format_mask(kFlags, flags);
}

std::string format_fflags(int16_t filter, uint32_t fflags) {
  return format_mask(names::fflags(filter), fflags);
}

}  // namespace kqfs::names
