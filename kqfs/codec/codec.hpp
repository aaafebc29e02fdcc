// The record formats of the mounted files (docs/design.md#record-formats):
// text lines, JSON lines, and 32-byte binary records; each codec's parse
// and encode, and the change and event streams of an open file. The table
// of the formats, which the streams, the daemon's tree and kqctl go
// through, is formats.hpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "kqfs/kevent.hpp"

namespace kqfs::codec {

// One value per row of kCodecs (formats.hpp), in its order.
enum class Format : uint8_t { text, json, binary };

inline constexpr size_t kBinaryRecordSize = sizeof(Kevent);

// One line of a change stream: a record, nothing (a blank line or a
// comment), or the reason it is not a record.
struct Parsed {
  std::optional<Kevent> record;
  std::string error;  // empty unless rejected
  // The process whose descriptor the ident is, when the record names one
  // (text `FD@PID`, JSON "pid"); 0: the writer's own. Binary records have
  // no room for it.
  int32_t pid = 0;

  bool rejected() const { return !error.empty(); }
};

// `line` excludes its '\n'.
Parsed parse_text(std::string_view line);
Parsed parse_json(std::string_view line);

// `record` is kBinaryRecordSize bytes; any other size is rejected.
Parsed parse_binary(std::string_view record);

// One record, ending in '\n'.
std::string format_text(const Kevent& event);
std::string format_json(const Kevent& event);
// A change record with the process whose descriptor its ident is (`pid`
// above 0; 0 writes it as format_text and format_json do): `FD@PID` in
// text, a "pid" key after "ident" in JSON. Events never carry one.
std::string format_text_change(const Kevent& change, int32_t pid);
std::string format_json_change(const Kevent& change, int32_t pid);
// One record: kBinaryRecordSize bytes.
std::string format_binary(const Kevent& event);

void encode_binary(const Kevent& event, std::span<char, kBinaryRecordSize> out);
Kevent decode_binary(std::span<const char, kBinaryRecordSize> in);

// Upper bounds on the length of one record as each format_* writes it.
size_t max_text_size();
size_t max_json_size();
size_t max_binary_size();

// An upper bound on the length of one formatted record (with its '\n').
size_t max_record_size(Format format);

// "No such file or directory" for ENOENT: an errno as failures are worded.
std::string describe_errno(int error);

// A refused record in words: the errno's text, `why` in parentheses (if
// any), and the record as text (with its `@PID`, if any), on one line.
std::string describe_refusal(const Kevent& record, int error, const std::string& why,
                             int32_t pid = 0);

// Applies one record, whose ident is a descriptor of process `pid` when
// that is not 0 (Parsed::pid); returns 0 or an errno, and may set `reason`
// to say more than the errno does. The failure is described as the errno's
// text, that reason in parentheses, and the record.
using ApplyRecord = std::function<int(const Kevent& record, int32_t pid, std::string& reason)>;

struct WriteOutcome {
  size_t accepted = 0;  // bytes of this write before the record that failed
  int error = 0;        // errno of the record that failed, or 0
  std::string reason;   // the failed record, and why, in words
};

// The change side of one open file: splits writes into records, joins lines
// (or binary records) split across writes, and applies them in order,
// stopping at the first that fails.
class ChangeStream {
 public:
  explicit ChangeStream(Format format) : format_(format) {}

  // All applied: accepted == bytes.size(), and an unfinished last line or
  // record is kept for the next write. A failure: accepted counts the
  // bytes of this write before the failing record (0 when it began in an
  // earlier write, or when only blank lines and comments came before it),
  // and what was kept is dropped.
  WriteOutcome write(std::string_view bytes, const ApplyRecord& apply);

  // At close: applies an unfinished text or JSON line (binary leftovers
  // are shorter than a record: EINVAL).
  WriteOutcome finish(const ApplyRecord& apply);

  bool has_unfinished() const { return !unfinished_.empty(); }
  // Bytes kept for the next write: the start of a line or a record.
  size_t unfinished_size() const { return unfinished_.size(); }
  // Gives up the last `count` kept bytes (a writer over its buffer limit).
  void drop_unfinished_tail(size_t count) {
    unfinished_.resize(unfinished_.size() - std::min(count, unfinished_.size()));
    unfinished_.shrink_to_fit();  // what was refused is not kept in capacity either
  }
  std::string_view unfinished() const { return unfinished_; }
  // Forgets an unfinished line or record without applying it.
  void discard() { unfinished_.clear(); }

 private:
  Format format_;
  std::string unfinished_;
  // An over-long line was refused: the rest of it, up to its newline, is
  // skipped in later writes rather than read as new records.
  bool skipping_rest_ = false;
};

// The event side of one open file: how many events a read may take, and
// the bytes it returns. Text gives one record per read; JSON and binary as
// many whole records as fit; a text or JSON record longer than the read is
// returned in parts over the next reads.
class EventStream {
 public:
  explicit EventStream(Format format) : format_(format) {}

  // Events a read of `size` bytes may collect now: 0 while an earlier
  // record is still being returned, or when `size` is below one binary record.
  size_t wanted(size_t size) const;

  // The reply to a read of `size` bytes given the events collected for it
  // (at most wanted(size)), or the leftover of an earlier record.
  std::string read(size_t size, std::span<const Kevent> events);

  bool has_leftover() const { return !leftover_.empty(); }
  // Bytes a reader was given and seeked back over: returned first again.
  void unread(std::string_view bytes) { leftover_.insert(0, bytes); }

 private:
  Format format_;
  std::string leftover_;
};

}  // namespace kqfs::codec
