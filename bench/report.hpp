// What the benchmark prints: per case, a table for people (median and
// min-max over the repetitions, which way is better, the target),
// then one machine-readable line per comparison:
//   ratio NAME VALUE    kqfs divided by its baseline, for the figure named
//   figure NAME VALUE   a figure with a target of its own, in base units
#pragma once

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

class Report {
 public:
  explicit Report(std::FILE* out) : out_(out) {}

  // A line for the run's header (machine, command, mount).
  void header(const std::string& line);

  // Starts a case's table; `setup` says what was measured, and how often.
  void begin_case(const std::string& title, const std::string& setup);
  // A measured figure.
  void row(const std::string& what, const Summary& summary, Quantity quantity, Better better);
  // A measured figure with a target; `name` names its
  // machine-readable line.
  void figure(const std::string& name, const std::string& what, const Summary& summary,
              Quantity quantity, Better better, std::optional<Target> target);
  // kqfs divided by a baseline (one value per repetition, measured side by
  // side), with its target if it has one.
  void ratio(const std::string& name, const std::string& what, const Summary& summary,
             Better better, std::optional<Target> target);
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
