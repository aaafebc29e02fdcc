// The record codecs (docs/design.md#record-formats) and the change and event
// streams of an open file ("Writing changes", "Reading events").
#include <signal.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kqfs/codec/codec.hpp"
#include "kqfs/codec/formats.hpp"
#include "kqfs/constants.h"
#include "kqfs/kevent.hpp"

namespace kqfs::codec {
namespace {

using namespace std::string_literals;

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
constexpr int64_t kMinI64 = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();

Kevent record(uint64_t ident, int16_t filter, uint16_t flags = 0, uint32_t fflags = 0,
              int64_t data = 0, uint64_t udata = 0) {
  return Kevent{ident, filter, flags, fflags, data, udata};
}

using Parser = Parsed (*)(std::string_view);

// The record a line parses to; fails the test when it is rejected or empty.
Kevent parsed_record(Parser parse, std::string_view line) {
  const Parsed parsed = parse(line);
  EXPECT_EQ(parsed.error, "") << "line: " << line;
  EXPECT_TRUE(parsed.record.has_value()) << "line: " << line;
  return parsed.record.value_or(Kevent{});
}

Kevent text_record(std::string_view line) {
  return parsed_record(parse_text, line);
}

Kevent json_record(std::string_view line) {
  return parsed_record(parse_json, line);
}

// The reason a line is rejected; fails the test when it is not.
std::string parse_error(Parser parse, std::string_view line) {
  const Parsed parsed = parse(line);
  EXPECT_TRUE(parsed.rejected()) << "line: " << line;
  EXPECT_FALSE(parsed.record.has_value()) << "line: " << line;
  return parsed.error;
}

std::string text_error(std::string_view line) {
  return parse_error(parse_text, line);
}

std::string json_error(std::string_view line) {
  return parse_error(parse_json, line);
}

bool skipped_as_text(std::string_view line) {
  const Parsed parsed = parse_text(line);
  return !parsed.rejected() && !parsed.record.has_value();
}

std::string without_newline(std::string formatted) {
  EXPECT_EQ(formatted.back(), '\n');
  formatted.pop_back();
  return formatted;
}

std::string binary(const Kevent& event) {
  std::string bytes(kBinaryRecordSize, '\0');
  encode_binary(event, std::span<char, kBinaryRecordSize>(bytes.data(), kBinaryRecordSize));
  return bytes;
}

Kevent from_binary(std::string_view bytes) {
  return decode_binary(std::span<const char, kBinaryRecordSize>(bytes.data(), kBinaryRecordSize));
}

// Records that exercise every part of the output syntax.
std::vector<Kevent> sample_records() {
  return {
      record(1, EVFILT_TIMER, EV_ADD | EV_CLEAR, 0, 1, 7),
      record(0, 0),
      record(3, EVFILT_READ, EV_ADD | EV_EOF, ECONNRESET, 0, 0),
      record(4, EVFILT_WRITE, EV_ADD | EV_EOF, EPIPE, 512, 9),
      record(5, EVFILT_USER, EV_ADD, NOTE_TRIGGER | NOTE_FFCOPY | 0x123456, 0, 1),
      record(6, EVFILT_USER, 0, NOTE_FFAND | 0xffffff),
      record(7, EVFILT_VNODE, EV_ADD | EV_ONESHOT, NOTE_DELETE | NOTE_CLOSE_WRITE | NOTE_READ),
      record(8, EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_TRACK | 0x00000100, -42),
      record(9, EVFILT_TIMER, EV_ADD, NOTE_SECONDS | NOTE_ABSTIME, kMaxI64),
      record(10, EVFILT_SIGNAL, EV_ADD | EV_CLEAR, 0, 3),
      record(11, EVFILT_TIMER, EV_ADD | 0x0c00, 0x00f00000),
      record(12, 42, 0xffff, 0xffffffff),
      record(13, -99, EV_ERROR, 0, ENOENT),
      record(kMaxU64, EVFILT_USER, 0xffff, 0xffffffff, kMinI64, kMaxU64),
      record(kMaxU64, std::numeric_limits<int16_t>::min(), 0xffff, 0xffffffff, kMinI64, kMaxU64),
  };
}

// --------------------------------------------------------------- text input

TEST(TextParse, AllSixFieldsWithLongNames) {
  EXPECT_EQ(text_record("1 EVFILT_TIMER EV_ADD|EV_ONESHOT NOTE_SECONDS 500 7"),
            record(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_SECONDS, 500, 7));
}

TEST(TextParse, ShortNamesInAnyCase) {
  EXPECT_EQ(text_record("1 Timer ADD|oneShot Seconds 5 0"),
            record(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_SECONDS, 5));
  EXPECT_EQ(text_record("2 evfilt_user ev_add|CLEAR note_TRIGGER"),
            record(2, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER));
}

TEST(TextParse, FilterAsNumber) {
  EXPECT_EQ(text_record("1 -7 add").filter, EVFILT_TIMER);
  EXPECT_EQ(text_record("1 -0x0b").filter, EVFILT_USER);
  EXPECT_EQ(text_record("1 0").filter, 0);
  EXPECT_EQ(text_record("1 32767").filter, 32767);
  EXPECT_EQ(text_record("1 -32768").filter, -32768);
}

TEST(TextParse, NumbersInDecimalAndHex) {
  EXPECT_EQ(text_record("0x10 user 0x21 0xFF 0x20 0xdeadBEEF"),
            record(16, EVFILT_USER, 0x21, 0xff, 32, 0xdeadbeef));
  EXPECT_EQ(text_record("010 user 0 0 010 010"), record(10, EVFILT_USER, 0, 0, 10, 10))
      << "a leading zero is still decimal";
}

TEST(TextParse, NegativeData) {
  EXPECT_EQ(text_record("1 timer add 0 -5").data, -5);
  EXPECT_EQ(text_record("1 timer add 0 -0x10").data, -16);
  EXPECT_EQ(text_record("1 timer add 0 -9223372036854775808").data, kMinI64);
  EXPECT_EQ(text_record("1 timer add 0 9223372036854775807").data, kMaxI64);
}

TEST(TextParse, LargestValueOfEachField) {
  EXPECT_EQ(text_record("18446744073709551615 user 65535 4294967295 0 0xffffffffffffffff"),
            record(kMaxU64, EVFILT_USER, 0xffff, 0xffffffff, 0, kMaxU64));
}

TEST(TextParse, OmittedTrailingFieldsAreZero) {
  EXPECT_EQ(text_record("5"), record(5, 0));
  EXPECT_EQ(text_record("5 user"), record(5, EVFILT_USER));
  EXPECT_EQ(text_record("5 user add"), record(5, EVFILT_USER, EV_ADD));
  EXPECT_EQ(text_record("5 user add trigger"), record(5, EVFILT_USER, EV_ADD, NOTE_TRIGGER));
  EXPECT_EQ(text_record("5 user add 0 -3"), record(5, EVFILT_USER, EV_ADD, 0, -3));
}

TEST(TextParse, FlagsMixNamesAndNumbers) {
  EXPECT_EQ(text_record("1 timer add|0x20|16").flags, EV_ADD | EV_CLEAR | EV_ONESHOT);
  EXPECT_EQ(text_record("1 timer 0").flags, 0);
  EXPECT_EQ(text_record("1 timer add|add").flags, EV_ADD);
}

TEST(TextParse, FflagsAreLookedUpForTheRecordsFilter) {
  EXPECT_EQ(text_record("1 vnode add delete|NOTE_WRITE|close_write").fflags,
            NOTE_DELETE | NOTE_WRITE | NOTE_CLOSE_WRITE);
  EXPECT_EQ(text_record("1 user 0 trigger|ffor|0x5").fflags, NOTE_TRIGGER | NOTE_FFOR | 0x5);
  EXPECT_EQ(text_record("1 proc add exit|fork|track").fflags, NOTE_EXIT | NOTE_FORK | NOTE_TRACK);
  EXPECT_EQ(text_record("1 read add lowat 10").fflags, NOTE_LOWAT);
  EXPECT_EQ(text_record("1 timer add useconds|abstime").fflags, NOTE_USECONDS | NOTE_ABSTIME);
}

TEST(TextParse, AbsoluteIsAnotherNameForAbstime) {
  EXPECT_EQ(text_record("1 timer add NOTE_ABSOLUTE").fflags, NOTE_ABSTIME);
}

TEST(TextParse, FflagsNumbersForAnyFilter) {
  EXPECT_EQ(text_record("1 signal add 0x7").fflags, 7u);
  EXPECT_EQ(text_record("1 99 add 12").fflags, 12u);
}

TEST(TextParse, BlankLinesAreSkipped) {
  EXPECT_TRUE(skipped_as_text(""));
  EXPECT_TRUE(skipped_as_text("    "));
  EXPECT_TRUE(skipped_as_text(" \t\r"));
}

TEST(TextParse, CommentLinesAreSkipped) {
  EXPECT_TRUE(skipped_as_text("# a comment"));
  EXPECT_TRUE(skipped_as_text("#1 timer add"));
  EXPECT_TRUE(skipped_as_text("   \t# indented, with too many fields: 1 2 3 4 5 6 7"));
}

TEST(TextParse, AnyWhitespaceSeparatesFields) {
  EXPECT_EQ(text_record("  1\t timer \t add  0 5\t7  "), record(1, EVFILT_TIMER, EV_ADD, 0, 5, 7));
}

TEST(TextParse, TrailingCarriageReturnIsTolerated) {
  EXPECT_EQ(text_record("1 timer add 0 5 7\r"), record(1, EVFILT_TIMER, EV_ADD, 0, 5, 7));
  EXPECT_EQ(text_record("1 timer\r"), record(1, EVFILT_TIMER));
}

TEST(TextParse, SignalNamesAsIdentForSignalFilter) {
  EXPECT_EQ(text_record("SIGUSR1 signal add"), record(SIGUSR1, EVFILT_SIGNAL, EV_ADD));
  EXPECT_EQ(text_record("USR2 EVFILT_SIGNAL add"), record(SIGUSR2, EVFILT_SIGNAL, EV_ADD));
  EXPECT_EQ(text_record("sigterm signal").ident, static_cast<uint64_t>(SIGTERM));
  EXPECT_EQ(text_record("Hup signal").ident, static_cast<uint64_t>(SIGHUP));
  EXPECT_EQ(text_record("15 signal").ident, 15u) << "numbers still work";
}

TEST(TextParse, RealtimeSignalNames) {
  EXPECT_EQ(text_record("SIGRTMIN signal").ident, static_cast<uint64_t>(SIGRTMIN));
  EXPECT_EQ(text_record("rtmin+2 signal").ident, static_cast<uint64_t>(SIGRTMIN + 2));
  EXPECT_EQ(text_record("SIGRTMAX signal").ident, static_cast<uint64_t>(SIGRTMAX));
  EXPECT_EQ(text_record("SIGRTMAX-1 signal").ident, static_cast<uint64_t>(SIGRTMAX - 1));
}

// ---------------------------------------------------------- text rejections

TEST(TextReject, UnknownFilter) {
  EXPECT_EQ(text_error("1 EVFILT_RAED add"), "unknown filter 'EVFILT_RAED'");
}

TEST(TextReject, FilterOutOfRange) {
  EXPECT_EQ(text_error("1 40000 add"), "bad filter '40000'");
  EXPECT_EQ(text_error("1 -32769"), "bad filter '-32769'");
  EXPECT_EQ(text_error("1 -7x"), "bad filter '-7x'");
}

TEST(TextReject, UnknownFlag) {
  EXPECT_EQ(text_error("1 timer ad"), "unknown flag 'ad'");
  EXPECT_EQ(text_error("1 timer add|clera"), "unknown flag 'clera'");
  EXPECT_EQ(text_error("1 timer seconds"), "unknown flag 'seconds'") << "an fflag is no flag";
}

TEST(TextReject, FlagNumberOutOfRange) {
  EXPECT_EQ(text_error("1 timer 0x10000"), "bad flag '0x10000'");
  EXPECT_EQ(text_error("1 timer add|65536"), "bad flag '65536'");
  EXPECT_EQ(text_error("1 timer -1"), "bad flag '-1'");
}

TEST(TextReject, EmptyNameInAMask) {
  EXPECT_EQ(text_error("1 timer add||clear"), "empty name in flags 'add||clear'");
  EXPECT_EQ(text_error("1 timer add|"), "empty name in flags 'add|'");
  EXPECT_EQ(text_error("1 timer add |seconds"), "empty name in fflags '|seconds'");
}

TEST(TextReject, UnknownFflagNamesTheFilter) {
  EXPECT_EQ(text_error("1 timer add secnds"), "unknown fflag 'secnds' for EVFILT_TIMER");
  EXPECT_EQ(text_error("1 timer add delete"), "unknown fflag 'delete' for EVFILT_TIMER")
      << "NOTE_DELETE belongs to EVFILT_VNODE";
  EXPECT_EQ(text_error("1 signal add exit"), "unknown fflag 'exit' for EVFILT_SIGNAL");
  EXPECT_EQ(text_error("1 99 add lowat"), "unknown fflag 'lowat' for 99");
}

TEST(TextReject, FflagNumberOutOfRange) {
  EXPECT_EQ(text_error("1 timer add 0x100000000"), "bad fflag '0x100000000' for EVFILT_TIMER");
}

TEST(TextReject, BadIdent) {
  EXPECT_EQ(text_error("x1 timer"), "bad ident 'x1'");
  EXPECT_EQ(text_error("-1 timer"), "bad ident '-1'");
  EXPECT_EQ(text_error("18446744073709551616 timer"), "bad ident '18446744073709551616'");
  EXPECT_EQ(text_error("SIGUSR1 timer"), "bad ident 'SIGUSR1'")
      << "signal names only for EVFILT_SIGNAL";
}

TEST(TextReject, BadData) {
  EXPECT_EQ(text_error("1 timer add 0 x1"), "bad data 'x1'");
  EXPECT_EQ(text_error("1 timer add 0 9223372036854775808"), "bad data '9223372036854775808'");
  EXPECT_EQ(text_error("1 timer add 0 -9223372036854775809"), "bad data '-9223372036854775809'");
  EXPECT_EQ(text_error("1 timer add 0 1.5"), "bad data '1.5'");
  EXPECT_EQ(text_error("1 timer add 0 +5"), "bad data '+5'");
  EXPECT_EQ(text_error("1 timer add 0 --5"), "bad data '--5'");
  EXPECT_EQ(text_error("1 timer add 0 0x"), "bad data '0x'");
  EXPECT_EQ(text_error("1 timer add 0 12abc"), "bad data '12abc'");
}

TEST(TextReject, BadUdata) {
  EXPECT_EQ(text_error("1 timer add 0 0 -1"), "bad udata '-1'");
  EXPECT_EQ(text_error("1 timer add 0 0 0x1ffffffffffffffff"), "bad udata '0x1ffffffffffffffff'");
}

TEST(TextReject, UnknownSignalName) {
  EXPECT_EQ(text_error("SIGFOO signal add"), "unknown signal 'SIGFOO'");
  EXPECT_EQ(text_error("SIG signal add"), "unknown signal 'SIG'");
  EXPECT_EQ(text_error("SIGRTMIN+99 signal"), "unknown signal 'SIGRTMIN+99'");
  EXPECT_EQ(text_error("SIGRTMIN-1 signal"), "unknown signal 'SIGRTMIN-1'");
  EXPECT_EQ(text_error("SIGRTMAX+1 signal"), "unknown signal 'SIGRTMAX+1'");
  const std::string past_rtmax = "SIGRTMIN+" + std::to_string(SIGRTMAX - SIGRTMIN + 1);
  EXPECT_EQ(text_error(past_rtmax + " signal"), "unknown signal '" + past_rtmax + "'");
}

TEST(TextReject, TooManyFields) {
  EXPECT_EQ(text_error("1 timer add 0 0 0 9"), "too many fields (7, at most 6)");
  EXPECT_EQ(text_error("1 timer add 0 5 7 # trailing comment"), "too many fields (9, at most 6)");
}

TEST(TextReject, ReasonQuotesUnprintableBytes) {
  EXPECT_EQ(text_error("1 \x01tim\x7f\xff"), "unknown filter '\\x01tim\\x7f\\xff'");
  EXPECT_EQ(text_error("1 timer \0add"s), "unknown flag '\\x00add'");
}

TEST(TextReject, ReasonCutsALongToken) {
  const std::string token(500, 'z');
  EXPECT_EQ(text_error("1 " + token), "unknown filter '" + std::string(64, 'z') + "...'");
}

// -------------------------------------------------------------- text output

TEST(TextFormat, TimerEventWritesAllSixFieldsWithNames) {
  EXPECT_EQ(format_text(record(1, EVFILT_TIMER, EV_ADD | EV_CLEAR, 0, 1, 7)),
            "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7\n");
}

TEST(TextFormat, EmptyMasksAreZero) {
  EXPECT_EQ(format_text(record(5, EVFILT_USER)), "5 EVFILT_USER 0 0 0 0\n");
}

TEST(TextFormat, NumbersAreDecimal) {
  EXPECT_EQ(format_text(record(kMaxU64, EVFILT_TIMER, 0, 0, kMinI64, kMaxU64)),
            "18446744073709551615 EVFILT_TIMER 0 0 -9223372036854775808 18446744073709551615\n");
}

TEST(TextFormat, FilterWithoutANameIsANumber) {
  EXPECT_EQ(format_text(record(1, 42)), "1 42 0 0 0 0\n");
  EXPECT_EQ(format_text(record(1, -99)), "1 -99 0 0 0 0\n");
}

TEST(TextFormat, FflagsByNameForTheFilter) {
  EXPECT_EQ(format_text(record(2, EVFILT_VNODE, EV_ADD, NOTE_DELETE | NOTE_RENAME)),
            "2 EVFILT_VNODE EV_ADD NOTE_DELETE|NOTE_RENAME 0 0\n");
  EXPECT_EQ(format_text(record(2, EVFILT_TIMER, EV_ADD, NOTE_SECONDS)),
            "2 EVFILT_TIMER EV_ADD NOTE_SECONDS 0 0\n");
}

TEST(TextFormat, ReadWriteFflagsAreAnErrno) {
  EXPECT_EQ(format_text(record(3, EVFILT_READ, EV_ADD | EV_EOF, ECONNRESET)),
            "3 EVFILT_READ EV_ADD|EV_EOF " + std::to_string(ECONNRESET) + " 0 0\n");
  EXPECT_EQ(format_text(record(4, EVFILT_WRITE, EV_ADD | EV_EOF, EPIPE, 10)),
            "4 EVFILT_WRITE EV_ADD|EV_EOF " + std::to_string(EPIPE) + " 10 0\n");
}

TEST(TextFormat, UserFflagsNameTheControlAndKeepTheLowBits) {
  EXPECT_EQ(format_text(record(1, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFCOPY | 0x5)),
            "1 EVFILT_USER 0 NOTE_FFCOPY|NOTE_TRIGGER|0x5 0 0\n");
}

TEST(TextFormat, UnnamedBitsAreHex) {
  EXPECT_EQ(format_text(record(1, EVFILT_TIMER, EV_ADD | 0x0c00, 0x00f00000)),
            "1 EVFILT_TIMER EV_ADD|0xc00 0xf00000 0 0\n");
}

TEST(TextFormat, ErrorEntryShowsEvError) {
  EXPECT_EQ(format_text(record(1, EVFILT_USER, EV_ADD | EV_ERROR, 0, ENOENT)),
            "1 EVFILT_USER EV_ADD|EV_ERROR 0 " + std::to_string(ENOENT) + " 0\n");
}

// FD@PID: a descriptor of another process (docs/design.md#record-formats).
TEST(TextParse, IdentOfAnotherProcessesDescriptor) {
  const Parsed parsed = parse_text("4@1234 read add");
  EXPECT_EQ(parsed.record, record(4, EVFILT_READ, EV_ADD));
  EXPECT_EQ(parsed.pid, 1234);
  EXPECT_EQ(parse_text("4@0x10 vnode add|clear write").pid, 16);
  EXPECT_EQ(parse_text("4 read add").pid, 0) << "no @: the writer's own";
}

TEST(TextReject, BadPid) {
  const std::string rule = " (a process id is a number above 0)";
  EXPECT_EQ(text_error("4@0 read add"), "bad pid '0'" + rule);
  EXPECT_EQ(text_error("4@-5 read add"), "bad pid '-5'" + rule);
  EXPECT_EQ(text_error("4@ read add"), "bad pid ''" + rule);
  EXPECT_EQ(text_error("4@12x read add"), "bad pid '12x'" + rule);
  EXPECT_EQ(text_error("4@2147483648 read add"), "bad pid '2147483648'" + rule);
  EXPECT_EQ(text_error("4@1@2 read add"), "bad pid '1@2'" + rule);
  EXPECT_EQ(text_error("@12 read add"), "bad ident ''");
}

TEST(TextFormat, ChangeWithAPidWritesFdAtPid) {
  EXPECT_EQ(format_text_change(record(4, EVFILT_READ, EV_ADD), 1234),
            "4@1234 EVFILT_READ EV_ADD 0 0 0\n");
  EXPECT_EQ(format_text_change(record(4, EVFILT_READ, EV_ADD), 0), "4 EVFILT_READ EV_ADD 0 0 0\n");
}

// fflags are named as flags are, wherever names exist: READ/WRITE's are a
// number only where they hold an errno, with EV_EOF.
TEST(TextFormat, ReadWriteFflagsAreNamesWithoutEof) {
  EXPECT_EQ(format_text(record(3, EVFILT_READ, EV_ADD, NOTE_LOWAT, 10)),
            "3 EVFILT_READ EV_ADD NOTE_LOWAT 10 0\n");
  EXPECT_EQ(format_text(record(3, EVFILT_READ, EV_ADD | EV_ERROR, NOTE_FILE_POLL | 0x8, EBADF)),
            "3 EVFILT_READ EV_ADD|EV_ERROR NOTE_FILE_POLL|0x8 " + std::to_string(EBADF) + " 0\n");
  EXPECT_EQ(format_text(record(5, EVFILT_WRITE, EV_ADD, NOTE_LOWAT)),
            "5 EVFILT_WRITE EV_ADD NOTE_LOWAT 0 0\n");
}

TEST(TextRoundTrip, SignalRecordParsesBack) {
  const Kevent original = text_record("SIGUSR1 signal add|clear 0 4 2");
  EXPECT_EQ(text_record(without_newline(format_text(original))), original);
}

// --------------------------------------------------------------------- JSON

TEST(JsonFormat, OneCompactLineInKeyOrder) {
  EXPECT_EQ(format_json(record(1, EVFILT_TIMER, EV_ADD | EV_CLEAR, 0, 1, 7)),
            R"({"ident":1,"filter":"EVFILT_TIMER","flags":"EV_ADD|EV_CLEAR","fflags":"0",)"
            R"("data":1,"udata":7})"
            "\n");
}

TEST(JsonFormat, NumbersAreFullRange) {
  EXPECT_EQ(format_json(record(kMaxU64, EVFILT_USER, 0, NOTE_TRIGGER, kMinI64, kMaxU64)),
            R"({"ident":18446744073709551615,"filter":"EVFILT_USER","flags":"0",)"
            R"("fflags":"NOTE_TRIGGER","data":-9223372036854775808,)"
            R"("udata":18446744073709551615})"
            "\n");
}

TEST(JsonFormat, ReadWriteFflagsAreADecimalString) {
  EXPECT_EQ(format_json(record(3, EVFILT_READ, EV_ADD | EV_EOF, ECONNRESET)),
            R"({"ident":3,"filter":"EVFILT_READ","flags":"EV_ADD|EV_EOF","fflags":")" +
                std::to_string(ECONNRESET) + R"(","data":0,"udata":0})" + "\n");
}

