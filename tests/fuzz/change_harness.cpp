#include "change_harness.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fuzz.hpp"
#include "kqfs/constants.h"
#include "kqfs/kqueue.hpp"
#include "kqfs/linux/resolver.hpp"
#include "kqfs/unique_fd.hpp"
#include "round_trip.hpp"

namespace kqfs::fuzz {

namespace {

using codec::Format;

// What a parser made of a line: the record, or the reason it gave.
std::string parse_outcome(const codec::Parsed& parsed) {
  return parsed.record ? describe(*parsed.record) : cat("\"", parsed.error, "\"");
}

// stream.cpp's bound on one text or JSON line (not part of its API).
constexpr size_t kMaxLineLength = 64 * 1024;
// A reason is one `last-error:` line of `status`: short and printable.
constexpr size_t kMaxReasonLength = 1024;
// The cut run's queue holds this many knotes at most, so ENOSPC happens.
constexpr size_t kFewKnotes = 16;
constexpr size_t kNone = std::numeric_limits<size_t>::max();

// ------------------------------------------------- what is applied, and why
//
// A record names descriptors, processes and signals of the process that
// wrote it: here the fuzzer itself. Applied as they come, random idents
// would watch whatever descriptors the fuzzer (or libFuzzer) has open and
// any process on the host, and an EVFILT_SIGNAL knote mounts tracefs and
// traces the host's signals: neither safe nor repeatable. So:
// - EVFILT_READ, WRITE, VNODE: the ident only picks one of a few
//   descriptors made here for the purpose (a pipe's two ends, a socket, a
//   memfd, an eventfd), a number past the descriptor limit (EBADF), or a
//   number past INT_MAX whose low 32 bits are our pipe (EBADF; truncated,
//   it would name the pipe);
// - EVFILT_PROC, EVFILT_SIGNAL: decoded and checked, never applied, and
//   taken as applied so that the records after them still are;
// - timers, user events, and filters the engine does not have: as they come.

struct Descriptors {
  UniqueFd pipe_read, pipe_write, socket, socket_peer, memfd, eventfd;
  std::vector<uint64_t> idents;
  // A descriptor knote must stay the same knote from one change to the
  // next (kcmp may be missing in a sandbox); if not, none is applied.
  bool usable = false;
};

const Descriptors& descriptors() {
  static const Descriptors made = [] {
    Descriptors d;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      d.pipe_read.reset(fds[0]);
      d.pipe_write.reset(fds[1]);
    }
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) == 0) {
      d.socket.reset(fds[0]);
      d.socket_peer.reset(fds[1]);
    }
    d.memfd.reset(::memfd_create("kqfs-fuzz", MFD_CLOEXEC));
    d.eventfd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!d.pipe_read || !d.pipe_write || !d.socket || !d.memfd || !d.eventfd) return d;

    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    const auto past_limit = std::min<uint64_t>(limit.rlim_cur, INT_MAX);
    const auto fd = [](const UniqueFd& owned) { return static_cast<uint64_t>(owned.get()); };
    d.idents = {fd(d.pipe_read),
                fd(d.pipe_write),
                fd(d.socket),
                fd(d.memfd),
                fd(d.eventfd),
                past_limit,
                (uint64_t{1} << 32) | fd(d.pipe_read)};

    Kqueue probe;
    const Kevent add{fd(d.pipe_read), EVFILT_READ, EV_ADD};
    const Kevent enable{fd(d.pipe_read), EVFILT_READ, EV_ENABLE};
    d.usable = probe.apply(add) == 0 && probe.apply(enable) == 0 && probe.knote_count() == 1;
    if (!d.usable) {
      std::fprintf(stderr,
                   "note: descriptor knotes do not work here (kcmp?): READ, WRITE and "
                   "VNODE records are checked but not applied\n");
    }
    return d;
  }();
  return made;
}

bool on_descriptor(int16_t filter) {
  return filter == EVFILT_READ || filter == EVFILT_WRITE || filter == EVFILT_VNODE;
}

bool applied_as_is(int16_t filter) {
  return filter != EVFILT_PROC && filter != EVFILT_SIGNAL && !on_descriptor(filter);
}

// The filters that can hold knotes here.
constexpr std::array<int16_t, 5> kLiveFilters = {EVFILT_READ, EVFILT_WRITE, EVFILT_VNODE,
                                                 EVFILT_TIMER, EVFILT_USER};

