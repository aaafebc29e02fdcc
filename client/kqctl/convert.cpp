// convert: records from standard input to standard output, between the
// text, JSON and binary formats, with the codecs the daemon uses.
#include <iostream>
#include <string>

#include "client/kqctl/commands.hpp"
#include "client/kqctl/records.hpp"

namespace kqctl {
namespace {

using kqfs::codec::Codec;

void flush_output() {
  std::cout.flush();
  if (!std::cout) throw Failure("cannot write the output");
}

// A record as `to` writes it; a change naming another process's
// descriptor keeps its pid, which binary records have no room for.
void write_parsed(const kqfs::codec::Parsed& parsed, const Codec& to, unsigned long long number,
                  const char* unit) {
  if (parsed.pid == 0) return write_record(std::cout, *parsed.record, to);
  if (to.encode_change == nullptr) {
    flush_output();
    throw Failure(std::string(unit) + " " + std::to_string(number) +
                  ": its ident is a descriptor of process " + std::to_string(parsed.pid) +
                  ", which " + std::string(to.records) + " cannot carry");
  }
  std::cout << to.encode_change(*parsed.record, parsed.pid);
}

// Lines (text, JSON), read as a changes file reads them.
void convert_lines(const Codec& from, const Codec& to) {
  std::string line;
  for (unsigned long long number = 1; std::getline(std::cin, line); ++number) {
    const kqfs::codec::Parsed parsed = from.parse(line);
    if (parsed.rejected()) {
      flush_output();  // the records before it
      throw Failure("line " + std::to_string(number) + ": " + parsed.error);
    }
    if (parsed.record) write_parsed(parsed, to, number, "line");
  }
}

// Records of a fixed size (binary).
void convert_records(const Codec& from, const Codec& to) {
  std::string record(from.record_size, '\0');
  for (unsigned long long number = 1;; ++number) {
    std::cin.read(record.data(), static_cast<std::streamsize>(record.size()));
    const auto length = static_cast<size_t>(std::cin.gcount());
    if (length == 0) return;
    if (length < record.size()) {
      flush_output();
      throw Failure("record " + std::to_string(number) + ": " + std::to_string(length) +
                    (length == 1 ? " byte" : " bytes") + " left over, not a " +
                    std::to_string(record.size()) + "-byte record");
    }
    const kqfs::codec::Parsed parsed = from.parse(record);
    if (parsed.rejected()) {
      flush_output();
      throw Failure("record " + std::to_string(number) + ": " + parsed.error);
    }
    if (parsed.record) write_record(std::cout, *parsed.record, to);
  }
}

}  // namespace

int run_convert(const Invocation& invocation) {
  Syntax syntax("convert", "--from FORMAT --to FORMAT",
                "Converts records from standard input to standard output. FORMAT is text\n"
                "(lines 'IDENT FILTER FLAGS FFLAGS DATA UDATA'), json (one object per line)\n"
                "or bin (32-byte little-endian records, as struct kevent). Input is read as\n"
                "a changes file reads it (names or numbers, trailing fields left out, blank\n"
                "lines and # comments skipped); output is written as an events file writes\n"
                "it, but a change naming another process's descriptor (text FD@PID, JSON\n"
                "\"pid\") keeps its pid, which bin cannot carry (an error). A malformed\n"
                "record stops the conversion: its line (or record) number and the reason\n"
                "go to standard error, and kqctl exits 1.\n"
                "  echo '1 timer add 0 500' | kqctl convert --from text --to json\n");
  syntax.options()("from", po::value<std::string>()->value_name("FORMAT"),
                   "the input format: text, json or bin")(
      "to", po::value<std::string>()->value_name("FORMAT"), "the output format: text, json or bin");
  const auto arguments = syntax.parse(invocation);
  if (!arguments) return kExitSuccess;
  if (!arguments->has("from")) throw UsageError("missing --from FORMAT");
  if (!arguments->has("to")) throw UsageError("missing --to FORMAT");
  const Codec& from = parse_format(arguments->text("from"), "--from");
  const Codec& to = parse_format(arguments->text("to"), "--to");

  if (from.framed_by_lines()) {
    convert_lines(from, to);
  } else {
    convert_records(from, to);
  }
  if (std::cin.bad()) throw Failure("cannot read the input");
  flush_output();
  return kExitSuccess;
}

}  // namespace kqctl