TEST(JsonFormat, FilterWithoutANameIsADecimalString) {
  EXPECT_EQ(format_json(record(1, 42)),
            R"({"ident":1,"filter":"42","flags":"0","fflags":"0","data":0,"udata":0})"
            "\n");
}

TEST(JsonParse, StringsInTheTextSyntax) {
  EXPECT_EQ(json_record(R"({"ident":1,"filter":"timer","flags":"add|ONESHOT",)"
                        R"("fflags":"NOTE_SECONDS","data":500,"udata":7})"),
            record(1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_SECONDS, 500, 7));
}

TEST(JsonParse, MissingKeysAreZero) {
  EXPECT_EQ(json_record("{}"), Kevent{});
  EXPECT_EQ(json_record(R"({"ident":4,"filter":"user"})"), record(4, EVFILT_USER));
  EXPECT_EQ(json_record(R"({"udata":9})"), record(0, 0, 0, 0, 0, 9));
}

TEST(JsonParse, NumbersForFilterFlagsAndFflags) {
  EXPECT_EQ(json_record(R"({"ident":1,"filter":-7,"flags":33,"fflags":1})"),
            record(1, EVFILT_TIMER, EV_ADD | EV_CLEAR, NOTE_SECONDS));
}

TEST(JsonParse, StringsForIdentDataAndUdata) {
  EXPECT_EQ(json_record(R"({"ident":"0x10","filter":"user","data":"-5","udata":"7"})"),
            record(16, EVFILT_USER, 0, 0, -5, 7));
  EXPECT_EQ(json_record(R"({"ident":"SIGUSR1","filter":"signal","flags":"add"})"),
            record(SIGUSR1, EVFILT_SIGNAL, EV_ADD));
}