// Flags an event never carries: those that act on a change
// (docs/design.md#where-bsds-differ) and the system flags but EV_EOF.
constexpr uint16_t kNeverDelivered = EV_DELETE | EV_ENABLE | EV_DISABLE | EV_FORCEONESHOT |
                                     EV_KEEPUDATA | EV_DROP | EV_FLAG1 | EV_ERROR;

void check_reason(const std::string& reason, const std::string& context) {
  KQFS_FUZZ_CHECK(!reason.empty() && reason.size() <= kMaxReasonLength, "reason of ", reason.size(),
                  " bytes: ", quoted(reason), " for ", context);
  KQFS_FUZZ_CHECK(
      std::all_of(reason.begin(), reason.end(), [](char c) { return c >= 0x20 && c < 0x7f; }),
      "reason not printable: ", quoted(reason), " for ", context);
}

// ------------------------------------------------------------- the queue

// A Kqueue with a model of which knotes it holds, checked after every
// change and collection: a change that fails leaves the queue as it was.
class Sandbox {
 public:
  explicit Sandbox(size_t max_knotes) : kq_(Kqueue::Limits{max_knotes}), limit_(max_knotes) {}

  // An ApplyRecord.
  int apply(const Kevent& record, int32_t pid, std::string& why);
  void collect();

 private:
  using Key = std::pair<int16_t, uint64_t>;

  static size_t slot(int16_t filter) { return static_cast<size_t>(-filter) % 16; }
  void add(const Key& key) {
    knotes_.insert(key);
    ++per_filter_[slot(key.first)];
  }
  void remove(const Key& key) {
    knotes_.erase(key);
    --per_filter_[slot(key.first)];
  }
  void check_counts(const Kevent& after) const;

  Kqueue kq_;
  size_t limit_;
  Caller caller_ = std::make_shared<InProcessResolver>();
  std::set<Key> knotes_;                 // what the queue should hold
  std::array<size_t, 16> per_filter_{};  // of knotes_, by slot()
};

int Sandbox::apply(const Kevent& record, int32_t pid, std::string& why) {
  Kevent change = record;
  // Another process's descriptor is the daemon's to take: the in-process
  // engine knows only its own.
  if (pid != 0) return 0;
  if (on_descriptor(change.filter)) {
    const Descriptors& d = descriptors();
    if (!d.usable) return 0;
    change.ident = d.idents[change.ident % d.idents.size()];
  } else if (!applied_as_is(change.filter)) {
    return 0;
  }

  const Key key{change.filter, change.ident};
  const bool present = knotes_.contains(key);
  const auto flags = static_cast<uint16_t>(change.flags & ~EV_SYSFLAGS);
  const int error = kq_.apply(change, caller_, &why);
  const auto context = [&] {
    return cat(describe(change), present ? " on a knote" : " on no knote", " gave ", error, " (",
               why, ")");
  };

  if (error == 0) {
    KQFS_FUZZ_CHECK(why.empty(), context());
    KQFS_FUZZ_CHECK(present || (flags & EV_ADD), "a knote made without EV_ADD: ", context());
    if (!present) {
      add(key);
    } else if (flags & EV_DELETE) {
      remove(key);
    }
  } else {
    KQFS_FUZZ_CHECK(error > 0 && error < 4096, context());
    if (error == ENOENT) KQFS_FUZZ_CHECK(!present && !(flags & EV_ADD), context());
    if (error == ENOSPC) KQFS_FUZZ_CHECK(!present && knotes_.size() >= limit_, context());
  }
  if (std::find(kLiveFilters.begin(), kLiveFilters.end(), change.filter) == kLiveFilters.end()) {
    KQFS_FUZZ_CHECK(error == EINVAL || error == ENOTSUP, "a filter kqfs lacks: ", context());
  }
  check_counts(change);
  return error;
}

