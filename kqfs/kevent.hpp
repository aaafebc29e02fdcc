// The kevent record: what a change asks for and what an event reports.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kqfs/constants.h"

namespace kqfs {

// Laid out as the 32-byte binary record and as the client's struct kevent on
// 64-bit Linux, so an array of either is the other byte for byte.
struct Kevent {
  uint64_t ident = 0;
  int16_t filter = 0;
  uint16_t flags = 0;
  uint32_t fflags = 0;
  int64_t data = 0;
  uint64_t udata = 0;

  friend bool operator==(const Kevent&, const Kevent&) = default;
};

static_assert(sizeof(Kevent) == 32);
static_assert(std::is_trivially_copyable_v<Kevent>);
static_assert(std::is_standard_layout_v<Kevent>);

}  // namespace kqfs