TEST(JsonParse, KeysInAnyOrder) {
  EXPECT_EQ(json_record(R"({"fflags":"trigger","udata":3,"filter":"user","ident":2})"),
            record(2, EVFILT_USER, 0, NOTE_TRIGGER, 0, 3))
      << "fflags before filter are still looked up for the filter";
}

TEST(JsonParse, FullRangeNumbers) {
  EXPECT_EQ(json_record(R"({"ident":18446744073709551615,"data":-9223372036854775808,)"
                        R"("udata":18446744073709551615})"),
            record(kMaxU64, 0, 0, 0, kMinI64, kMaxU64));
}

TEST(JsonParse, WhitespaceAndCarriageReturnAreTolerated) {
  EXPECT_EQ(json_record(" { \"ident\" : 1 ,\t\"filter\" : \"user\" }\r"), record(1, EVFILT_USER));
}

TEST(JsonParse, BlankLineIsSkipped) {
  for (const std::string_view line : {"", "  ", "\t\r"}) {
    const Parsed parsed = parse_json(line);
    EXPECT_FALSE(parsed.rejected());
    EXPECT_FALSE(parsed.record.has_value());
  }
}

TEST(JsonReject, UnknownKey) {
  EXPECT_EQ(json_error(R"({"ident":1,"idnet":2})"), "unknown key 'idnet'");
  EXPECT_EQ(json_error(R"({"Ident":1})"), "unknown key 'Ident'") << "keys are case-sensitive";
}

