// A standalone driver for the fuzz targets, so they build and run with any
// compiler and no libFuzzer: it runs every input file named on the command
// line (directories are read recursively), then a number of inputs made
// from them by a seeded mutator. The same seed gives the same inputs, so a
// failure seen in CI happens again at the desk. When an input fails, the
// driver names its file, or writes a generated one to
// $KQFS_FUZZ_ARTIFACTS/crash-PROGRAM (default: the current directory).
//
//   kqfs-fuzz-TARGET [--runs=N] [--seed=S] [--max-len=N] [--seconds=T] [FILE|DIR]...
//
// Defaults come from KQFS_FUZZ_RUNS, KQFS_FUZZ_SEED and KQFS_FUZZ_SECONDS.
// libFuzzer's spelling (-runs=N, -max_len=N, -max_total_time=T) is
// accepted too.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fuzz.hpp"

// Present only in a sanitized build: lets us save the input before a
// sanitizer ends the process.
extern "C" void __sanitizer_set_death_callback(void (*callback)()) __attribute__((weak));

// The sanitizers' defaults for these programs (the environment still
// overrides them): any report ends the run as a failure, with a stack.
extern "C" const char* __asan_default_options() {
  return "abort_on_error=1:detect_leaks=1";
}
extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1";
}

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  uint64_t runs = 10000;
  uint64_t seed = 1;
  size_t max_len = 4096;
  double seconds = 0;  // 0: no time limit
  std::vector<std::string> paths;
};

// --------------------------------------------------- the input in flight
//
// Kept where a signal handler can reach it without allocating.

std::string artifact_path;
bool in_flight = false;
const uint8_t* current_input = nullptr;
size_t current_size = 0;
const char* current_file = nullptr;  // the input file it came from, if any
volatile sig_atomic_t dumped = 0;

void say(const char* text) {
  [[maybe_unused]] ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
}

