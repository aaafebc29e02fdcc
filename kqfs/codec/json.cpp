// JSON records: one object per line with the keys ident, filter, flags,
// fflags, data, udata (docs/design.md#record-formats), written with cereal and
// read with the rapidjson document cereal is built on.
//
// Input: every value is a number or a string, and either way its text is
// read with the text syntax of its field, so "flags": "add|clear",
// "flags": 33 and "ident": "0x10" all work, an EVFILT_SIGNAL ident may be
// "SIGUSR1", and a 64-bit ident, data or udata may come as a string
// ("udata": "18446744073709551615"), which JavaScript writes exactly where
// its numbers would not be. flags and fflags may also be an array of names
// and numbers (["add", "clear"], ["EV_ADD", 32]), joined as the text
// syntax joins them with '|'. A change may say whose descriptor its ident
// is with "pid" (a number or a string). Numbers must be integers ("1.0"
// and "1e3" are rejected). Missing keys are 0; unknown or repeated keys,
// other value types, other JSON than one object, and anything after it
// are rejected. A blank line is skipped, as in text; JSON has no comments.
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <cereal/archives/json.hpp>

#include <array>
#include <exception>
#include <optional>
#include <sstream>

#include "kqfs/codec/codec.hpp"
#include "kqfs/codec/fields.hpp"
#include "kqfs/names.hpp"

namespace kqfs::codec {
namespace {

// By fields::Field.
constexpr std::array<std::string_view, fields::kFieldCount> kKeys = {"ident",  "filter", "flags",
                                                                     "fflags", "data",   "udata"};
// Beside them in a change: the process whose descriptor the ident is.
constexpr std::string_view kPidKey = "pid";

// The shape of a record without its values, for the size bound: it must
// match what format_json writes.
constexpr std::string_view kSkeleton =
    R"({"ident":,"filter":"","flags":"","fflags":"","data":,"udata":})";

using fields::rejected;

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r\v\f") == std::string_view::npos;
}

// Cereal's writer puts each member on its own line and a space after each
// colon; a record is one compact line, so drop the layout outside strings.
std::string compact(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  bool escaped = false;
  for (const char c : json) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      continue;
    } else if (c == '"') {
      in_string = true;
    }
    out += c;
  }
  return out;
}

// Numbers come as strings too (kParseNumbersAsStringsFlag), with their text
// as written, so that one parser per field reads both.
constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag |  // deep nesting costs heap, not stack
    rapidjson::kParseNumbersAsStringsFlag;

std::string describe_parse_error(const rapidjson::Document& document) {
  std::string what = rapidjson::GetParseError_En(document.GetParseError());
  if (!what.empty() && what.back() == '.') what.pop_back();
  return "malformed JSON at byte " + std::to_string(document.GetErrorOffset()) + ": " + what;
}

// A string's text (numbers are strings too: kParseNumbersAsStringsFlag).
std::string_view text_of(const rapidjson::Value& value) {
  return std::string_view(value.GetString(), value.GetStringLength());
}

// ["add", "clear", 32] as "add|clear|32"; an empty array is 0. False for
// an element that is no name or number.
bool join_mask(const rapidjson::Value& array, std::string& out) {
  if (array.Empty()) out = "0";
  for (const auto& element : array.GetArray()) {
    if (!element.IsString()) return false;
    if (&element != array.Begin()) out += '|';
    out += text_of(element);
  }
  return true;
}

Parsed parse_object(std::string_view line) {
  rapidjson::Document document;
  // A bare MemoryStream: Parse(data, size) would wrap it in a stream that
  // skips each byte of a UTF-8 BOM on its own, letting "\xbb{}" pass.
  rapidjson::MemoryStream stream(line.data(), line.size());
  document.ParseStream<kParseFlags>(stream);
  if (document.HasParseError()) return rejected(describe_parse_error(document));
  if (!document.IsObject()) return rejected("not a JSON object");

  fields::Tokens tokens;
  std::optional<std::string_view> pid;
  // Arrays of flags and fflags, joined into the text syntax.
  std::array<std::string, fields::kFieldCount> joined;
  for (const auto& member : document.GetObject()) {
    const std::string_view key(member.name.GetString(), member.name.GetStringLength());
    if (key == kPidKey) {
      if (pid) return rejected("repeated key " + fields::quote(key));
      if (!member.value.IsString()) return rejected("bad pid: not a number or a string");
      pid = text_of(member.value);
      continue;
    }
    size_t index = 0;
    while (index < fields::kFieldCount && kKeys[index] != key)
      ++index;
    if (index == fields::kFieldCount) return rejected("unknown key " + fields::quote(key));
    if (tokens[index]) return rejected("repeated key " + fields::quote(key));
    const bool mask = index == fields::kFlags || index == fields::kFflags;
    if (mask && member.value.IsArray()) {
      if (!join_mask(member.value, joined[index])) {
        return rejected("bad " + std::string(key) + ": an array of names and numbers only");
      }
      tokens[index] = joined[index];
    } else if (member.value.IsString()) {
      tokens[index] = text_of(member.value);
    } else {
      return rejected(
          "bad " + std::string(key) +
          (mask ? ": not a number, a string or an array of them" : ": not a number or a string"));
    }
  }

  return fields::parse_fields(tokens, pid);
}

}  // namespace

Parsed parse_json(std::string_view line) {
  if (is_blank(line)) return {};
  // Rapidjson takes a NUL for the end of the text and would ignore what
  // follows it; JSON has no raw NUL anywhere.
  const size_t nul = line.find('\0');
  if (nul != std::string_view::npos)
    return rejected("malformed JSON at byte " + std::to_string(nul) + ": NUL byte");
  // Rapidjson's assertions throw (cereal configures it so), and memory may
  // run out: a line must never take the daemon down.
  try {
    return parse_object(line);
  } catch (const std::exception& failure) {
    return rejected(std::string("malformed JSON: ") + failure.what());
  }
}

std::string format_json(const Kevent& event) {
  return format_json_change(event, 0);
}

std::string format_json_change(const Kevent& event, int32_t pid) {
  const std::string filter = fields::format_filter(event.filter);
  const std::string flags = names::format_flags(event.flags);
  const std::string fflags = fields::format_fflags(event.filter, event.flags, event.fflags);
  std::ostringstream stream;
  {
    // The archive closes the object when it goes out of scope.
    cereal::JSONOutputArchive archive(stream, cereal::JSONOutputArchive::Options::NoIndent());
    archive(cereal::make_nvp(kKeys[fields::kIdent].data(), event.ident));
    if (pid != 0) archive(cereal::make_nvp(kPidKey.data(), pid));
    archive(cereal::make_nvp(kKeys[fields::kFilter].data(), filter),
            cereal::make_nvp(kKeys[fields::kFlags].data(), flags),
            cereal::make_nvp(kKeys[fields::kFflags].data(), fflags),
            cereal::make_nvp(kKeys[fields::kData].data(), event.data),
            cereal::make_nvp(kKeys[fields::kUdata].data(), event.udata));
  }
  return compact(stream.str()) + '\n';
}

size_t max_json_size() {
  const fields::FieldBounds bounds = fields::max_field_lengths();
  // The names need no escaping: letters, digits, '_', '|' and '-'.
  return kSkeleton.size() + 3 * bounds.number + bounds.filter + bounds.flags + bounds.fflags + 1;
}
}  // namespace kqfs::codec
