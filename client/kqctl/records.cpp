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

void write_record(std::ostream& out, const kqfs::Kevent& record, const kqfs::codec::Codec& format) {
  const std::string bytes = format.encode(record);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace kqctl