// Async-signal-safe: open, write and close only.
void dump_input() {
  if (dumped || !in_flight) return;
  dumped = 1;
  if (current_file != nullptr) {
    say("kqfs-fuzz: the failing input is the file ");
    say(current_file);
    say("\n");
    return;
  }
  const int fd = ::open(artifact_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  size_t done = 0;
  while (done < current_size) {
    const ssize_t written = ::write(fd, current_input + done, current_size - done);
    if (written <= 0) break;
    done += static_cast<size_t>(written);
  }
  ::close(fd);
  say("kqfs-fuzz: the failing input is in ");
  say(artifact_path.c_str());
  say("\n");
}

void on_fatal_signal(int signal) {
  dump_input();
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

void install_handlers() {
  // Sanitizers handle SEGV and friends themselves, with a better report:
  // under one, only abort() (a broken check, or abort_on_error) is ours.
  const bool sanitized = __sanitizer_set_death_callback != nullptr;
  if (sanitized) __sanitizer_set_death_callback(dump_input);
  for (const int signal : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP}) {
    if (sanitized && signal != SIGABRT) continue;
    struct sigaction action {};
    action.sa_handler = on_fatal_signal;
    ::sigaction(signal, &action, nullptr);
  }
}

void run_one(const std::string& input, const char* file = nullptr) {
  // A copy of exactly its size, so a read past its end is caught (ASan).
  const std::vector<uint8_t> copy(input.begin(), input.end());
  current_input = copy.data();
  current_size = copy.size();
  current_file = file;
  in_flight = true;
  LLVMFuzzerTestOneInput(copy.data(), copy.size());
  in_flight = false;
}

// ------------------------------------------------------------ the mutator

// Bytes and tokens that matter to the record formats: separators, signs,
// and numbers at the edges of each field's range.
const std::array<std::string_view, 33> kTokens = {
    " ",
    "\t",
    "\n",
    "\r\n",
    "|",
    "#",
    "-",
    "+",
    "0x",
    "0",
    "-1",
    "32767",
    "-32768",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "0xffffffffffffffff",
    "0x10000000000000000",
    "\"",
    "{",
    "}",
    ":",
    ",",
    "\\u0000",
    std::string_view("\0", 1),
    "\xff",
};

class Mutator {
 public:
  Mutator(uint64_t seed, const std::vector<std::string>& corpus, size_t max_len)
      : random_(seed), corpus_(corpus), max_len_(max_len) {}

  std::string next() {
    std::string input = base();
    const size_t count = 1 + below(4);
    for (size_t i = 0; i < count; ++i)
      mutate(input);
    if (input.size() > max_len_) input.resize(max_len_);
    previous_ = input;
    return input;
  }

 private:
  size_t below(size_t bound) { return bound == 0 ? 0 : static_cast<size_t>(random_() % bound); }
  size_t position(const std::string& input) { return below(input.size() + 1); }

  const std::string& any_entry() {
    static const std::string empty;
    return corpus_.empty() ? empty : corpus_[below(corpus_.size())];
  }

  std::string base() {
    switch (below(10)) {
      case 0: {  // a few random bytes
        std::string input(below(64), '\0');
        for (char& c : input)
          c = static_cast<char>(random_());
        return input;
      }
      case 1:
      case 2:  // the last one again, to go deeper
        return previous_;
      default:
        return any_entry();
    }
  }

  // 1 to `most` bytes of `from`, at a random place.
  std::string slice(const std::string& from, size_t most) {
    if (from.empty()) return {};
    const size_t start = below(from.size());
    return from.substr(start, 1 + below(std::min(most, from.size() - start)));
  }

  void mutate(std::string& input) {
    switch (below(11)) {
      case 0:  // flip a bit
        if (!input.empty()) input[below(input.size())] ^= static_cast<char>(1u << below(8));
        break;
      case 1:  // any byte
        if (!input.empty()) input[below(input.size())] = static_cast<char>(random_());
        break;
      case 2:  // a little more or less
        if (!input.empty()) {
          input[below(input.size())] += static_cast<char>(below(9)) - 4;
        }
        break;
      case 3:  // a token of the formats
        input.insert(position(input), kTokens[below(kTokens.size())]);
        break;
      case 4: {  // a token of the formats in place of some bytes
        const size_t at = position(input);
        input.replace(at, below(8), kTokens[below(kTokens.size())]);
        break;
      }
      case 5:  // a piece of another input: names, numbers, whole lines
        input.insert(position(input), slice(any_entry(), 32));
        break;
      case 6:  // a piece of itself, again
        input.insert(position(input), slice(input, 64));
        break;
      case 7:  // bytes gone
        if (!input.empty()) {
          const size_t at = below(input.size());
          input.erase(at, 1 + below(16));
        }
        break;
      case 8: {  // the head of one input and the tail of another
        const std::string& other = any_entry();
        input = input.substr(0, position(input)) + other.substr(below(other.size() + 1));
        break;
      }
      case 9:  // cut short
        input.resize(position(input));
        break;
      default:
        overwrite_integer(input);
        break;
    }
  }

  // For binary records: a field-sized little-endian number at the edge of
  // a range, or a filter's value.
  void overwrite_integer(std::string& input) {
    static constexpr std::array<size_t, 4> kWidths = {1, 2, 4, 8};
    const size_t width = kWidths[below(kWidths.size())];
    if (input.size() < width) return;
    uint64_t value = 0;
    switch (below(5)) {
      case 0:
        value = 0;
        break;
      case 1:
        value = ~uint64_t{0};  // -1
        break;
      case 2:
        value = uint64_t{1} << (8 * width - 1);  // the most negative
        break;
      case 3:
        value = (uint64_t{1} << (8 * width - 1)) - 1;  // the most positive
        break;
      default:
        value = static_cast<uint64_t>(-1 - static_cast<int64_t>(below(13)));  // EVFILT_*
        break;
    }
    const size_t at = below(input.size() - width + 1) & ~(width - 1);
    std::memcpy(input.data() + at, &value, width);  // little-endian host
  }

  std::mt19937_64 random_;  // specified by the standard: the same everywhere
  const std::vector<std::string>& corpus_;
  size_t max_len_;
  std::string previous_;
};

// --------------------------------------------------------- command line

std::optional<uint64_t> number(std::string_view text) {
  uint64_t value = 0;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || status != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

[[noreturn]] void usage(const char* program, int status) {
  std::fprintf(status == 0 ? stdout : stderr,
               "usage: %s [--runs=N] [--seed=S] [--max-len=N] [--seconds=T] [FILE|DIR]...\n"
               "Runs each input file, then N inputs mutated from them with seed S (at most\n"
               "max-len bytes; stops after T seconds if given). Defaults: KQFS_FUZZ_RUNS,\n"
               "KQFS_FUZZ_SEED, KQFS_FUZZ_SECONDS, else 10000, 1, no limit.\n",
               program);
  std::exit(status);
}

Options parse_options(int argc, char** argv) {
  Options options;
  const auto from_env = [](const char* name) -> std::optional<uint64_t> {
    const char* value = std::getenv(name);
    return value != nullptr ? number(value) : std::nullopt;
  };
  if (auto runs = from_env("KQFS_FUZZ_RUNS")) options.runs = *runs;
  if (auto seed = from_env("KQFS_FUZZ_SEED")) options.seed = *seed;
  if (auto seconds = from_env("KQFS_FUZZ_SECONDS")) options.seconds = static_cast<double>(*seconds);

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with('-')) {
      options.paths.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(arg.starts_with("--") ? 2 : 1);
    if (arg == "help" || arg == "h") usage(argv[0], 0);
    const size_t equals = arg.find('=');
    std::string name(arg.substr(0, equals));
    std::replace(name.begin(), name.end(), '_', '-');
    const auto value =
        equals == std::string_view::npos ? std::nullopt : number(arg.substr(equals + 1));
    if (!value) usage(argv[0], 2);
    if (name == "runs") {
      options.runs = *value;
    } else if (name == "seed") {
      options.seed = *value;
    } else if (name == "max-len") {
      options.max_len = *value;
    } else if (name == "seconds" || name == "max-total-time") {
      options.seconds = static_cast<double>(*value);
    } else {
      usage(argv[0], 2);
    }
  }
  return options;
}

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// Every file under the paths, in a fixed order (directory order is not).
std::vector<fs::path> input_files(const std::vector<std::string>& paths) {
  std::vector<fs::path> files;
  for (const std::string& path : paths) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
      for (const auto& entry : fs::recursive_directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else if (fs::is_regular_file(path, error)) {
      files.emplace_back(path);
    } else {
      std::fprintf(stderr, "kqfs-fuzz: no such file or directory: %s\n", path.c_str());
      std::exit(1);
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const std::string program = fs::path(argv[0]).filename().string();
  const char* artifacts = std::getenv("KQFS_FUZZ_ARTIFACTS");
  artifact_path =
      (fs::path(artifacts != nullptr ? artifacts : ".") / (std::string("crash-") + program))
          .string();
  install_handlers();
  const Clock::time_point start = Clock::now();

  std::vector<std::string> corpus;
  for (const fs::path& file : input_files(options.paths)) {
    corpus.push_back(read_file(file));
    run_one(corpus.back(), file.c_str());
  }

  Mutator mutator(options.seed, corpus, options.max_len);
  uint64_t generated = 0;
  double last_report = 0;
  for (; generated < options.runs; ++generated) {
    // The clock is read now and then: it costs more than a small input.
    if ((generated & 255) == 0) {
      const double elapsed = seconds_since(start);
      if (options.seconds > 0 && elapsed >= options.seconds) break;
      if (elapsed - last_report >= 10) {
        std::printf("%s: %llu inputs, %.0f s\n", program.c_str(),
                    static_cast<unsigned long long>(generated), elapsed);
        std::fflush(stdout);
        last_report = elapsed;
      }
    }
    run_one(mutator.next());
  }

  std::printf(
      "%s: ran %zu corpus inputs and %llu generated (seed %llu, at most %zu bytes) in "
      "%.2f s\n",
      program.c_str(), corpus.size(), static_cast<unsigned long long>(generated),
      static_cast<unsigned long long>(options.seed), options.max_len, seconds_since(start));
  return 0;
}
