// Bytes as a C string literal would show them, for messages and logs.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace kqfs {

// Printable ASCII as it is, every other byte as \xNN, and each byte found in
// `backslashed` (e.g. "\\\"") after a backslash.
inline std::string escape_bytes(std::string_view bytes, std::string_view backslashed = {}) {
  std::string out;
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (backslashed.find(c) != std::string_view::npos) {
      out += '\\';
      out += c;
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    }
  }
  return out;
}

}  // namespace kqfs
