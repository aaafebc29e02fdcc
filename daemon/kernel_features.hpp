// What the kernel lets this daemon do, probed once at its start, as the
// filters and the daemon will find it: the mount's status shows each with
// yes, or no and why (docs/design.md).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kqfsd {

struct KernelFeature {
  std::string_view name;  // status shows it as feature.NAME
  std::string why_not;    // empty when available; else why, and what is lost
  bool available() const { return why_not.empty(); }
};

// Each in the order status lists them. Tries each once and undoes it (the
// process connector's listen, a tracefs instance): nothing is kept.
std::vector<KernelFeature> probe_kernel_features();

}  // namespace kqfsd
