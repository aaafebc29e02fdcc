#include "client/kqctl/records.hpp"

#include <ostream>

#include "client/kqctl/syntax.hpp"

namespace kqctl {

const kqfs::codec::Codec& parse_format(const std::string& name, const std::string& option) {
  const kqfs::codec::Codec* codec = kqfs::codec::find_codec(name);
  if (codec == nullptr) {
    throw UsageError(option + " must be " + kqfs::codec::format_names() + ", not '" + name + "'");
  }
  return *codec;
}

void add_format_options(Syntax& syntax) {
  for (const kqfs::codec::Codec& codec : kqfs::codec::kCodecs) {
    if (codec.format == kDefaultFormat) continue;
    syntax.options()(std::string(codec.name).c_str(),
                     ("print " + std::string(codec.records)).c_str());
  }
}

const kqfs::codec::Codec& chosen_format(const Arguments& arguments) {
  const kqfs::codec::Codec* chosen = &kqfs::codec::codec_of(kDefaultFormat);
  for (const kqfs::codec::Codec& codec : kqfs::codec::kCodecs) {
    if (codec.format == kDefaultFormat || !arguments.has(std::string(codec.name).c_str())) continue;
    if (chosen->format != kDefaultFormat) {
      throw UsageError("--" + std::string(chosen->name) + " and --" + std::string(codec.name) +
                       " exclude each other");
    }
    chosen = &codec;
  }
  return *chosen;
}

void write_record(std::ostream& out, const kqfs::Kevent& record, const kqfs::codec::Codec& format) {
  const std::string bytes = format.encode(record);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace kqctl
