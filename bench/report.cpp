#include "bench/report.hpp"

namespace kqfs::bench {
namespace {

constexpr int kWhatWidth = 46;
constexpr int kMedianWidth = 12;
constexpr int kRangeWidth = 26;

template <class... Arguments>
std::string printed(const char* format, Arguments... arguments) {
  char text[128];
  std::snprintf(text, sizeof text, format, arguments...);
  return text;
}

bool met(const Target& target, double value) {
  return target.direction == Better::higher ? value >= target.bound : value <= target.bound;
}

std::string target_text(const Target& target, double value, Quantity quantity) {
  return (target.direction == Better::higher ? ">= " : "<= ") +
         format_quantity(target.bound, quantity) + (met(target, value) ? " met" : " MISSED");
}

}  // namespace

std::string format_quantity(double value, Quantity quantity) {
  switch (quantity) {
    case Quantity::rate:
      if (value >= 1e6) return printed("%.4g M/s", value * 1e-6);
      if (value >= 1e3) return printed("%.4g k/s", value * 1e-3);
      return printed("%.4g /s", value);
    case Quantity::duration:
      if (value < 1e-3) return printed("%.4g us", value * 1e6);
      if (value < 1) return printed("%.4g ms", value * 1e3);
      return printed("%.4g s", value);
    case Quantity::bytes:
      if (value >= 1 << 20) return printed("%.4g MiB", value / (1 << 20));
      if (value >= 1 << 10) return printed("%.4g KiB", value / (1 << 10));
      return printed("%.4g B", value);
    case Quantity::ratio:
      return printed("%.3f", value);
    case Quantity::count:
      return printed("%.0f", value);
  }
  return printed("%g", value);
}

void Report::header(const std::string& line) {
  std::fprintf(out_, "# %s\n", line.c_str());
  std::fflush(out_);
}

void Report::begin_case(const std::string& title, const std::string& setup) {
  std::fprintf(out_, "\n== %s ==\n%s\n", title.c_str(), setup.c_str());
  std::fprintf(out_, "  %-*s %-*s %-*s %-7s %s\n", kWhatWidth, "what", kMedianWidth, "median",
               kRangeWidth, "min .. max", "better", "target");
  std::fflush(out_);
}

void Report::print_row(const std::string& what, const std::string& median, const std::string& range,
                       Better better, const std::string& target) {
  std::fprintf(out_, "  %-*s %-*s %-*s %-7s %s\n", kWhatWidth, what.c_str(), kMedianWidth,
               median.c_str(), kRangeWidth, range.c_str(),
               better == Better::higher ? "higher" : "lower", target.c_str());
  std::fflush(out_);
}

void Report::row(const std::string& what, const Summary& summary, Quantity quantity,
                 Better better) {
  print_row(
      what, format_quantity(summary.median, quantity),
      format_quantity(summary.min, quantity) + " .. " + format_quantity(summary.max, quantity),
      better, "");
}

void Report::figure(const std::string& name, const std::string& what, const Summary& summary,
                    Quantity quantity, Better better, std::optional<Target> target) {
  print_row(
      what, format_quantity(summary.median, quantity),
      format_quantity(summary.min, quantity) + " .. " + format_quantity(summary.max, quantity),
      better, target ? target_text(*target, summary.median, quantity) : "");
  machine_lines_.push_back(printed("figure %s %.6g", name.c_str(), summary.median));
}

void Report::ratio(const std::string& name, const std::string& what, const Summary& summary,
                   Better better, std::optional<Target> target) {
  print_row(what, format_quantity(summary.median, Quantity::ratio),
            format_quantity(summary.min, Quantity::ratio) + " .. " +
                format_quantity(summary.max, Quantity::ratio),
            better, target ? target_text(*target, summary.median, Quantity::ratio) : "");
  machine_lines_.push_back(printed("ratio %s %.4f", name.c_str(), summary.median));
}

void Report::compare(const Comparison& how, const Variants& values) {
  row(how.rows[0], summarize(values.mount), how.quantity, how.better);
  row(how.rows[1], summarize(values.engine), how.quantity, how.better);
  row(how.rows[2], summarize(values.baseline), how.quantity, how.better);
  const std::string unit = how.unit.empty() ? "" : " (" + how.unit + ")";
  ratio(how.name + ".mount/" + how.baseline,
        "ratio " + how.prefix + "mount / " + how.baseline + unit,
        summarize(ratios(values.mount, values.baseline)), how.better, how.mount_target);
  ratio(how.name + ".engine/" + how.baseline,
        "ratio " + how.prefix + "engine / " + how.baseline + unit,
        summarize(ratios(values.engine, values.baseline)), how.better, how.engine_target);
}

void Report::note(const std::string& text) {
  notes_.push_back(text);
}

void Report::end_case() {
  for (const std::string& text : notes_)
    std::fprintf(out_, "  note: %s\n", text.c_str());
  for (const std::string& line : machine_lines_)
    std::fprintf(out_, "%s\n", line.c_str());
  notes_.clear();
  machine_lines_.clear();
  std::fflush(out_);
}

}  // namespace kqfs::bench
