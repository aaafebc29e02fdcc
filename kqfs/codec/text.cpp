// Text records: `ident filter flags fflags data udata`, one per line
// (docs/design.md#record-formats), and the field syntax JSON shares.
#include <signal.h>
#include <string.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <limits>
#include <span>
#include <type_traits>

#include "kqfs/codec/codec.hpp"
#include "kqfs/codec/fields.hpp"
#include "kqfs/constants.h"
#include "kqfs/escape.hpp"
#include "kqfs/names.hpp"

namespace kqfs::codec {
namespace fields {
namespace {

// Longer tokens are cut in reasons: a status line is not a hex dump.
constexpr size_t kMaxQuotedLength = 64;
// "18446744073709551615" (u64 max) and "-9223372036854775808" (i64 min).
constexpr size_t kMaxNumberLength = 20;
// "-32768": a filter without a name.
constexpr size_t kMaxFilterNumberLength = 6;
// "0xffffffff": the bits of a mask that have no name.
constexpr size_t kMaxHexMaskLength = 10;
// "4294967295": READ/WRITE fflags, written as a decimal errno.
constexpr size_t kMaxDecimalMaskLength = 10;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

// Numbers start with a digit or a sign; names never do, so a token that
// looks like a number and does not parse is a bad number, not a bad name.
bool looks_numeric(std::string_view token) {
  return !token.empty() && (std::isdigit(static_cast<unsigned char>(token.front())) ||
                            token.front() == '-' || token.front() == '+');
}

// `token` as a T: an optional '-', then decimal digits or 0x and hex
// digits, with the signed value in T's range. Leading zeros stay decimal.
template <class T>
std::optional<T> parse_integer(std::string_view token) {
  const bool negative = !token.empty() && token.front() == '-';
  if (negative) token.remove_prefix(1);
  int base = 10;
  if (token.size() > 2 && token[0] == '0' && (token[1] == 'x' || token[1] == 'X')) {
    base = 16;
    token.remove_prefix(2);
  }
  // from_chars takes no sign for an unsigned type, so "--1" and "-+1" fail.
  uint64_t magnitude = 0;
  const char* end = token.data() + token.size();
  const auto [stop, status] = std::from_chars(token.data(), end, magnitude, base);
  if (token.empty() || status != std::errc() || stop != end) return std::nullopt;

  if (!negative) {
    if (magnitude > static_cast<uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
    return static_cast<T>(magnitude);
  }
  if constexpr (std::is_unsigned_v<T>) {
    if (magnitude != 0) return std::nullopt;
    return T{0};
  } else {
    const uint64_t largest = static_cast<uint64_t>(std::numeric_limits<T>::max()) + 1;
    if (magnitude > largest) return std::nullopt;
    // Modular negation, then a conversion that C++20 defines as modular too.
    return static_cast<T>(static_cast<int64_t>(0 - magnitude));
  }
}

// "RTMIN", "RTMIN+3", "RTMAX", "RTMAX-2" (without the SIG prefix).
std::optional<int> realtime_signal(std::string_view name) {
  if (name.size() < 5) return std::nullopt;
  const std::string_view base = name.substr(0, 5);
  const std::string_view offset_text = name.substr(5);
  int offset = 0;
  if (!offset_text.empty()) {
    const char sign = offset_text.front();
    const std::string_view digits = offset_text.substr(1);
    const char* end = digits.data() + digits.size();
    const auto [stop, status] = std::from_chars(digits.data(), end, offset);
    if (digits.empty() || status != std::errc() || stop != end) return std::nullopt;
    if (offset < 0 || offset >= NSIG) return std::nullopt;  // "RTMIN+-1", and no overflow
    if (sign == '-') {
      offset = -offset;
    } else if (sign != '+') {
      return std::nullopt;
    }
  }
  int signal = 0;
  if (names::equal_ignoring_case(base, "RTMIN") && offset >= 0) {
    signal = SIGRTMIN + offset;
  } else if (names::equal_ignoring_case(base, "RTMAX") && offset <= 0) {
    signal = SIGRTMAX + offset;
  } else {
    return std::nullopt;
  }
  if (signal < SIGRTMIN || signal > SIGRTMAX) return std::nullopt;
  return signal;
}

// "SIGUSR1", "usr1", "SIGRTMIN+1": the libc's own abbreviations, any case.
std::optional<int> signal_number(std::string_view name) {
  if (name.size() > 3 && names::equal_ignoring_case(name.substr(0, 3), "SIG"))
    name.remove_prefix(3);
  for (int signal = 1; signal < NSIG; ++signal) {
    const char* abbreviation = sigabbrev_np(signal);
    if (abbreviation != nullptr && names::equal_ignoring_case(name, abbreviation)) return signal;
  }
  return realtime_signal(name);
}

// A `|`-joined list of names (looked up by `lookup`) and numbers.
// `kind` ("flag", "fflag") and `context` (" for EVFILT_TIMER") word the error.
template <class T, class Lookup>
std::optional<T> parse_mask(std::string_view token, const Lookup& lookup, std::string_view kind,
                            std::string_view context, std::string& error) {
  T mask = 0;
  std::string_view rest = token;
  while (true) {
    const size_t bar = rest.find('|');
    const std::string_view part = rest.substr(0, bar);
    if (part.empty()) {
      error = "empty name in " + std::string(kind) + "s " + quote(token);
      return std::nullopt;
    }
    std::optional<T> value;
    if (looks_numeric(part)) {
      value = parse_integer<T>(part);
      if (!value) error = "bad " + std::string(kind) + " " + quote(part) + std::string(context);
    } else {
      value = lookup(part);
      if (!value) error = "unknown " + std::string(kind) + " " + quote(part) + std::string(context);
    }
    if (!value) return std::nullopt;
    mask |= *value;
    if (bar == std::string_view::npos) return mask;
    rest.remove_prefix(bar + 1);
  }
}

// The longest a mask of `table`'s names can be written: every name with a
// separator, plus the unnamed bits in hex.
size_t max_mask_length(std::span<const names::Name> table) {
  size_t length = kMaxHexMaskLength;
  for (const names::Name& entry : table)
    length += entry.name.size() + 1;
  return length;
}

// Reads `token`, when there is one, into `field` with `parse`; false, with
// `error` saying why, when the token is bad.
template <class T, class Parse>
bool read_field(const std::optional<std::string_view>& token, T& field, std::string& error,
                Parse parse) {
  if (!token) return true;
  const auto value = parse(*token, error);
  if (!value) return false;
  field = *value;
  return true;
}

}  // namespace

std::optional<int16_t> parse_filter(std::string_view token, std::string& error) {
  if (looks_numeric(token)) {
    if (auto value = parse_integer<int16_t>(token)) return value;
    error = "bad filter " + quote(token);
    return std::nullopt;
  }
  if (auto value = names::filter_value(token)) return value;
  error = "unknown filter " + quote(token);
  return std::nullopt;
}

std::optional<uint64_t> parse_ident(std::string_view token, int16_t filter, std::string& error) {
  if (filter == EVFILT_SIGNAL && !looks_numeric(token)) {
    if (auto signal = signal_number(token)) return static_cast<uint64_t>(*signal);
    error = "unknown signal " + quote(token);
    return std::nullopt;
  }
  if (auto value = parse_integer<uint64_t>(token)) return value;
  error = "bad ident " + quote(token);
  return std::nullopt;
}

std::optional<uint16_t> parse_flags(std::string_view token, std::string& error) {
  return parse_mask<uint16_t>(token, names::flag_value, "flag", "", error);
}

std::optional<uint32_t> parse_fflags(std::string_view token, int16_t filter, std::string& error) {
  const auto lookup = [filter](std::string_view name) { return names::fflag_value(filter, name); };
  return parse_mask<uint32_t>(token, lookup, "fflag", " for " + format_filter(filter), error);
}

std::optional<int64_t> parse_data(std::string_view token, std::string& error) {
  if (auto value = parse_integer<int64_t>(token)) return value;
  error = "bad data " + quote(token);
  return std::nullopt;
}

std::optional<uint64_t> parse_udata(std::string_view token, std::string& error) {
  if (auto value = parse_integer<uint64_t>(token)) return value;
  error = "bad udata " + quote(token);
  return std::nullopt;
}

std::optional<int32_t> parse_pid(std::string_view token, std::string& error) {
  if (auto value = parse_integer<int32_t>(token); value && *value > 0) return value;
  error = "bad pid " + quote(token) + " (a process id is a number above 0)";
  return std::nullopt;
}

std::string format_filter(int16_t filter) {
  const std::string_view name = names::filter_name(filter);
  return name.empty() ? std::to_string(filter) : std::string(name);
}

std::string format_fflags(int16_t filter, uint16_t flags, uint32_t fflags) {
  const bool errno_value = (filter == EVFILT_READ || filter == EVFILT_WRITE) && (flags & EV_EOF);
  return errno_value ? std::to_string(fflags) : names::format_fflags(filter, fflags);
}

std::string quote(std::string_view token) {
  std::string out = "'" + escape_bytes(token.substr(0, kMaxQuotedLength));
  if (token.size() > kMaxQuotedLength) out += "...";
  return out + "'";
}

Parsed rejected(std::string reason) {
  return Parsed{std::nullopt, std::move(reason)};
}

Parsed parse_fields(const Tokens& given, std::optional<std::string_view> pid_token) {
  std::string error;
  Tokens tokens = given;
  // `FD@PID`: the ident is a descriptor of process PID.
  const std::string_view ident = tokens[kIdent].value_or(std::string_view());
  if (const size_t at = ident.find('@'); at != std::string_view::npos) {
    if (pid_token) return rejected("pid given twice, in ident " + quote(ident) + " and on its own");
    pid_token = ident.substr(at + 1);
    tokens[kIdent] = ident.substr(0, at);
  }
  int32_t pid = 0;
  if (!read_field(pid_token, pid, error, parse_pid)) return rejected(std::move(error));
  Kevent record;
  // The ident (signal names) and fflags depend on the filter, read first.
  const auto with_filter = [&record](auto parse) {
    return [&record, parse](std::string_view token, std::string& why) {
      return parse(token, record.filter, why);
    };
  };
  const bool read = read_field(tokens[kFilter], record.filter, error, parse_filter) &&
                    read_field(tokens[kIdent], record.ident, error, with_filter(parse_ident)) &&
                    read_field(tokens[kFlags], record.flags, error, parse_flags) &&
                    read_field(tokens[kFflags], record.fflags, error, with_filter(parse_fflags)) &&
                    read_field(tokens[kData], record.data, error, parse_data) &&
                    read_field(tokens[kUdata], record.udata, error, parse_udata);
  if (!read) return rejected(std::move(error));
  return Parsed{record, {}, pid};
}

FieldBounds max_field_lengths() {
  FieldBounds bounds{kMaxNumberLength, kMaxFilterNumberLength, max_mask_length(names::flags()),
                     kMaxDecimalMaskLength};
  for (const names::Name& filter : names::filters()) {
    bounds.filter = std::max(bounds.filter, filter.name.size());
    const auto value = static_cast<int16_t>(filter.value);
    bounds.fflags = std::max(bounds.fflags, max_mask_length(names::fflags(value)));
  }
  return bounds;
}

}  // namespace fields

size_t max_text_size() {
  const fields::FieldBounds bounds = fields::max_field_lengths();
  // Six fields, five spaces, one '\n'.
  return 3 * bounds.number + bounds.filter + bounds.flags + bounds.fflags + fields::kFieldCount;
}

Parsed parse_text(std::string_view line) {
  std::array<std::string_view, fields::kFieldCount> tokens;
  size_t field_count = 0;
  size_t position = 0;
  while (true) {
    while (position < line.size() && fields::is_space(line[position]))
      ++position;
    if (position == line.size()) break;
    if (field_count == 0 && line[position] == '#') return {};  // a comment
    const size_t start = position;
    while (position < line.size() && !fields::is_space(line[position]))
      ++position;
    if (field_count < tokens.size()) tokens[field_count] = line.substr(start, position - start);
    ++field_count;
  }
  if (field_count == 0) return {};  // a blank line
  if (field_count > tokens.size()) {
    return fields::rejected("too many fields (" + std::to_string(field_count) + ", at most " +
                            std::to_string(tokens.size()) + ")");
  }

  fields::Tokens present;
  for (size_t i = 0; i < field_count; ++i)
    present[i] = tokens[i];
  return fields::parse_fields(present);
}

std::string format_text(const Kevent& event) {
  return format_text_change(event, 0);
}

std::string format_text_change(const Kevent& event, int32_t pid) {
  std::string out = std::to_string(event.ident);
  if (pid != 0) out += '@' + std::to_string(pid);
  out += ' ';
  out += fields::format_filter(event.filter);
  out += ' ';
  out += names::format_flags(event.flags);
  out += ' ';
  out += fields::format_fflags(event.filter, event.flags, event.fflags);
  out += ' ';
  out += std::to_string(event.data);
  out += ' ';
  out += std::to_string(event.udata);
  out += '\n';
  return out;
}

}  // namespace kqfs::codec
