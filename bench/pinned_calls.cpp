#include "bench/pinned_calls.hpp"

#include "bench/clock.hpp"
#include "bench/stats.hpp"

namespace kqfs::bench {

PinnedCalls::PinnedCalls(std::vector<PinnedCall> calls, int count, int repetitions)
    : calls_(std::move(calls)),
      placements_(client_daemon_placements()),
      seconds_(placements_.size(), std::vector<std::vector<double>>(calls_.size())) {
  for (const PinnedCall& kind : calls_) {
    for (int i = 0; i < count / 10; ++i)
      kind.call();
  }
  for (int repetition = 0; repetition < repetitions; ++repetition) {
    for (size_t placement = 0; placement < placements_.size(); ++placement) {
      for (size_t kind = 0; kind < calls_.size(); ++kind) {
        const Pinned pinned(placements_[placement], calls_[kind].daemon);
        seconds_[placement][kind].push_back(seconds_per_step(count, calls_[kind].call));
      }
    }
  }
}

void PinnedCalls::report_rows(Report& report, bool as_rates, const std::string& unit) const {
  for (size_t placement = 0; placement < placements_.size(); ++placement) {
    for (size_t kind = 0; kind < calls_.size(); ++kind) {
      const std::string what = placements_[placement].label + ": " + calls_[kind].what;
      const std::vector<double>& values = seconds_[placement][kind];
      report.row(what + ", per " + unit, summarize(values), Quantity::duration, Better::lower);
      if (!as_rates) continue;
      std::vector<double> rates;
      for (const double one : values)
        rates.push_back(1 / one);
      report.row(what + ", " + unit + "s/s", summarize(rates), Quantity::rate, Better::higher);
    }
  }
}

void PinnedCalls::report_ratios(Report& report, const std::string& figure, size_t numerator,
                                size_t denominator, std::optional<Target> target) const {
  const std::string a = calls_[numerator].name;
  const std::string b = calls_[denominator].name;
  for (size_t placement = 0; placement < placements_.size(); ++placement) {
    const CpuPlacement& where = placements_[placement];
    report.ratio(
        figure + "_" + where.name + "." + a + "/" + b,
        "ratio " + where.label + ": " + a + " / " + b,
        summarize(ratios(seconds_[placement][numerator], seconds_[placement][denominator])),
        Better::lower, target);
  }
}

void PinnedCalls::note_placement(Report& report, pid_t kqfsd) const {
  if (placements_.size() == 1) report.note("only one CPU allowed: no cross-CPU figures");
  if (kqfsd <= 0) report.note("kqfsd's pid is unknown: kqfsd was not pinned");
}

}  // namespace kqfs::bench