TEST(JsonReject, RepeatedKey) {
  EXPECT_EQ(json_error(R"({"ident":1,"ident":2})"), "repeated key 'ident'");
}

TEST(JsonReject, MalformedJson) {
  EXPECT_EQ(json_error(R"({"ident":)"), "malformed JSON at byte 9: Invalid value");
  EXPECT_EQ(json_error(R"({ident:1})").rfind("malformed JSON at byte 1: ", 0), 0u);
  EXPECT_EQ(json_error(R"({"ident":1)").rfind("malformed JSON at byte ", 0), 0u);
  EXPECT_EQ(json_error(R"({"filter":"user\x"})").rfind("malformed JSON at byte ", 0), 0u);
}

TEST(JsonReject, TrailingGarbage) {
  EXPECT_EQ(json_error(R"({"ident":1} x)").rfind("malformed JSON at byte 12: ", 0), 0u);
  EXPECT_EQ(json_error("{}{}").rfind("malformed JSON at byte 2: ", 0), 0u);
}

TEST(JsonReject, NotAnObject) {
  for (const std::string_view line : {"[1]", "1", "\"ident\"", "null", "true"}) {
    EXPECT_EQ(json_error(line), "not a JSON object") << line;
  }
}

TEST(JsonReject, ValueNeitherNumberNorString) {
  EXPECT_EQ(json_error(R"({"ident":true})"), "bad ident: not a number or a string");
  EXPECT_EQ(json_error(R"({"flags":null})"),
            "bad flags: not a number, a string or an array of them");
  EXPECT_EQ(json_error(R"({"fflags":{}})"),
            "bad fflags: not a number, a string or an array of them");
  EXPECT_EQ(json_error(R"({"filter":["read"]})"), "bad filter: not a number or a string");
  EXPECT_EQ(json_error(R"({"data":[1]})"), "bad data: not a number or a string");
  EXPECT_EQ(json_error(R"({"udata":{}})"), "bad udata: not a number or a string");
}

TEST(JsonReject, NumbersMustBeIntegersInRange) {
  EXPECT_EQ(json_error(R"({"ident":1.5})"), "bad ident '1.5'");
  EXPECT_EQ(json_error(R"({"data":1e3})"), "bad data '1e3'");
  EXPECT_EQ(json_error(R"({"ident":-1})"), "bad ident '-1'");
  EXPECT_EQ(json_error(R"({"flags":65536})"), "bad flag '65536'");
  EXPECT_EQ(json_error(R"({"filter":-40000})"), "bad filter '-40000'");
}

TEST(JsonReject, FieldErrorsAreWordedAsInText) {
  EXPECT_EQ(json_error(R"({"filter":"EVFILT_RAED"})"), "unknown filter 'EVFILT_RAED'");
  EXPECT_EQ(json_error(R"({"filter":"timer","flags":"ad"})"), "unknown flag 'ad'");
  EXPECT_EQ(json_error(R"({"filter":"timer","fflags":"secnds"})"),
            "unknown fflag 'secnds' for EVFILT_TIMER");
  EXPECT_EQ(json_error(R"({"filter":"signal","ident":"SIGFOO"})"), "unknown signal 'SIGFOO'");
}

TEST(JsonReject, ReasonHasNoNewlineFromAnEscapedString) {
  EXPECT_EQ(json_error(R"({"flags":"add\nx"})"), "unknown flag 'add\\x0ax'");
}

TEST(JsonFormat, ChangeWithAPidHasAPidKeyAfterIdent) {
  EXPECT_EQ(format_json_change(record(4, EVFILT_READ, EV_ADD), 1234),
            R"({"ident":4,"pid":1234,"filter":"EVFILT_READ","flags":"EV_ADD","fflags":"0",)"
            R"("data":0,"udata":0})"
            "\n");
  EXPECT_EQ(format_json_change(record(4, EVFILT_READ), 0), format_json(record(4, EVFILT_READ)));
}

TEST(JsonFormat, ReadFflagsAreNamesWithoutEof) {
  EXPECT_EQ(format_json(record(3, EVFILT_READ, EV_ADD, NOTE_LOWAT, 10)),
            R"({"ident":3,"filter":"EVFILT_READ","flags":"EV_ADD","fflags":"NOTE_LOWAT",)"
            R"("data":10,"udata":0})"
            "\n");
}

TEST(JsonParse, PidBesideIdentAsNumberOrString) {
  for (const char* line : {R"({"ident":4,"pid":1234,"filter":"read","flags":"add"})",
                           R"({"pid":"1234","ident":4,"filter":"read","flags":"add"})",
                           R"({"ident":"4@1234","filter":"read","flags":"add"})"}) {
    const Parsed parsed = parse_json(line);
    EXPECT_EQ(parsed.record, record(4, EVFILT_READ, EV_ADD)) << line;
    EXPECT_EQ(parsed.pid, 1234) << line;
  }
}

TEST(JsonReject, BadPid) {
  EXPECT_EQ(json_error(R"({"ident":4,"pid":0})"), "bad pid '0' (a process id is a number above 0)");
  EXPECT_EQ(json_error(R"({"ident":4,"pid":1.5})"),
            "bad pid '1.5' (a process id is a number above 0)");
  EXPECT_EQ(json_error(R"({"ident":4,"pid":true})"), "bad pid: not a number or a string");
  EXPECT_EQ(json_error(R"({"ident":4,"pid":1,"pid":2})"), "repeated key 'pid'");
  EXPECT_EQ(json_error(R"({"ident":"4@1","pid":2})"),
            "pid given twice, in ident '4@1' and on its own");
}

TEST(JsonParse, MasksAsArraysOfNamesAndNumbers) {
  EXPECT_EQ(json_record(R"({"ident":1,"filter":"timer","flags":["add","clear"]})"),
            record(1, EVFILT_TIMER, EV_ADD | EV_CLEAR));
  EXPECT_EQ(json_record(R"({"ident":1,"filter":"timer","flags":["EV_ADD",32,"0x10"]})"),
            record(1, EVFILT_TIMER, EV_ADD | EV_CLEAR | EV_ONESHOT));
  EXPECT_EQ(json_record(R"({"ident":1,"filter":"timer","flags":[],"fflags":[]})"),
            record(1, EVFILT_TIMER));
  EXPECT_EQ(json_record(R"({"ident":1,"filter":"timer","fflags":["seconds","NOTE_ABSTIME"]})"),
            record(1, EVFILT_TIMER, 0, NOTE_SECONDS | NOTE_ABSTIME));
  EXPECT_EQ(json_record(R"({"ident":1,"fflags":["trigger",5],"filter":"user"})"),
            record(1, EVFILT_USER, 0, NOTE_TRIGGER | 5));
}

TEST(JsonReject, MaskArraysHoldNamesAndNumbersOnly) {
  EXPECT_EQ(json_error(R"({"flags":[["add"]]})"), "bad flags: an array of names and numbers only");
  EXPECT_EQ(json_error(R"({"fflags":[true]})"), "bad fflags: an array of names and numbers only");
  EXPECT_EQ(json_error(R"({"flags":["add",null]})"),
            "bad flags: an array of names and numbers only");
  EXPECT_EQ(json_error(R"({"flags":["add","ad"]})"), "unknown flag 'ad'");
  EXPECT_EQ(json_error(R"({"flags":[""]})"), "empty name in flags ''");
  EXPECT_EQ(json_error(R"({"flags":[1.5]})"), "bad flag '1.5'");
}

// JavaScript's numbers are exact to 2^53 only: 64-bit fields as strings.
TEST(JsonParse, SixtyFourBitFieldsAsDecimalOrHexStrings) {
  EXPECT_EQ(json_record(R"({"ident":"18446744073709551615","filter":"user",)"
                        R"("data":"-9223372036854775808","udata":"18446744073709551615"})"),
            record(kMaxU64, EVFILT_USER, 0, 0, kMinI64, kMaxU64));
  EXPECT_EQ(
      json_record(R"({"ident":"0xffffffffffffffff","filter":-11,"udata":"0x8000000000000001"})"),
      record(kMaxU64, EVFILT_USER, 0, 0, 0, 0x8000000000000001));
  EXPECT_EQ(json_error(R"({"udata":"18446744073709551616"})"), "bad udata '18446744073709551616'");
}

