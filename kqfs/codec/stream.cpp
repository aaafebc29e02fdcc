// The change and event streams of one open file (docs/design.md#writing-changes,
// docs/design.md#reading-events).
#include <string.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include "kqfs/codec/codec.hpp"
#include "kqfs/codec/formats.hpp"

namespace kqfs::codec {
namespace {

// No record needs a longer line, and a writer that never sends '\n' must
// not grow the daemon without bound: such a line is rejected (EINVAL).
constexpr size_t kMaxLineLength = 64 * 1024;

// A reason ends up on one `last-error:` line of `status` and in the log.
std::string one_line(std::string reason) {
  std::replace_if(
      reason.begin(), reason.end(),
      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }, ' ');
  return reason;
}

// Applies a parsed record: 0, or its errno with `reason` set.
int apply_record(const Kevent& record, int32_t pid, const ApplyRecord& apply, std::string& reason) {
  std::string why;
  const int error = apply(record, pid, why);
  if (error != 0) reason = describe_refusal(record, error, why, pid);
  return error;
}

// Parses and applies one record: a line (without its '\n') or a record of
// a fixed size. 0 (also for a blank or comment line), or the errno with
// `reason` set.
int parse_and_apply(const Codec& codec, std::string_view record, const ApplyRecord& apply,
                    std::string& reason) {
  if (record.size() > kMaxLineLength) {
    reason = "line longer than " + std::to_string(kMaxLineLength) + " bytes";
    return EINVAL;
  }
  const Parsed parsed = codec.parse(record);
  if (parsed.rejected()) {
    reason = one_line(parsed.error);
    return EINVAL;
  }
  if (!parsed.record) return 0;
  return apply_record(*parsed.record, parsed.pid, apply, reason);
}

WriteOutcome failure(size_t accepted, int error, std::string reason) {
  return WriteOutcome{accepted, error, std::move(reason)};
}

}  // namespace

// "Operation not supported (no signal tracing: ...): SIGUSR1 EVFILT_SIGNAL ..."
std::string describe_refusal(const Kevent& record, int error, const std::string& why, int32_t pid) {
  std::string text = format_text_change(record, pid);
  text.pop_back();  // its '\n'
  std::string description = describe_errno(error);
  if (!why.empty()) description += " (" + why + ")";
  return one_line(description + ": " + text);
}

std::string describe_errno(int error) {
  // strerrordesc_np, unlike strerror, shares no buffer between threads.
  const char* description = strerrordesc_np(error);
  return description != nullptr ? description : "error " + std::to_string(error);
}

WriteOutcome ChangeStream::write(std::string_view bytes, const ApplyRecord& apply) {
  std::string reason;
  const Codec& codec = codec_of(format_);
  if (!codec.framed_by_lines()) {
    const size_t record_size = codec.record_size;
    size_t offset = 0;
    // First complete the record an earlier write began.
    if (!unfinished_.empty()) {
      offset = std::min(record_size - unfinished_.size(), bytes.size());
      unfinished_.append(bytes.substr(0, offset));
      if (unfinished_.size() < record_size) return WriteOutcome{bytes.size(), 0, {}};
      const std::string record = std::exchange(unfinished_, {});
      if (const int error = parse_and_apply(codec, record, apply, reason)) {
        return failure(0, error, std::move(reason));
      }
    }
    for (; bytes.size() - offset >= record_size; offset += record_size) {
      if (const int error =
              parse_and_apply(codec, bytes.substr(offset, record_size), apply, reason)) {
        return failure(offset, error, std::move(reason));
      }
    }
    unfinished_.assign(bytes.substr(offset));
    return WriteOutcome{bytes.size(), 0, {}};
  }

  size_t line_start = 0;
  if (skipping_rest_) {
    const size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) return WriteOutcome{bytes.size(), 0, {}};
    skipping_rest_ = false;
    line_start = newline + 1;
  }
  // A line that began in an earlier write is the first of this one, so the
  // bytes accepted before a failing line are always those before line_start
  // -- unless they hold no record at all (blank lines, comments): then the
  // failing record is the first, and the write fails as a whole.
  // The rest of a refused line, skipped above, counts as taken.
  bool applied_any = line_start > 0;
  const ApplyRecord counting = [&](const Kevent& change, int32_t pid, std::string& why) {
    const int error = apply(change, pid, why);
    applied_any = applied_any || error == 0;
    return error;
  };
  for (size_t newline; (newline = bytes.find('\n', line_start)) != std::string_view::npos;
       line_start = newline + 1) {
    const std::string_view line = bytes.substr(line_start, newline - line_start);
    int error = 0;
    if (unfinished_.empty()) {
      error = parse_and_apply(codec, line, counting, reason);
    } else {
      const std::string joined = std::exchange(unfinished_, {}) + std::string(line);
      error = parse_and_apply(codec, joined, counting, reason);
    }
    if (error != 0) return failure(applied_any ? line_start : 0, error, std::move(reason));
  }
  const std::string_view tail = bytes.substr(line_start);
  if (unfinished_.size() + tail.size() > kMaxLineLength) {
    unfinished_.clear();
    // After a short write the writer sends the line again and is refused
    // then; refused now, the rest of it is skipped when it comes.
    skipping_rest_ = !applied_any;
    return failure(applied_any ? line_start : 0, EINVAL,
                   "line longer than " + std::to_string(kMaxLineLength) + " bytes");
  }
  unfinished_.append(tail);
  return WriteOutcome{bytes.size(), 0, {}};
}

WriteOutcome ChangeStream::finish(const ApplyRecord& apply) {
  WriteOutcome outcome;
  skipping_rest_ = false;
  if (unfinished_.empty()) return outcome;
  const std::string rest = std::exchange(unfinished_, {});
  const Codec& codec = codec_of(format_);
  if (!codec.framed_by_lines()) {
    outcome.error = EINVAL;
    outcome.reason = std::to_string(rest.size()) + (rest.size() == 1 ? " byte" : " bytes") +
                     " left over, not a " + std::to_string(codec.record_size) + "-byte record";
    return outcome;
  }
  outcome.error = parse_and_apply(codec, rest, apply, outcome.reason);
  return outcome;
}

size_t EventStream::wanted(size_t size) const {
  if (!leftover_.empty()) return 0;
  const Codec& codec = codec_of(format_);
  if (!codec.framed_by_lines()) return size / codec.record_size;
  if (codec.one_per_read) return 1;
  return std::max<size_t>(1, size / max_record_size(format_));
}

std::string EventStream::read(size_t size, std::span<const Kevent> events) {
  // Events go after what an earlier read left, so none is lost even when a
  // caller passes more than wanted(size).
  const Codec& codec = codec_of(format_);
  for (const Kevent& event : events) {
    leftover_ += codec.encode(event);
  }
  size_t length = std::min(size, leftover_.size());
  if (!codec.framed_by_lines()) {
    length -= length % codec.record_size;  // whole records only
  } else if (const size_t first_newline = leftover_.find('\n'); first_newline < length) {
    // The first line fits: text returns it alone, JSON every whole line
    // that fits. (When it does not fit, its first `size` bytes go now.)
    length = codec.one_per_read ? first_newline + 1 : leftover_.rfind('\n', length - 1) + 1;
  }
  if (length == leftover_.size()) return std::exchange(leftover_, {});
  std::string reply = leftover_.substr(0, length);
  leftover_.erase(0, length);
  return reply;
}

}  // namespace kqfs::codec
