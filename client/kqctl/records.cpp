#include "client/kqctl/records.hpp"

#include <array>
#include <ostream>

#include "client/kqctl/syntax.hpp"

namespace kqctl {

kqfs::codec::Format parse_format(const std::string& name, const std::string& option) {
  if (name == "text") return kqfs::codec::Format::text;
  if (name == "json") return kqfs::codec::Format::json;
  if (name == "bin" || name == "binary") return kqfs::codec::Format::binary;
  throw UsageError(option + " must be text, json or bin, not '" + name + "'");
}

void write_record(std::ostream& out, const kqfs::Kevent& record, kqfs::codec::Format format) {
  switch (format) {
    case kqfs::codec::Format::text:
      out << kqfs::codec::format_text(record);
      break;
    case kqfs::codec::Format::json:
      out << kqfs::codec::format_json(record);
      break;
    case kqfs::codec::Format::binary: {
      std::array<char, kqfs::codec::kBinaryRecordSize> bytes;
      kqfs::codec::encode_binary(record, bytes);
      out.write(bytes.data(), bytes.size());
      break;
    }
  }
}

}  // namespace kqctl