TEST(JsonParse, FilterByLongOrShortNameOrNumber) {
  for (const char* filter : {R"("EVFILT_READ")", R"("read")", R"("READ")", "-1", R"("-1")"}) {
    EXPECT_EQ(json_record(std::string(R"({"ident":3,"filter":)") + filter + "}"),
              record(3, EVFILT_READ))
        << filter;
  }
}

TEST(JsonReject, DeepNestingDoesNotOverflowTheStack) {
  const std::string deep = std::string(2000000, '[') + std::string(2000000, ']');
  EXPECT_EQ(json_error(deep), "not a JSON object");
  EXPECT_EQ(json_error(R"({"ident":)" + std::string(2000000, '[')).rfind("malformed JSON", 0), 0u);
}

// ------------------------------------------------- text and JSON alike

// A line format: how it writes a record, and reads one back.
struct LineFormat {
  const char* name;
  Format format;
  std::string (*format_record)(const Kevent&);
  Kevent (*record_of)(std::string_view);
};

class LineFormatTest : public ::testing::TestWithParam<LineFormat> {};

TEST_P(LineFormatTest, EveryFormattedRecordParsesBack) {
  const LineFormat& f = GetParam();
  for (const Kevent& original : sample_records()) {
    const std::string line = without_newline(f.format_record(original));
    EXPECT_EQ(f.record_of(line), original) << line;
  }
}

TEST_P(LineFormatTest, MaxRecordSizeIsAnUpperBound) {
  const LineFormat& f = GetParam();
  for (const Kevent& event : sample_records()) {
    EXPECT_LE(f.format_record(event).size(), max_record_size(f.format)) << f.format_record(event);
  }
  for (int filter = -20; filter <= 0; ++filter) {
    const Kevent widest =
        record(kMaxU64, static_cast<int16_t>(filter), 0xffff, 0xffffffff, kMinI64, kMaxU64);
    EXPECT_LE(f.format_record(widest).size(), max_record_size(f.format)) << f.format_record(widest);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Codec, LineFormatTest,
    ::testing::Values(LineFormat{"Text", Format::text, format_text, text_record},
                      LineFormat{"Json", Format::json, format_json, json_record}),
    [](const ::testing::TestParamInfo<LineFormat>& info) { return info.param.name; });

// Arbitrary bytes give a record or a reason, never a crash (run under ASan).
TEST(Robustness, ArbitraryLinesNeverCrashTheParsers) {
  std::mt19937 random(12345);
  const std::string alphabet = "{}[]\":,0123456789-+xXeE.| \t\r#abcdefilnrstuvADEFLRTU_\\\0\xff"s;
  for (int round = 0; round < 20000; ++round) {
    std::string line(random() % 40, ' ');
    for (char& c : line)
      c = alphabet[random() % alphabet.size()];
    for (const Parsed& parsed : {parse_text(line), parse_json(line)}) {
      EXPECT_FALSE(parsed.rejected() && parsed.record.has_value()) << line;
      EXPECT_EQ(parsed.error.find('\n'), std::string::npos) << line;
    }
  }
}

// ------------------------------------------------------------------- binary

TEST(Binary, LayoutByteByByte) {
  const Kevent event =
      record(0x0102030405060708, EVFILT_TIMER, 0x1021, 0x11223344, -2, 0x8877665544332211);
  const std::array<unsigned char, 32> expected = {
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // ident
      0xf9, 0xff,                                      // filter -7
      0x21, 0x10,                                      // flags
      0x44, 0x33, 0x22, 0x11,                          // fflags
      0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // data -2
      0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // udata
  };
  const std::string bytes = binary(event);
  ASSERT_EQ(bytes.size(), 32u);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(static_cast<unsigned char>(bytes[i]), expected[i]) << "byte " << i;
  }
}

TEST(Binary, SameBytesAsAKeventInMemory) {
  const Kevent event = record(7, EVFILT_USER, EV_ADD, NOTE_TRIGGER, -9, 0xabcdef);
  std::string in_memory(sizeof event, '\0');
  std::memcpy(in_memory.data(), &event, sizeof event);
  EXPECT_EQ(binary(event), in_memory);
}

TEST(Binary, DecodeInvertsEncode) {
  for (const Kevent& original : sample_records()) {
    EXPECT_EQ(from_binary(binary(original)), original);
  }
}

TEST(Binary, MaxRecordSizeIs32) {
  EXPECT_EQ(max_record_size(Format::binary), 32u);
}

// ------------------------------------------------------------ the table

TEST(Formats, OneRowPerFormatInTheEnumsOrder) {
  ASSERT_EQ(kFormatCount, 3u);
  for (size_t index = 0; index < kFormatCount; ++index) {
    EXPECT_EQ(&codec_of(kCodecs[index].format), &kCodecs[index]);
    for (size_t other = 0; other < index; ++other) {
      EXPECT_NE(kCodecs[index].name, kCodecs[other].name);
      EXPECT_NE(kCodecs[index].suffix, kCodecs[other].suffix);
    }
  }
  EXPECT_EQ(codec_of(Format::text).suffix, "");
  EXPECT_EQ(codec_of(Format::json).suffix, ".json");
  EXPECT_EQ(codec_of(Format::binary).suffix, ".bin");
}

TEST(Formats, FoundByNameOrAlias) {
  EXPECT_EQ(find_codec("text"), &codec_of(Format::text));
  EXPECT_EQ(find_codec("json"), &codec_of(Format::json));
  EXPECT_EQ(find_codec("bin"), &codec_of(Format::binary));
  EXPECT_EQ(find_codec("binary"), &codec_of(Format::binary));
  EXPECT_EQ(find_codec(""), nullptr);
  EXPECT_EQ(find_codec("JSON"), nullptr);
  EXPECT_EQ(format_names(), "text, json or bin");
}

// Each row's parse takes back what its encode gives, framed as the row says.
TEST(Formats, EveryFormatParsesWhatItEncodes) {
  for (const Codec& codec : kCodecs) {
    for (const Kevent& original : sample_records()) {
      const std::string encoded = codec.encode(original);
      EXPECT_LE(encoded.size(), max_record_size(codec.format)) << codec.name;
      std::string_view record = encoded;
      if (codec.framed_by_lines()) {
        ASSERT_TRUE(record.ends_with('\n')) << codec.name;
        record.remove_suffix(1);
        EXPECT_EQ(record.find('\n'), std::string_view::npos) << codec.name;
      } else {
        EXPECT_EQ(record.size(), codec.record_size) << codec.name;
      }
      const Parsed parsed = codec.parse(record);
      EXPECT_EQ(parsed.error, "") << codec.name;
      EXPECT_EQ(parsed.record, original) << codec.name << ": " << record;
    }
  }
}

TEST(Formats, BinaryParseRefusesAnotherSize) {
  EXPECT_TRUE(parse_binary(std::string(31, '\0')).rejected());
  EXPECT_TRUE(parse_binary(std::string(33, '\0')).rejected());
  EXPECT_FALSE(parse_binary(std::string(32, '\0')).rejected());
}

// ------------------------------------------------------------ change stream

// An ApplyRecord that keeps what it applied and fails where it is told to.
class Applier {
 public:
  // Makes the record with this ident fail with `error` (and `reason`).
  void fail(uint64_t ident, int error, std::string reason = {}) {
    fail_ident_ = ident;
    fail_error_ = error;
    fail_reason_ = std::move(reason);
  }

  ApplyRecord function() {
    return [this](const Kevent& change, int32_t pid, std::string& reason) {
      if (fail_error_ != 0 && change.ident == fail_ident_) {
        reason = fail_reason_;
        return fail_error_;
      }
      applied.push_back(change);
      pids.push_back(pid);
      return 0;
    };
  }

  std::vector<uint64_t> idents() const {
    std::vector<uint64_t> out;
    for (const Kevent& change : applied)
      out.push_back(change.ident);
    return out;
  }

  std::vector<Kevent> applied;
  std::vector<int32_t> pids;  // of each applied record

 private:
  uint64_t fail_ident_ = 0;
  int fail_error_ = 0;
  std::string fail_reason_;
};

using Idents = std::vector<uint64_t>;

TEST(ChangeStream, AppliesEveryRecordOfAWriteInOrder) {
  ChangeStream stream(Format::text);
  Applier applier;
  const std::string bytes = "1 user add\n2 timer add 0 5\n3 user add|clear\n";
  const WriteOutcome outcome = stream.write(bytes, applier.function());
  EXPECT_EQ(outcome.accepted, bytes.size());
  EXPECT_EQ(outcome.error, 0);
  EXPECT_EQ(outcome.reason, "");
  EXPECT_EQ(applier.idents(), (Idents{1, 2, 3}));
  EXPECT_EQ(applier.applied[1], record(2, EVFILT_TIMER, EV_ADD, 0, 5));
  EXPECT_FALSE(stream.has_unfinished());
}