void Sandbox::collect() {
  std::array<Kevent, 16> events;
  const size_t count = kq_.collect(events);
  KQFS_FUZZ_CHECK(count <= events.size(), count);
  std::set<Key> seen;
  for (const Kevent& event : std::span(events).first(count)) {
    const Key key{event.filter, event.ident};
    KQFS_FUZZ_CHECK(knotes_.contains(key), "an event of no knote: ", describe(event));
    KQFS_FUZZ_CHECK(seen.insert(key).second, "a knote reported twice: ", describe(event));
    KQFS_FUZZ_CHECK((event.flags & EV_ADD) && !(event.flags & kNeverDelivered),
                    "delivered flags: ", describe(event));
    if (event.filter == EVFILT_USER) {
      KQFS_FUZZ_CHECK(!(event.fflags & ~NOTE_FFLAGSMASK), "user fflags: ", describe(event));
    }
    if (event.filter == EVFILT_TIMER) {
      // data 0 only for a timer EV_FORCEONESHOT delivered before it fired.
      KQFS_FUZZ_CHECK(event.fflags == 0 && (event.data >= 1 || (event.flags & EV_ONESHOT)),
                      "timer event: ", describe(event));
    }
    if (event.flags & EV_ONESHOT) remove(key);  // reported, then gone
  }
  check_counts(count > 0 ? events[count - 1] : Kevent{});
}

void Sandbox::check_counts(const Kevent& after) const {
  const auto context = [&] {
    std::string counts =
        cat(" after ", describe(after), ": queue ", kq_.knote_count(), ", model ", knotes_.size());
    for (const int16_t filter : kLiveFilters) {
      counts += cat("; filter ", filter, ": ", kq_.knote_count(filter), " vs ",
                    per_filter_[slot(filter)]);
    }
    return counts;
  };
  KQFS_FUZZ_CHECK(kq_.knote_count() == knotes_.size(), "knote count", context());
  for (const int16_t filter : kLiveFilters) {
    KQFS_FUZZ_CHECK(kq_.knote_count(filter) == per_filter_[slot(filter)], "knote count by filter",
                    context());
  }
  KQFS_FUZZ_CHECK(kq_.pending() <= kq_.knote_count(), "more pending than knotes", context());
}

// ------------------------------------------------------------ the stream

struct Applied {
  Kevent record;
  int32_t pid;
  int error;
};

struct StreamRun {
  std::vector<Applied> applied;    // every record the stream applied, in order
  std::vector<size_t> write_ends;  // offset in the bytes after each write made
  size_t failed_write = kNone;     // index of the write that failed
  codec::WriteOutcome failure;     // its outcome
  codec::WriteOutcome finish;      // of finish() at close
};

// Whether a stream keeps something after whole writes up to `received`
// (an unfinished line, or the start of a binary record), given what it
// kept before the last write, `chunk`.
bool keeps_something(Format format, bool kept, std::string_view chunk, size_t received) {
  if (format == Format::binary) return received % codec::kBinaryRecordSize != 0;
  const size_t newline = chunk.rfind('\n');
  return newline == std::string_view::npos ? kept || !chunk.empty() : newline + 1 < chunk.size();
}

StreamRun run_stream(Format format, std::string_view bytes, Sandbox& sandbox, bool cut) {
  StreamRun run;
  codec::ChangeStream stream(format);
  const codec::ApplyRecord apply = [&](const Kevent& record, int32_t pid, std::string& why) {
    const int error = sandbox.apply(record, pid, why);
    run.applied.push_back({record, pid, error});
    return error;
  };

  Splitter splitter(bytes);
  size_t offset = 0;
  bool kept = false;
  while (offset < bytes.size()) {
    const size_t size = cut ? std::min(splitter.next_size(), bytes.size() - offset) : bytes.size();
    const std::string_view chunk = bytes.substr(offset, size);
    codec::WriteOutcome outcome = stream.write(chunk, apply);
    offset += size;
    run.write_ends.push_back(offset);
    const auto context = [&] {
      return cat("write ", run.write_ends.size(), " of ", size, " bytes ending at ", offset,
                 ": accepted ", outcome.accepted, ", error ", outcome.error);
    };
    KQFS_FUZZ_CHECK(outcome.accepted <= size, context());
    if (outcome.error != 0) {
      check_reason(outcome.reason, context());
      run.failed_write = run.write_ends.size() - 1;
      run.failure = std::move(outcome);
      break;
    }
    KQFS_FUZZ_CHECK(outcome.accepted == size && outcome.reason.empty(), context());
    kept = keeps_something(format, kept, chunk, offset);
    KQFS_FUZZ_CHECK(stream.has_unfinished() == kept, "what the stream keeps, after ", context());
    if (cut) sandbox.collect();
  }

  const size_t applied_before_close = run.applied.size();
  run.finish = stream.finish(apply);
  const auto finish_context = [&] {
    return cat("finish: error ", run.finish.error, " ", quoted(run.finish.reason));
  };
  if (run.failed_write != kNone) {
    // A failed write drops what the stream kept: close applies nothing.
    KQFS_FUZZ_CHECK(run.finish.error == 0 && run.applied.size() == applied_before_close,
                    "after a failed write, ", finish_context());
  }
  if (run.finish.error != 0) {
    check_reason(run.finish.reason, finish_context());
  } else {
    KQFS_FUZZ_CHECK(run.finish.reason.empty(), finish_context());
  }
  KQFS_FUZZ_CHECK(!stream.has_unfinished(), finish_context());
  sandbox.collect();
  return run;
}

