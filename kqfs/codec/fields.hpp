// The text syntax of the six record fields, shared by the text and JSON
// codecs (JSON's filter/flags/fflags strings are in the text syntax).
// Internal to kqfs/codec: not part of the codec API.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kqfs/codec/codec.hpp"

namespace kqfs::codec::fields {

// Each parser takes one token (no surrounding whitespace) and returns its
// value, or nullopt with `error` saying why, e.g. "unknown flag 'ad'".
std::optional<int16_t> parse_filter(std::string_view token, std::string& error);
// A number, or for EVFILT_SIGNAL also a signal name (SIGUSR1, usr1, SIGRTMIN+1).
std::optional<uint64_t> parse_ident(std::string_view token, int16_t filter, std::string& error);
std::optional<uint16_t> parse_flags(std::string_view token, std::string& error);
std::optional<uint32_t> parse_fflags(std::string_view token, int16_t filter, std::string& error);
std::optional<int64_t> parse_data(std::string_view token, std::string& error);
std::optional<uint64_t> parse_udata(std::string_view token, std::string& error);
// A process id: a number above 0 that fits a pid_t.
std::optional<int32_t> parse_pid(std::string_view token, std::string& error);

// "EVFILT_TIMER", or the number when the filter has no name.
std::string format_filter(int16_t filter);
// Names where they exist, as flags are written; but a decimal number for
// EVFILT_READ/WRITE with EV_EOF in `flags`, where fflags is an errno (the
// socket error).
std::string format_fflags(int16_t filter, uint16_t flags, uint32_t fflags);

// A record's fields in order, and the tokens of one record by field; an
// absent token leaves its field 0.
enum Field : size_t { kIdent, kFilter, kFlags, kFflags, kData, kUdata, kFieldCount };
using Tokens = std::array<std::optional<std::string_view>, kFieldCount>;
// The record the tokens give, or the reason for the first bad one. The
// ident may end in `@PID` (a descriptor of process PID), or the pid come
// as a token of its own (JSON's "pid" key), not both.
Parsed parse_fields(const Tokens& tokens, std::optional<std::string_view> pid = std::nullopt);
Parsed rejected(std::string reason);

// `token` in quotes for a reason: non-printable bytes escaped, long tokens
// cut, so the reason stays one readable line.
std::string quote(std::string_view token);

// Upper bounds on the length of each formatted field.
struct FieldBounds {
  size_t number;  // ident, data, udata
  size_t filter;
  size_t flags;
  size_t fflags;
};
FieldBounds max_field_lengths();

}  // namespace kqfs::codec::fields
