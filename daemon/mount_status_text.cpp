#include "daemon/mount_status_text.hpp"

#include <ranges>
#include <string_view>
#include <vector>

namespace kqfsd {
namespace {

void add_line(std::string& text, std::string_view key, std::string_view value) {
  text.append(key).append(": ").append(value).append("\n");
}

// The -o options one by one, comma lists split.
std::vector<std::string> fuse_options_of(const Options& options) {
  std::vector<std::string> each;
  for (const std::string& given : options.fuse_options) {
    for (const auto part : std::views::split(given, ',')) {
      if (!std::ranges::empty(part))
        each.emplace_back(std::ranges::begin(part), std::ranges::end(part));
    }
  }
  return each;
}

}  // namespace

bool allows_others(const Options& options) {
  for (const std::string& option : fuse_options_of(options)) {
    if (option == "allow_other") return true;
  }
  return false;
}

std::string mount_status_text(const Options& options, const MountFacts& facts,
                              std::span<const KernelFeature> features) {
  std::string text;
  auto line = [&text](std::string_view key, std::string_view value) { add_line(text, key, value); };
  auto number = [&line](std::string_view key, uint64_t value) { line(key, std::to_string(value)); };
  line("version", KQFS_VERSION);
  number("pid", static_cast<uint64_t>(facts.pid));
  number("uptime", facts.uptime_seconds);
  line("mount-point", options.mount_point);
  std::string fuse_options;
  for (const std::string& option : fuse_options_of(options)) {
    fuse_options.append(fuse_options.empty() ? "" : ",").append(option);
  }
  line("mount-options", fuse_options.empty() ? "none" : fuse_options);
  line("allow-other", allows_others(options) ? "yes" : "no");
  number("queues", facts.totals.queues);
  number("knotes", facts.totals.knotes);
  number("readers", facts.totals.readers);
  number("open-handles", facts.totals.open_handles);
  for (const KernelFeature& feature : features) {
    line("feature." + std::string(feature.name),
         feature.available() ? "yes" : "no (" + feature.why_not + ")");
  }
  // Named as on the command line, so a line reads as the option that set it.
  number("max-queues", options.max_queues);
  number("max-knotes", options.max_knotes);
  number("max-queues-per-user", options.max_queues_per_user);
  number("max-knotes-per-user", options.max_knotes_per_user);
  number("max-buffered-per-user", options.max_buffered_per_user);
  number("signal-buffer-kb", options.signal_buffer_kb);
  number("busy-poll-us", options.busy_poll_us);
  return text;
}

}  // namespace kqfsd