// ------------------------------------------------------- the reference

// Where the reference reading says the stream must stop.
struct Stop {
  size_t start;  // offset of the failing line or record
  size_t last;   // offset of the byte whose write must fail; kNone: at close
  int error;
  std::string reason;      // the exact reason when it is known, else empty
  std::string reason_end;  // what the reason must end with, else empty
};

void check_parsed(std::string_view line, const codec::Parsed& parsed) {
  KQFS_FUZZ_CHECK(!(parsed.rejected() && parsed.record.has_value()), "a record and a reason for ",
                  quoted(line));
  if (parsed.rejected()) check_reason(parsed.error, quoted(line));
}

// The records the stream must apply, in order, and where it must stop.
class Reference {
 public:
  Reference(const StreamRun& run, bool round_trips) : run_(run), round_trips_(round_trips) {}

  // A record the bytes hold: the stream must have applied it next. Returns
  // false once it failed.
  bool expect(const Kevent& record, int32_t pid, size_t start, size_t last) {
    if (round_trips_) check_round_trips(record, pid);
    KQFS_FUZZ_CHECK(next_ < run_.applied.size() && run_.applied[next_].record == record &&
                        run_.applied[next_].pid == pid,
                    "record ", next_, " at byte ", start, " should be ", describe(record), " pid ",
                    pid, ", applied ",
                    next_ < run_.applied.size() ? describe(run_.applied[next_].record) : "nothing");
    const int error = run_.applied[next_++].error;
    if (error == 0) {
      last_applied_ = last;
      return true;
    }
    // "Invalid argument: 1 EVFILT_TIMER ...": the reason names the record.
    std::string text = codec::format_text_change(record, pid);
    text.pop_back();
    stop_ = Stop{start, last, error, {}, cat(": ", text)};
    return false;
  }

  void stop(Stop stop) { stop_ = std::move(stop); }

  void check(std::string_view bytes) const {
    KQFS_FUZZ_CHECK(next_ == run_.applied.size(), run_.applied.size(), " records applied, ", next_,
                    " expected");
    if (!stop_) {
      KQFS_FUZZ_CHECK(run_.failed_write == kNone && run_.finish.error == 0,
                      "a failure where none was expected: write ", run_.failed_write, ", ",
                      quoted(run_.failure.reason), ", at close ", quoted(run_.finish.reason));
      return;
    }
    const Stop& stop = *stop_;
    const codec::WriteOutcome* failed = &run_.finish;
    if (stop.last == kNone) {
      KQFS_FUZZ_CHECK(run_.failed_write == kNone, "write ", run_.failed_write,
                      " failed; expected the failure at close: ", quoted(run_.failure.reason));
    } else {
      // The write holding the byte that completes the failing line or
      // record fails. It accepted what came before that line or record,
      // if that held a record it applied (codec.hpp): blank lines and
      // comments alone are not a short write.
      const auto ends = std::upper_bound(run_.write_ends.begin(), run_.write_ends.end(), stop.last);
      const auto write = static_cast<size_t>(ends - run_.write_ends.begin());
      const size_t write_start = write == 0 ? 0 : run_.write_ends[write - 1];
      const bool applied_here = last_applied_ != kNone && last_applied_ >= write_start;
      const size_t accepted =
          stop.start > write_start && applied_here ? stop.start - write_start : 0;
      KQFS_FUZZ_CHECK(run_.failed_write == write && run_.failure.accepted == accepted,
                      "failure in write ", run_.failed_write, " accepting ", run_.failure.accepted,
                      "; expected write ", write, " accepting ", accepted, " (bytes ", stop.start,
                      "..", stop.last, " of ", bytes.size(), ")");
      failed = &run_.failure;
    }
    KQFS_FUZZ_CHECK(failed->error == stop.error, "error ", failed->error, ", expected ", stop.error,
                    ": ", quoted(failed->reason));
    KQFS_FUZZ_CHECK(stop.reason.empty() || failed->reason == stop.reason, "reason ",
                    quoted(failed->reason), ", expected ", quoted(stop.reason));
    KQFS_FUZZ_CHECK(failed->reason.ends_with(stop.reason_end), "reason ", quoted(failed->reason),
                    " should end with ", quoted(stop.reason_end));
  }

