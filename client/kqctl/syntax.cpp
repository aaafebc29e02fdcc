#include "client/kqctl/syntax.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <iostream>
#include <utility>

namespace kqctl {
namespace {

// "-11" is EVFILT_USER by number, or a signed field: an operand, where
// Boost would otherwise take it for the short option "-1".
std::vector<po::option> negative_numbers_as_operands(std::vector<std::string>& args) {
  std::vector<po::option> parsed;
  const std::string& token = args.front();
  if (token.size() >= 2 && token[0] == '-' && std::isdigit(static_cast<unsigned char>(token[1]))) {
    po::option operand;  // no string_key: positional
    operand.value.push_back(token);
    operand.original_tokens.push_back(token);
    parsed.push_back(std::move(operand));
    args.erase(args.begin());
  }
  return parsed;
}

}  // namespace

Syntax::Syntax(std::string command, std::string usage, std::string description)
    : command_(std::move(command)), usage_(std::move(usage)), description_(std::move(description)) {
  auto add_common = common_.add_options();
  add_common("mount", po::value<std::string>()->value_name("DIR"),
             "the kqfs mount (as before the command)");
  add_common("help,h", "show this help and exit");
}

void Syntax::operand(const char* key, std::string display, bool rest) {
  if (rest) {
    hidden_.add_options()(key, po::value<std::vector<std::string>>());
  } else {
    hidden_.add_options()(key, po::value<std::string>());
  }
  positional_.add(key, rest ? -1 : 1);
  operands_.push_back(Operand{key, std::move(display)});
}

void Syntax::optional_operand(const char* key, std::string display) {
  operand(key, std::move(display));
  operands_.back().required = false;
}

std::string Syntax::usage_line() const {
  return "kqctl [--mount DIR] " + command_ + (usage_.empty() ? "" : " " + usage_);
}

std::optional<Arguments> Syntax::parse(const Invocation& invocation) const {
  po::options_description all;
  all.add(options_).add(common_).add(hidden_);
  Arguments arguments{invocation.mount, {}};
  try {
    arguments.values = parse_arguments(invocation.args, all, positional_);
  } catch (const po::too_many_positional_options_error&) {
    throw UsageError("too many arguments (usage: " + usage_line() + ")");
  } catch (const po::error& error) {
    throw UsageError(error.what());
  }
  if (arguments.has("help")) {
    std::cout << "Usage: " << usage_line() << "\n" << description_;
    if (!options_.options().empty()) std::cout << "\n" << options_;
    std::cout << "\n" << common_;
    return std::nullopt;
  }
  if (arguments.has("mount")) arguments.mount = arguments.text("mount");
  for (const Operand& operand : operands_) {
    if (operand.required && !arguments.has(operand.key.c_str())) {
      throw UsageError("missing " + operand.display);
    }
  }
  return arguments;
}

SplitCommandLine split_at_command(int argc, char** argv, const po::options_description& global) {
  SplitCommandLine split;
  int index = 1;
  for (; index < argc; ++index) {
    const std::string argument = argv[index];
    if (argument.size() < 2 || argument[0] != '-') break;
    split.global.push_back(argument);
    // The option's value may be the next argument ("--mount DIR", not
    // "--mount=DIR" or "-mDIR").
    const bool long_form = argument.starts_with("--");
    if (long_form ? argument.find('=') != std::string::npos : argument.size() > 2) continue;
    const std::string key = long_form ? argument.substr(2) : argument;
    const po::option_description* option = global.find_nothrow(key, true);
    if (option != nullptr && option->semantic()->max_tokens() > 0 && index + 1 < argc) {
      split.global.push_back(argv[++index]);
    }
  }
  if (index < argc) {
    split.command = argv[index];
    split.rest.assign(argv + index + 1, argv + argc);
  }
  return split;
}

po::variables_map parse_arguments(const std::vector<std::string>& args,
                                  const po::options_description& description,
                                  const po::positional_options_description& positional) {
  po::variables_map values;
  po::store(po::command_line_parser(args)
                .options(description)
                .positional(positional)
                .extra_style_parser(negative_numbers_as_operands)
                .run(),
            values);
  po::notify(values);
  return values;
}

unsigned long long parse_count(const std::string& text, const std::string& what) {
  unsigned long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    throw UsageError(what + " must be a whole number, not '" + text + "'");
  }
  return value;
}

double parse_seconds(const std::string& text, const std::string& what) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value) || value < 0) {
    throw UsageError(what + " must be a number of seconds (e.g. 2 or 0.5), not '" + text + "'");
  }
  return value;
}

}  // namespace kqctl