TEST(ChangeStream, KeepsAnUnfinishedLineUntilItsNewline) {
  ChangeStream stream(Format::text);
  Applier applier;
  EXPECT_EQ(stream.write("1 user add\n2 us", applier.function()).accepted, 15u);
  EXPECT_EQ(applier.idents(), Idents{1});
  EXPECT_TRUE(stream.has_unfinished());
  EXPECT_EQ(stream.write("er add", applier.function()).accepted, 6u);
  EXPECT_EQ(applier.idents(), Idents{1});
  EXPECT_EQ(stream.write("|clear\n", applier.function()).accepted, 7u);
  EXPECT_EQ(applier.applied.back(), record(2, EVFILT_USER, EV_ADD | EV_CLEAR));
  EXPECT_FALSE(stream.has_unfinished());
}

TEST(ChangeStream, JoinsByteByByteWrites) {
  ChangeStream stream(Format::text);
  Applier applier;
  const std::string bytes = "1 timer add 0 500 7\n# note\n2 user add\n";
  for (const char c : bytes) {
    const WriteOutcome outcome = stream.write(std::string_view(&c, 1), applier.function());
    EXPECT_EQ(outcome.accepted, 1u);
    EXPECT_EQ(outcome.error, 0);
  }
  ASSERT_EQ(applier.applied.size(), 2u);
  EXPECT_EQ(applier.applied[0], record(1, EVFILT_TIMER, EV_ADD, 0, 500, 7));
  EXPECT_EQ(applier.applied[1], record(2, EVFILT_USER, EV_ADD));
}

TEST(ChangeStream, BlankAndCommentLinesAreConsumedSilently) {
  ChangeStream stream(Format::text);
  Applier applier;
  const std::string bytes = "\n# comment\n   \n1 user add\n\r\n";
  const WriteOutcome outcome = stream.write(bytes, applier.function());
  EXPECT_EQ(outcome.accepted, bytes.size());
  EXPECT_EQ(outcome.error, 0);
  EXPECT_EQ(applier.idents(), Idents{1});
}

TEST(ChangeStream, PassesEachRecordsPidAndNamesItInARefusal) {
  for (const auto& [format, bytes] :
       {std::pair{Format::text, "4@99 read add\n5 user add\n6@7 read add\n"s},
        std::pair{Format::json, R"({"ident":4,"pid":99,"filter":"read","flags":"add"})"
                                "\n"
                                R"({"ident":5,"filter":"user","flags":"add"})"
                                "\n"
                                R"({"ident":6,"pid":7,"filter":"read","flags":"add"})"
                                "\n"s}}) {
    ChangeStream stream(format);
    Applier applier;
    applier.fail(6, EPERM, "not yours");
    const WriteOutcome outcome = stream.write(bytes, applier.function());
    EXPECT_EQ(applier.pids, (std::vector<int32_t>{99, 0}));
    EXPECT_EQ(outcome.error, EPERM);
    EXPECT_EQ(outcome.reason, "Operation not permitted (not yours): 6@7 EVFILT_READ EV_ADD 0 0 0");
  }
}

TEST(ChangeStream, CrLfLines) {
  ChangeStream stream(Format::text);
  Applier applier;
  EXPECT_EQ(stream.write("1 user add\r\n2 user add\r\n", applier.function()).error, 0);
  EXPECT_EQ(applier.idents(), (Idents{1, 2}));
}

TEST(ChangeStream, MalformedRecordInTheMiddleStopsAtItsFirstByte) {
  ChangeStream stream(Format::text);
  Applier applier;
  const WriteOutcome outcome =
      stream.write("1 user add\n2 user bogus\n3 user add\n", applier.function());
  EXPECT_EQ(outcome.accepted, std::string("1 user add\n").size());
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "unknown flag 'bogus'");
  EXPECT_EQ(applier.idents(), Idents{1}) << "nothing after the failing record is applied";
}

// docs/design.md#writing-changes: a short write only when records before the failing one were
// applied; blank lines and comments alone are not records.
TEST(ChangeStream, OnlySkippedLinesBeforeAFailureAcceptNothing) {
  ChangeStream stream(Format::text);
  Applier applier;
  const WriteOutcome outcome = stream.write("# c\n\n9 EVFILT_RAED\n", applier.function());
  EXPECT_EQ(outcome.accepted, 0u);
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "unknown filter 'EVFILT_RAED'");
}

TEST(ChangeStream, SkippedLinesAfterAnAppliedRecordCountAsAccepted) {
  ChangeStream stream(Format::text);
  Applier applier;
  const WriteOutcome outcome = stream.write("1 user add\n# c\n9 EVFILT_RAED\n", applier.function());
  EXPECT_EQ(outcome.accepted, std::string("1 user add\n# c\n").size());
  EXPECT_EQ(outcome.error, EINVAL);
}

TEST(ChangeStream, FailureOfTheFirstRecordAcceptsNothing) {
  ChangeStream stream(Format::text);
  Applier applier;
  const WriteOutcome outcome = stream.write("1 timer ad\n2 user add\n", applier.function());
  EXPECT_EQ(outcome.accepted, 0u);
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "unknown flag 'ad'");
  EXPECT_TRUE(applier.applied.empty());
}

TEST(ChangeStream, FailureOfARecordBegunInAnEarlierWriteAcceptsNothing) {
  ChangeStream stream(Format::text);
  Applier applier;
  EXPECT_EQ(stream.write("1 user add\n2 user bo", applier.function()).accepted, 20u);
  const WriteOutcome outcome = stream.write("gus\n3 user add\n", applier.function());
  EXPECT_EQ(outcome.accepted, 0u);
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "unknown flag 'bogus'");
  EXPECT_EQ(applier.idents(), Idents{1});
}

TEST(ChangeStream, FailureDropsWhatWasKept) {
  ChangeStream stream(Format::text);
  Applier applier;
  const WriteOutcome outcome = stream.write("1 user add\n2 bad\n3 us", applier.function());
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_FALSE(stream.has_unfinished());
  EXPECT_EQ(stream.write("4 user add\n", applier.function()).error, 0);
  EXPECT_EQ(applier.idents(), (Idents{1, 4})) << "the next write starts afresh";
}

TEST(ChangeStream, ApplyErrnoAndReasonArePassedThrough) {
  ChangeStream stream(Format::text);
  Applier applier;
  applier.fail(2, EBADF, "fd 2 is not open in the writer");
  const WriteOutcome outcome =
      stream.write("1 user add\n2 read add\n3 user add\n", applier.function());
  EXPECT_EQ(outcome.accepted, 11u);
  EXPECT_EQ(outcome.error, EBADF);
  EXPECT_EQ(outcome.reason,
            "Bad file descriptor (fd 2 is not open in the writer): 2 EVFILT_READ EV_ADD 0 0 0");
  EXPECT_EQ(applier.idents(), Idents{1});
}

TEST(ChangeStream, ApplyErrnoWithoutAReasonIsDescribedWithTheRecord) {
  ChangeStream stream(Format::text);
  Applier applier;
  applier.fail(2, ENOENT);
  const WriteOutcome outcome = stream.write("2 user delete\n", applier.function());
  EXPECT_EQ(outcome.accepted, 0u);
  EXPECT_EQ(outcome.error, ENOENT);
  EXPECT_EQ(outcome.reason, "No such file or directory: 2 EVFILT_USER EV_DELETE 0 0 0");
}

TEST(ChangeStream, ReasonsStayOnOneLine) {
  ChangeStream stream(Format::text);
  Applier applier;
  applier.fail(1, EPERM, "first\nsecond\r");
  EXPECT_EQ(stream.write("1 user add\n", applier.function()).reason,
            "Operation not permitted (first second ): 1 EVFILT_USER EV_ADD 0 0 0");
}

TEST(ChangeStream, FinishAppliesAnUnfinishedLine) {
  ChangeStream stream(Format::text);
  Applier applier;
  EXPECT_EQ(stream.write("1 user add\n2 user add|clear", applier.function()).error, 0);
  EXPECT_EQ(applier.idents(), Idents{1});
  const WriteOutcome outcome = stream.finish(applier.function());
  EXPECT_EQ(outcome.error, 0);
  EXPECT_EQ(applier.idents(), (Idents{1, 2}));
  EXPECT_FALSE(stream.has_unfinished());
}

TEST(ChangeStream, FinishReportsTheUnfinishedLinesParseError) {
  ChangeStream stream(Format::text);
  Applier applier;
  EXPECT_EQ(stream.write("1 timer add secnds", applier.function()).error, 0);
  const WriteOutcome outcome = stream.finish(applier.function());
  EXPECT_EQ(outcome.accepted, 0u);
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "unknown fflag 'secnds' for EVFILT_TIMER");
  EXPECT_TRUE(applier.applied.empty());
  EXPECT_FALSE(stream.has_unfinished());
}