 private:
  const StreamRun& run_;
  bool round_trips_;
  size_t next_ = 0;
  size_t last_applied_ = kNone;  // the last byte of the last record applied
  std::optional<Stop> stop_;
};

// Lines end at '\n'; the last may be unfinished (applied at close).
void check_lines(Format format, std::string_view bytes, const StreamRun& run, bool first_pass,
                 LineCheck check_line) {
  Reference reference(run, first_pass);
  size_t start = 0;
  while (start < bytes.size()) {
    const size_t newline = bytes.find('\n', start);
    const bool finished = newline != std::string_view::npos;
    const std::string_view line = bytes.substr(start, (finished ? newline : bytes.size()) - start);
    if (line.size() > kMaxLineLength) {
      // Refused once the stream holds more of it than a line may be.
      reference.stop(Stop{start, start + kMaxLineLength, EINVAL,
                          cat("line longer than ", kMaxLineLength, " bytes"), ""});
      break;
    }
    const size_t last = finished ? newline : kNone;
    const codec::Parsed parsed =
        format == Format::json ? codec::parse_json(line) : codec::parse_text(line);
    if (first_pass) {
      check_parsed(line, parsed);
      if (check_line != nullptr) check_line(line, parsed);
    }
    if (parsed.rejected()) {
      reference.stop(Stop{start, last, EINVAL, parsed.error, ""});
      break;
    }
    if (parsed.record && !reference.expect(*parsed.record, parsed.pid, start, last)) break;
    start = finished ? newline + 1 : bytes.size();
  }
  reference.check(bytes);
}

// 32-byte records; a shorter tail is an error at close.
void check_records(std::string_view bytes, const StreamRun& run, bool first_pass) {
  constexpr size_t kSize = codec::kBinaryRecordSize;
  Reference reference(run, first_pass);
  bool failed = false;
  size_t start = 0;
  for (; !failed && bytes.size() - start >= kSize; start += kSize) {
    Kevent record;
    std::memcpy(&record, bytes.data() + start, kSize);
    failed = !reference.expect(record, 0, start, start + kSize - 1);
  }
  if (!failed && start < bytes.size()) {
    reference.stop(
        Stop{start, kNone, EINVAL, {}, cat(" left over, not a ", kSize, "-byte record")});
  }
  reference.check(bytes);
}

void check_run(Format format, std::string_view bytes, const StreamRun& run, bool first_pass,
               LineCheck check_line) {
  if (format == Format::binary) {
    check_records(bytes, run, first_pass);
  } else {
    check_lines(format, bytes, run, first_pass, check_line);
  }
}

}  // namespace

void check_parses_alike(std::string_view line, const codec::Parsed& parsed, std::string_view other,
                        const codec::Parsed& reparsed, bool same_reason) {
  const bool same_verdict =
      same_reason ? reparsed.error == parsed.error : reparsed.rejected() == parsed.rejected();
  KQFS_FUZZ_CHECK(reparsed.record == parsed.record && reparsed.pid == parsed.pid && same_verdict,
                  quoted(line), " gives ", parse_outcome(parsed), " but ", quoted(other), " gives ",
                  parse_outcome(reparsed));
}

void check_changes(Format format, std::string_view bytes, LineCheck check_line) {
  // In one write, without a knote limit, collected once at the end.
  {
    Sandbox sandbox(std::numeric_limits<size_t>::max());
    const StreamRun run = run_stream(format, bytes, sandbox, false);
    check_run(format, bytes, run, true, check_line);
  }
  // Cut into many writes, with a small limit, collected after each write.
  {
    Sandbox sandbox(kFewKnotes);
    const StreamRun run = run_stream(format, bytes, sandbox, true);
    check_run(format, bytes, run, false, check_line);
  }
}

}  // namespace kqfs::fuzz
