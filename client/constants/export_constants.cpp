// kqfs-export-constants: the engine's one table of kqueue names, printed as
// JSON for the language packages (client/python, client/node), which render
// their constants from it at build time. Nothing in those packages is
// copied by hand; a new filter or NOTE_* name reaches them on the next build.
//
//   kqfs-export-constants [OUTPUT]     (stdout without OUTPUT)
#include <cstdint>
#include <fstream>
#include <iostream>
#include <span>
#include <sstream>
#include <string_view>

#include "kqfs/call_ioctl.h"
#include "kqfs/constants.h"
#include "kqfs/filter_table.hpp"
#include "kqfs/names.hpp"

namespace {

using kqfs::names::Name;

// Masks and counts that name no single event bit, and EV_FLAG2, a bit no
// event carries, so the codecs' name table leaves them out; programs still
// use them (BSD's <sys/event.h> has them), so the packages get them from
// the same header the engine uses.
#define KQFS_VALUE(constant)                    \
  NamedValue {                                  \
#constant, static_cast < int64_t>(constant) \
  }

struct NamedValue {
  std::string_view name;
  int64_t value;
};

constexpr NamedValue kMasks[] = {
    KQFS_VALUE(EV_SYSFLAGS),     KQFS_VALUE(NOTE_FFCTRLMASK), KQFS_VALUE(NOTE_FFLAGSMASK),
    KQFS_VALUE(NOTE_PCTRLMASK),  KQFS_VALUE(NOTE_PDATAMASK),  KQFS_VALUE(NOTE_TIMER_PRECMASK),
    KQFS_VALUE(EVFILT_SYSCOUNT), KQFS_VALUE(EV_FLAG2),
};

// One kevent() call as one ioctl on a kq/clone handle (call_ioctl.h).
constexpr NamedValue kCall[] = {
    KQFS_VALUE(KQFS_CALL_MAGIC),
    KQFS_VALUE(KQFS_CALL_RESULT_MAGIC),
    KQFS_VALUE(KQFS_CALL_SLOT),
    KQFS_VALUE(KQFS_CALL_MAX_SLOTS),
    KQFS_VALUE(KQFS_CALL_TIMEOUT),
    KQFS_VALUE(KQFS_CALL_CHANGES_ONLY),
    KQFS_VALUE(KQFS_CALL_DONE),
    KQFS_VALUE(KQFS_CALL_RECHECK),
    NamedValue{"KQFS_IOC_CALL_BASE", static_cast<int64_t>(KQFS_IOC_CALL(0))},
    NamedValue{"KQFS_IOC_CALL_SIZE_SHIFT", _IOC_SIZESHIFT},
};

#undef KQFS_VALUE

// Every name here is an identifier: no escaping needed.
void write_values(std::ostream& out, std::span<const NamedValue> values) {
  out << "{";
  const char* separator = "";
  for (const NamedValue& entry : values) {
    out << separator << "\n    \"" << entry.name << "\": " << entry.value;
    separator = ",";
  }
  out << "\n  }";
}

// Flags and NOTE_* values as unsigned numbers; filters as the int16_t
// they are.
void write_names(std::ostream& out, std::span<const Name> names, bool as_filters,
                 std::string_view indent) {
  out << "{";
  const char* separator = "";
  for (const Name& entry : names) {
    out << separator << "\n" << indent << "  \"" << entry.name << "\": ";
    if (as_filters) {
      out << static_cast<int16_t>(entry.value);
    } else {
      out << entry.value;
    }
    separator = ",";
  }
  out << "\n" << indent << "}";
}

void write_filters(std::ostream& out) {
  out << "[";
  const char* separator = "";
  for (const kqfs::FilterRow& row : kqfs::filter_table()) {
    out << separator << "\n    {\"name\": \"" << row.name << "\", \"short\": \"" << row.short_name
        << "\", \"value\": " << row.id << ",\n     \"fflags\": ";
    write_names(out, row.fflags, false, "     ");
    out << ",\n     \"aliases\": ";
    write_names(out, kqfs::names::fflag_aliases(row.id), false, "     ");
    out << "}";
    separator = ",";
  }
  out << "\n  ]";
}

void write_document(std::ostream& out) {
  out << "{\n  \"version\": \"" << KQFS_VERSION << "\",\n  \"record_size\": 32,\n"
      << "  \"filters\": ";
  write_names(out, kqfs::names::filters(), true, "  ");
  out << ",\n  \"implemented\": ";
  write_filters(out);
  out << ",\n  \"flags\": ";
  write_names(out, kqfs::names::flags(), false, "  ");
  out << ",\n  \"masks\": ";
  write_values(out, kMasks);
  out << ",\n  \"call\": ";
  write_values(out, kCall);
  out << "\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::cerr << "usage: kqfs-export-constants [OUTPUT]\n";
    return 2;
  }
  std::ostringstream document;
  write_document(document);
  if (argc == 1) {
    std::cout << document.str();
    return std::cout.flush() ? 0 : 1;
  }
  std::ofstream file(argv[1], std::ios::trunc);
  file << document.str();
  file.close();
  if (!file) {
    std::cerr << "kqfs-export-constants: cannot write " << argv[1] << "\n";
    return 1;
  }
  return 0;
}