TEST(ChangeStream, FinishReportsTheUnfinishedLinesApplyError) {
  ChangeStream stream(Format::text);
  Applier applier;
  applier.fail(5, ENOENT, "no knote 5/EVFILT_USER");
  EXPECT_EQ(stream.write("5 user delete", applier.function()).error, 0);
  const WriteOutcome outcome = stream.finish(applier.function());
  EXPECT_EQ(outcome.error, ENOENT);
  EXPECT_EQ(outcome.reason,
            "No such file or directory (no knote 5/EVFILT_USER): 5 EVFILT_USER EV_DELETE 0 0 0");
}

TEST(ChangeStream, FinishWithNothingKeptDoesNothing) {
  ChangeStream stream(Format::text);
  Applier applier;
  const WriteOutcome outcome = stream.finish(applier.function());
  EXPECT_EQ(outcome.error, 0);
  EXPECT_EQ(outcome.reason, "");
  EXPECT_TRUE(applier.applied.empty());
}

TEST(ChangeStream, FinishSkipsAnUnfinishedComment) {
  ChangeStream stream(Format::text);
  Applier applier;
  EXPECT_EQ(stream.write("# no newline", applier.function()).error, 0);
  EXPECT_EQ(stream.finish(applier.function()).error, 0);
  EXPECT_TRUE(applier.applied.empty());
}

TEST(ChangeStream, OverlongUnfinishedLineIsRejected) {
  ChangeStream stream(Format::text);
  Applier applier;
  const std::string prefix = "1 user add\n";
  const std::string bytes = prefix + std::string(70000, ' ');
  const WriteOutcome outcome = stream.write(bytes, applier.function());
  EXPECT_EQ(outcome.accepted, prefix.size());
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "line longer than 65536 bytes");
  EXPECT_FALSE(stream.has_unfinished());
  EXPECT_EQ(applier.idents(), Idents{1});
}

TEST(ChangeStream, OverlongLineAcrossWritesIsRejectedAndDropped) {
  ChangeStream stream(Format::text);
  Applier applier;
  const std::string chunk = "#" + std::string(39999, 'c');
  EXPECT_EQ(stream.write(chunk, applier.function()).error, 0);
  const WriteOutcome outcome = stream.write(chunk, applier.function());
  EXPECT_EQ(outcome.accepted, 0u);
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "line longer than 65536 bytes");
  EXPECT_FALSE(stream.has_unfinished());
  // The rest of the refused line is no record, whatever it looks like.
  const std::string rest = "2 user add\n1 user add\n";
  const WriteOutcome after = stream.write(rest, applier.function());
  EXPECT_EQ(after.error, 0);
  EXPECT_EQ(after.accepted, rest.size());
  EXPECT_EQ(applier.idents(), Idents{1}) << "the end of the refused line was parsed";
}

TEST(ChangeStream, RestOfARefusedLineIsSkippedOverManyWrites) {
  ChangeStream stream(Format::text);
  Applier applier;
  EXPECT_EQ(stream.write(std::string(70000, ' '), applier.function()).error, EINVAL);
  EXPECT_EQ(stream.write(std::string(5000, ' '), applier.function()).error, 0);
  EXPECT_EQ(stream.write(" 3 timer add 0 5\n4 user add\n", applier.function()).error, 0);
  EXPECT_EQ(applier.idents(), Idents{4});
}

TEST(ChangeStream, OverlongLineAfterAppliedRecordsIsRefusedWhenSentAgain) {
  ChangeStream stream(Format::text);
  Applier applier;
  const std::string prefix = "1 user add\n";
  const std::string line = std::string(70000, ' ') + "2 user add\n";
  const WriteOutcome first = stream.write(prefix + line, applier.function());
  EXPECT_EQ(first.accepted, prefix.size());
  EXPECT_EQ(first.error, EINVAL);
  // The writer sends what was not taken again: refused whole this time.
  const WriteOutcome again = stream.write(line, applier.function());
  EXPECT_EQ(again.accepted, 0u);
  EXPECT_EQ(again.error, EINVAL);
  EXPECT_EQ(applier.idents(), Idents{1});
}

TEST(ChangeStream, OverlongCompleteLineIsRejected) {
  ChangeStream stream(Format::text);
  Applier applier;
  const std::string chunk(40000, ' ');
  EXPECT_EQ(stream.write(chunk, applier.function()).error, 0);
  const WriteOutcome outcome = stream.write(chunk + "1 user add\n", applier.function());
  EXPECT_EQ(outcome.accepted, 0u);
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "line longer than 65536 bytes");
  EXPECT_TRUE(applier.applied.empty());
}

TEST(ChangeStream, JsonLinesSplitAcrossWrites) {
  ChangeStream stream(Format::json);
  Applier applier;
  const std::string first = R"({"ident":1,"filter":"user","flags":"add"})";
  const std::string second = R"({"ident":2,"filter":"timer","flags":"add","data":5})";
  const std::string bytes = first + "\n\n" + second + "\n";
  const size_t split = first.size() + 10;
  EXPECT_EQ(stream.write(bytes.substr(0, split), applier.function()).accepted, split);
  EXPECT_EQ(applier.idents(), Idents{1});
  EXPECT_EQ(stream.write(bytes.substr(split), applier.function()).accepted, bytes.size() - split);
  ASSERT_EQ(applier.applied.size(), 2u);
  EXPECT_EQ(applier.applied[1], record(2, EVFILT_TIMER, EV_ADD, 0, 5));
}

TEST(ChangeStream, JsonFailureInTheMiddle) {
  ChangeStream stream(Format::json);
  Applier applier;
  const std::string first = R"({"ident":1,"filter":"user","flags":"add"})"
                            "\n";
  const WriteOutcome outcome =
      stream.write(first + R"({"ident":2,"bogus":1})" + "\n" + first, applier.function());
  EXPECT_EQ(outcome.accepted, first.size());
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "unknown key 'bogus'");
  EXPECT_EQ(applier.idents(), Idents{1});
}

TEST(ChangeStream, JsonFinishAppliesAnUnfinishedLine) {
  ChangeStream stream(Format::json);
  Applier applier;
  EXPECT_EQ(stream.write(R"({"ident":3,"filter":"user","flags":"add"})", applier.function()).error,
            0);
  EXPECT_TRUE(applier.applied.empty());
  EXPECT_EQ(stream.finish(applier.function()).error, 0);
  EXPECT_EQ(applier.idents(), Idents{3});
}

TEST(ChangeStream, BinaryRecordsInOneWrite) {
  ChangeStream stream(Format::binary);
  Applier applier;
  const std::string bytes = binary(record(1, EVFILT_USER, EV_ADD)) +
                            binary(record(2, EVFILT_TIMER, EV_ADD, 0, 5)) +
                            binary(record(3, EVFILT_USER, EV_ADD));
  const WriteOutcome outcome = stream.write(bytes, applier.function());
  EXPECT_EQ(outcome.accepted, 96u);
  EXPECT_EQ(outcome.error, 0);
  EXPECT_EQ(applier.idents(), (Idents{1, 2, 3}));
  EXPECT_EQ(applier.applied[1], record(2, EVFILT_TIMER, EV_ADD, 0, 5));
  EXPECT_FALSE(stream.has_unfinished());
}

TEST(ChangeStream, BinaryPartialRecordsAcrossWrites) {
  ChangeStream stream(Format::binary);
  Applier applier;
  const std::string bytes = binary(record(1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, -1, 9)) +
                            binary(record(2, EVFILT_USER, EV_ADD));
  EXPECT_EQ(stream.write(bytes.substr(0, 10), applier.function()).accepted, 10u);
  EXPECT_TRUE(applier.applied.empty());
  EXPECT_TRUE(stream.has_unfinished());
  EXPECT_EQ(stream.write(bytes.substr(10, 30), applier.function()).accepted, 30u);
  EXPECT_EQ(applier.idents(), Idents{1});
  EXPECT_EQ(applier.applied[0], record(1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, -1, 9));
  EXPECT_EQ(stream.write(bytes.substr(40), applier.function()).accepted, 24u);
  EXPECT_EQ(applier.idents(), (Idents{1, 2}));
  EXPECT_FALSE(stream.has_unfinished());
}

TEST(ChangeStream, BinaryByteByByteWrites) {
  ChangeStream stream(Format::binary);
  Applier applier;
  const std::string bytes = binary(record(7, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 3, 4));
  for (const char c : bytes) {
    EXPECT_EQ(stream.write(std::string_view(&c, 1), applier.function()).accepted, 1u);
  }
  ASSERT_EQ(applier.applied.size(), 1u);
  EXPECT_EQ(applier.applied[0], record(7, EVFILT_TIMER, EV_ADD, NOTE_SECONDS, 3, 4));
}

