// What every fuzz target shares: the libFuzzer entry point, a check that
// aborts on a broken invariant (so libFuzzer and the standalone driver both
// report it, with the input that broke it), and small deterministic helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>

#include "kqfs/escape.hpp"
#include "kqfs/kevent.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace kqfs::fuzz {

// Bytes as a C string literal would show them, cut when long: enough to
// tell what went wrong without flooding the log.
inline std::string printable(std::string_view bytes, size_t limit = 200) {
  std::string out = escape_bytes(bytes.substr(0, limit), "\\");
  if (bytes.size() > limit) out += "...";
  return out;
}

// Quoted and printable.
inline std::string quoted(std::string_view bytes) {
  std::string out = "\"";
  out += printable(bytes);
  out += '"';
  return out;
}

inline void append(std::string& out, std::string_view part) {
  out += part;
}
template <class Number>
requires std::is_arithmetic_v<Number>
void append(std::string& out, Number number) {
  out += std::to_string(number);
}

// Strings and numbers end to end: what a failed check says. (Not chains of
// operator+: GCC 12 warns falsely on some at -O3, its bug 105651.)
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  (append(out, parts), ...);
  return out;
}

inline std::string describe(const Kevent& event) {
  char text[160];
  std::snprintf(
      text, sizeof text, "{ident %llu filter %d flags 0x%x fflags 0x%x data %lld udata %llu}",
      static_cast<unsigned long long>(event.ident), event.filter, event.flags, event.fflags,
      static_cast<long long>(event.data), static_cast<unsigned long long>(event.udata));
  return text;
}

[[noreturn]] inline void fail(const char* file, int line, const char* condition,
                              const std::string& context) {
  std::fprintf(stderr, "%s:%d: broken invariant: %s\n  %s\n", file, line, condition,
               context.c_str());
  std::fflush(stderr);
  std::abort();
}

// A small deterministic generator seeded by the bytes of an input, for
// choices a target makes beyond what the bytes spell out (where to cut
// writes, how large reads are): seed files stay plain records, yet every
// mutation of an input also moves those choices.
class Dice {
 public:
  explicit Dice(std::string_view bytes) {
    state_ = 0xcbf29ce484222325;  // FNV-1a
    for (const char c : bytes) {
      state_ = (state_ ^ static_cast<unsigned char>(c)) * 0x100000001b3;
    }
    state_ |= 1;  // xorshift never leaves 0
  }

  uint64_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_;
  }
  // In [0, bound), bound > 0.
  size_t below(size_t bound) { return static_cast<size_t>(next() % bound); }

 private:
  uint64_t state_;
};

// Write sizes for cutting an input into many writes.
class Splitter {
 public:
  explicit Splitter(std::string_view bytes) : dice_(bytes) {
    // One bound for the whole input: byte by byte, a few bytes, around a
    // binary record, or a few records.
    static constexpr size_t kLargest[] = {1, 5, 31, 33, 64, 300};
    largest_ = kLargest[dice_.below(std::size(kLargest))];
  }

  // The next write's size, at least 1.
  size_t next_size() { return 1 + dice_.below(largest_); }

 private:
  Dice dice_;
  size_t largest_;
};

}  // namespace kqfs::fuzz

// A macro rather than a function: it names the file, line and condition,
// and builds the message from its other arguments (see cat) only when the
// check fails.
#define KQFS_FUZZ_CHECK(condition, ...)                                                   \
  do {                                                                                    \
    if (!(condition)) {                                                                   \
      ::kqfs::fuzz::fail(__FILE__, __LINE__, #condition, ::kqfs::fuzz::cat(__VA_ARGS__)); \
    }                                                                                     \
  } while (false)
