#include "kqfs/codec/formats.hpp"

#include <array>

namespace kqfs::codec {

const Codec* find_codec(std::string_view name) {
  for (const Codec& codec : kCodecs) {
    if (name == codec.name || (!codec.alias.empty() && name == codec.alias)) return &codec;
  }
  return nullptr;
}

std::string format_names() {
  std::string names;
  for (size_t index = 0; index < kFormatCount; ++index) {
    if (index > 0) names += index + 1 == kFormatCount ? " or " : ", ";
    names += kCodecs[index].name;
  }
  return names;
}

size_t max_record_size(Format format) {
  // Worked out once: the text bounds go through the name tables.
  static const std::array<size_t, kFormatCount> sizes = [] {
    std::array<size_t, kFormatCount> each{};
    for (size_t index = 0; index < kFormatCount; ++index) {
      each[index] = kCodecs[index].max_size();
    }
    return each;
  }();
  return sizes[index_of(format)];
}

}  // namespace kqfs::codec
