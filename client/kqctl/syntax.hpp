// kqctl's command lines: exit statuses, the errors that end a command, and
// one subcommand's options and operands, parsed with Boost.Program_options,
// with --help on every subcommand.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kqctl {

namespace po = boost::program_options;

// Exit statuses (`kqctl --help` lists them).
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;   // an operation failed
inline constexpr int kExitUsage = 2;     // a bad command line
inline constexpr int kExitTimedOut = 3;  // wait: the timeout passed before COUNT events

// Ends a command: main prints "kqctl COMMAND: " and the message on stderr
// and exits with exit_code().
class Failure : public std::runtime_error {
 public:
  explicit Failure(const std::string& message, int exit_code = kExitFailure)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// A bad command line: main adds a pointer to --help and exits with kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What main hands a subcommand: the mount named by the global options (or
// the default) and the arguments after the subcommand's name.
struct Invocation {
  std::string mount;
  std::vector<std::string> args;
};

// A subcommand's command line once parsed.
struct Arguments {
  std::string mount;  // a --mount after the subcommand wins over one before it
  po::variables_map values;

  bool has(const char* key) const { return values.count(key) > 0; }
  const std::string& text(const char* key) const { return values[key].as<std::string>(); }
  const std::vector<std::string>& texts(const char* key) const {
    return values[key].as<std::vector<std::string>>();
  }
};

// The options and operands of one subcommand.
class Syntax {
 public:
  // --help prints "Usage: kqctl [--mount DIR] COMMAND USAGE", then
  // `description` (lines ending in '\n'), then the options.
  Syntax(std::string command, std::string usage, std::string description);
  Syntax(const Syntax&) = delete;
  Syntax& operator=(const Syntax&) = delete;

  // The subcommand's own options, as options_description::add_options.
  po::options_description_easy_init options() { return options_.add_options(); }

  // The next operand, stored under `key`; `display` names it in errors
  // ("NAME"). Every operand is required; a `rest` operand (the last) takes
  // every remaining argument, at least one.
  void operand(const char* key, std::string display, bool rest = false);
  // An operand that may be left out (after the required ones).
  void optional_operand(const char* key, std::string display);

  // The parsed command line, or nothing when --help was asked for (and
  // printed). Throws UsageError.
  std::optional<Arguments> parse(const Invocation& invocation) const;

 private:
  // "kqctl [--mount DIR] COMMAND USAGE"
  std::string usage_line() const;

  struct Operand {
    std::string key;
    std::string display;
    bool required = true;
  };

  std::string command_;
  std::string usage_;
  std::string description_;
  po::options_description options_{"Options"};
  po::options_description common_{"Common options"};
  po::options_description hidden_;
  po::positional_options_description positional_;
  std::vector<Operand> operands_;
};

// An argument split into what a program_options parser sees: the global
// options before the subcommand's name, the name, and the rest.
struct SplitCommandLine {
  std::vector<std::string> global;
  std::optional<std::string> command;
  std::vector<std::string> rest;
};

// Splits argv at the first argument that is neither an option of `global`
// nor the value of one.
SplitCommandLine split_at_command(int argc, char** argv, const po::options_description& global);

// Parses `args` by `description` and `positional`, taking "-11" (a
// negative number, e.g. EVFILT_USER) as an operand rather than an option.
po::variables_map parse_arguments(const std::vector<std::string>& args,
                                  const po::options_description& description,
                                  const po::positional_options_description& positional);

// Whole numbers and durations in command lines; UsageError names `what`.
unsigned long long parse_count(const std::string& text, const std::string& what);
double parse_seconds(const std::string& text, const std::string& what);

}  // namespace kqctl