TEST(ChangeStream, BinaryFailureAcceptsTheWholeRecordsBeforeIt) {
  ChangeStream stream(Format::binary);
  Applier applier;
  applier.fail(2, EINVAL, "unknown filter 99");
  const std::string bytes = binary(record(1, EVFILT_USER, EV_ADD)) + binary(record(2, 99, EV_ADD)) +
                            binary(record(3, EVFILT_USER, EV_ADD)) + "tail";
  const WriteOutcome outcome = stream.write(bytes, applier.function());
  EXPECT_EQ(outcome.accepted, 32u);
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "Invalid argument (unknown filter 99): 2 99 EV_ADD 0 0 0");
  EXPECT_EQ(applier.idents(), Idents{1});
  EXPECT_FALSE(stream.has_unfinished());
}

TEST(ChangeStream, BinaryFailureOfARecordBegunInAnEarlierWriteAcceptsNothing) {
  ChangeStream stream(Format::binary);
  Applier applier;
  applier.fail(2, ENOENT);
  const std::string bytes = binary(record(1, EVFILT_USER, EV_ADD)) +
                            binary(record(2, EVFILT_USER, EV_DELETE)) +
                            binary(record(3, EVFILT_USER, EV_ADD));
  EXPECT_EQ(stream.write(bytes.substr(0, 40), applier.function()).accepted, 40u);
  const WriteOutcome outcome = stream.write(bytes.substr(40), applier.function());
  EXPECT_EQ(outcome.accepted, 0u);
  EXPECT_EQ(outcome.error, ENOENT);
  EXPECT_EQ(outcome.reason, "No such file or directory: 2 EVFILT_USER EV_DELETE 0 0 0");
  EXPECT_EQ(applier.idents(), Idents{1});
}

TEST(ChangeStream, BinaryLeftoversAtFinishAreEinval) {
  ChangeStream stream(Format::binary);
  Applier applier;
  EXPECT_EQ(stream.write(binary(record(1, EVFILT_USER, EV_ADD)) + "abc", applier.function()).error,
            0);
  const WriteOutcome outcome = stream.finish(applier.function());
  EXPECT_EQ(outcome.error, EINVAL);
  EXPECT_EQ(outcome.reason, "3 bytes left over, not a 32-byte record");
  EXPECT_EQ(applier.idents(), Idents{1});
  EXPECT_FALSE(stream.has_unfinished());
}

TEST(ChangeStream, BinaryOneByteLeftOverIsSingular) {
  ChangeStream stream(Format::binary);
  Applier applier;
  EXPECT_EQ(stream.write("x", applier.function()).error, 0);
  EXPECT_EQ(stream.finish(applier.function()).reason, "1 byte left over, not a 32-byte record");
}

// Random bytes in random pieces: each write is whole or stopped with a reason.
TEST(Robustness, ArbitraryWritesNeverCrashTheStreams) {
  std::mt19937 random(54321);
  const std::string alphabet = "0123456789 \n\n\n|#-xaddusertimer{}\":,ident\r\0\xff"s;
  for (const Format format : {Format::text, Format::json, Format::binary}) {
    ChangeStream stream(format);
    Applier applier;
    for (int round = 0; round < 5000; ++round) {
      std::string bytes(random() % 50, ' ');
      for (char& c : bytes)
        c = alphabet[random() % alphabet.size()];
      const WriteOutcome outcome = stream.write(bytes, applier.function());
      if (outcome.error == 0) {
        EXPECT_EQ(outcome.accepted, bytes.size());
      } else {
        EXPECT_LE(outcome.accepted, bytes.size());
        EXPECT_FALSE(outcome.reason.empty());
        EXPECT_EQ(outcome.reason.find('\n'), std::string::npos);
      }
    }
    stream.finish(applier.function());
    EXPECT_FALSE(stream.has_unfinished());
  }
}

// ------------------------------------------------------------- event stream

TEST(EventStream, TextGivesOneRecordPerRead) {
  EventStream stream(Format::text);
  EXPECT_EQ(stream.wanted(4096), 1u);
  const Kevent event = record(1, EVFILT_TIMER, EV_ADD | EV_CLEAR, 0, 1, 7);
  EXPECT_EQ(stream.read(4096, std::span(&event, 1)), "1 EVFILT_TIMER EV_ADD|EV_CLEAR 0 1 7\n");
  EXPECT_FALSE(stream.has_leftover());
  EXPECT_EQ(stream.wanted(4096), 1u);
}

TEST(EventStream, TextLineLongerThanTheReadComesInParts) {
  EventStream stream(Format::text);
  const Kevent event = record(1, EVFILT_TIMER, EV_ADD | EV_CLEAR, 0, 1, 7);
  EXPECT_EQ(stream.read(10, std::span(&event, 1)), "1 EVFILT_T");
  EXPECT_TRUE(stream.has_leftover());
  EXPECT_EQ(stream.wanted(4096), 0u) << "no new event before the rest";
  EXPECT_EQ(stream.read(4096, {}), "IMER EV_ADD|EV_CLEAR 0 1 7\n");
  EXPECT_FALSE(stream.has_leftover());
  EXPECT_EQ(stream.wanted(4096), 1u);
}

// bash's `read` takes one byte per read(2).
TEST(EventStream, TextLineReassembledFromOneByteReads) {
  EventStream stream(Format::text);
  const Kevent first = record(3, EVFILT_READ, EV_ADD | EV_EOF, ECONNRESET, 0, 0);
  const Kevent second = record(4, EVFILT_USER, EV_ADD, NOTE_TRIGGER);
  for (const Kevent& event : {first, second}) {
    ASSERT_EQ(stream.wanted(1), 1u);
    std::string line = stream.read(1, std::span(&event, 1));
    while (stream.has_leftover()) {
      EXPECT_EQ(stream.wanted(1), 0u);
      const std::string piece = stream.read(1, {});
      ASSERT_EQ(piece.size(), 1u);
      line += piece;
    }
    EXPECT_EQ(line, format_text(event));
  }
}

TEST(EventStream, TextNeverJoinsTwoRecordsInOneRead) {
  EventStream stream(Format::text);
  const std::array events = {record(1, EVFILT_USER), record(2, EVFILT_USER)};
  EXPECT_EQ(stream.read(4096, events), format_text(events[0]));
  EXPECT_EQ(stream.read(4096, {}), format_text(events[1])) << "an extra event is kept, not lost";
  EXPECT_FALSE(stream.has_leftover());
}

TEST(EventStream, JsonWantsAsManyAsFit) {
  EventStream stream(Format::json);
  const size_t largest = max_record_size(Format::json);
  EXPECT_EQ(stream.wanted(4096), 4096 / largest);
  EXPECT_EQ(stream.wanted(largest * 3 + 1), 3u);
  EXPECT_EQ(stream.wanted(10), 1u);
  EXPECT_EQ(stream.wanted(1), 1u);
}

TEST(EventStream, JsonReturnsEveryWholeRecord) {
  EventStream stream(Format::json);
  const std::array events = {record(1, EVFILT_USER), record(2, EVFILT_TIMER, EV_ADD, 0, 3),
                             record(3, EVFILT_READ, EV_ADD | EV_EOF, EPIPE)};
  const size_t size = max_record_size(Format::json) * events.size();
  ASSERT_GE(stream.wanted(size), events.size());
  EXPECT_EQ(stream.read(size, events),
            format_json(events[0]) + format_json(events[1]) + format_json(events[2]));
  EXPECT_FALSE(stream.has_leftover());
}

TEST(EventStream, JsonRecordLongerThanTheReadComesInParts) {
  EventStream stream(Format::json);
  const Kevent event = record(1, EVFILT_TIMER, EV_ADD | EV_CLEAR, 0, 1, 7);
  const std::string whole = format_json(event);
  std::string reassembled = stream.read(16, std::span(&event, 1));
  EXPECT_EQ(reassembled.size(), 16u);
  while (stream.has_leftover()) {
    EXPECT_EQ(stream.wanted(16), 0u);
    reassembled += stream.read(16, {});
  }
  EXPECT_EQ(reassembled, whole);
}

TEST(EventStream, BinaryWantsSizeOver32) {
  EventStream stream(Format::binary);
  EXPECT_EQ(stream.wanted(0), 0u);
  EXPECT_EQ(stream.wanted(31), 0u);
  EXPECT_EQ(stream.wanted(32), 1u);
  EXPECT_EQ(stream.wanted(63), 1u);
  EXPECT_EQ(stream.wanted(100), 3u);
  EXPECT_EQ(stream.wanted(32 * 1024), 1024u);
}

TEST(EventStream, BinaryReadsWholeRecordsAndNoLeftover) {
  EventStream stream(Format::binary);
  const std::array events = {record(1, EVFILT_USER), record(2, EVFILT_TIMER, EV_ADD, 0, 3),
                             record(3, EVFILT_READ, EV_ADD | EV_EOF, EPIPE, -1, kMaxU64)};
  const std::string reply = stream.read(100, events);
  ASSERT_EQ(reply.size(), 96u);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(from_binary(std::string_view(reply).substr(i * 32, 32)), events[i]);
  }
  EXPECT_FALSE(stream.has_leftover());
}

}  // namespace
}  // namespace kqfs::codec
