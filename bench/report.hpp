// What the benchmark prints: per case, a table for people (median and
// min-max over the repetitions, which way is better, the target),
// then one machine-readable line per comparison:
//   ratio NAME VALUE    kqfs divided by its baseline, for the figure named
//   figure NAME VALUE   a figure with a target of its own, in base units
#pragma once

#include <array>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "bench/stats.hpp"

namespace kqfs::bench {

// How a figure is printed: a rate per second, a duration in seconds, a size
// in bytes, a plain ratio, or a count of things.
enum class Quantity { rate, duration, bytes, ratio, count };

enum class Better { higher, lower };

// The bound on a figure: at least (Better::higher) or at most
// (Better::lower) `bound`.
struct Target {
  Better direction;
  double bound;
};

// What a case measures side by side, one value per repetition each: kqfs
// through its mount, the in-process engine, and a raw Linux baseline.
struct Variants {
  std::vector<double> mount;
  std::vector<double> engine;
  std::vector<double> baseline;
};

// Runs each variant once per repetition, interleaved, and keeps what each
// returns.
template <class Mount, class Engine, class Baseline>
Variants measure_interleaved(int repetitions, Mount&& mount, Engine&& engine, Baseline&& baseline) {
  Variants values;
  for (int repetition = 0; repetition < repetitions; ++repetition) {
    values.mount.push_back(mount());
    values.engine.push_back(engine());
    values.baseline.push_back(baseline());
  }
  return values;
}

// How a comparison of Variants shows: a row per variant, then kqfs (mount,
// engine) divided by the baseline as the lines `<name>.mount/<baseline>` and
// `<name>.engine/<baseline>`, described as "ratio <prefix>mount / <baseline>
// (<unit>)".
struct Comparison {
  std::string name;                 // "registration"
  std::string baseline;             // "timerfd"
  std::string prefix;               // "p50 " or empty
  std::string unit;                 // "registrations/s" or empty
  std::array<std::string, 3> rows;  // what the mount, engine and baseline rows say
  Quantity quantity;
  Better better;
  std::optional<Target> mount_target;
  std::optional<Target> engine_target;
};

class Report {
 public:
  explicit Report(std::FILE* out) : out_(out) {}

  // A line for the run's header (machine, command, mount).
  void header(const std::string& line);

  // Starts a case's table; `setup` says what was measured, and how often.
  void begin_case(const std::string& title, const std::string& setup);
  // A measured figure.
  void row(const std::string& what, const Summary& summary, Quantity quantity, Better better);
  // A measured figure the issue sets a target for; `name` names its
  // machine-readable line.
  void figure(const std::string& name, const std::string& what, const Summary& summary,
              Quantity quantity, Better better, std::optional<Target> target);
  // kqfs divided by a baseline (one value per repetition, measured side by
  // side), with the target if it has one.
  void ratio(const std::string& name, const std::string& what, const Summary& summary,
             Better better, std::optional<Target> target);
  // Three rows and two ratios, as `how` says.
  void compare(const Comparison& how, const Variants& values);
  // A remark under the table (e.g. why a figure is missing).
  void note(const std::string& text);
  // Ends the table and prints its machine-readable lines.
  void end_case();

 private:
  void print_row(const std::string& what, const std::string& median, const std::string& range,
                 Better better, const std::string& target);

  std::FILE* out_;
  std::vector<std::string> machine_lines_;
  std::vector<std::string> notes_;
};

// A value as the table shows it, e.g. "1.52 M/s", "31.4 us", "120 B".
std::string format_quantity(double value, Quantity quantity);

}  // namespace kqfs::bench
