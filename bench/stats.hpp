// Summaries of repeated measurements: median, percentiles, min and max.
#pragma once

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace kqfs::bench {

// One figure over the repetitions of a measurement.
struct Summary {
  double median = 0;
  double min = 0;
  double max = 0;
};

// The value below which `fraction` (0..1) of `samples` lie, by the
// nearest-rank method (p99 of 20 000 samples is the 19 800th smallest).
inline double percentile(std::vector<double> samples, double fraction) {
  if (samples.empty()) throw std::invalid_argument("percentile of no samples");
  const size_t rank =
      static_cast<size_t>(std::ceil(fraction * static_cast<double>(samples.size())));
  const size_t index = std::clamp<size_t>(rank, 1, samples.size()) - 1;
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(index),
                   samples.end());
  return samples[index];
}

// The middle value; for an even count, the mean of the two middle ones.
inline double median(std::vector<double> samples) {
  if (samples.empty()) throw std::invalid_argument("median of no samples");
  std::sort(samples.begin(), samples.end());
  const size_t middle = samples.size() / 2;
  return samples.size() % 2 == 1 ? samples[middle] : (samples[middle - 1] + samples[middle]) / 2;
}

inline Summary summarize(const std::vector<double>& samples) {
  const auto [smallest, largest] = std::minmax_element(samples.begin(), samples.end());
  if (smallest == samples.end()) throw std::invalid_argument("summary of no samples");
  return Summary{median(samples), *smallest, *largest};
}

// Element-wise numerator[i] / denominator[i]: the ratio of each repetition,
// measured side by side.
inline std::vector<double> ratios(const std::vector<double>& numerator,
                                  const std::vector<double>& denominator) {
  if (numerator.size() != denominator.size()) {
    throw std::invalid_argument("ratios of series of different lengths");
  }
  std::vector<double> result;
  result.reserve(numerator.size());
  for (size_t i = 0; i < numerator.size(); ++i)
    result.push_back(numerator[i] / denominator[i]);
  return result;
}

}  // namespace kqfs::bench
