// kqfs-bench: measures kqfs against the in-process engine, raw epoll and
// the FUSE floor in one run, and prints a table plus `ratio NAME VALUE`
// lines.
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bench/cases.hpp"
#include "bench/clock.hpp"
#include "bench/context.hpp"
#include "bench/mount.hpp"
#include "bench/report.hpp"

namespace {

namespace po = boost::program_options;
using kqfs::bench::kCases;

struct CommandLine {
  kqfs::bench::Settings settings;
  std::string mount_point;  // empty: start kqfsd
  std::string kqfsd;
  std::vector<std::string> cases;  // empty: all
};

constexpr int kQuickRepetitions = 2;

std::string case_list() {
  size_t width = 0;
  for (const auto& one : kCases)
    width = std::max(width, one.name.size());
  std::string text;
  for (const auto& one : kCases) {
    text += "  " + std::string(one.name) + std::string(width + 2 - one.name.size(), ' ') +
            std::string(one.summary) + "\n";
  }
  return text;
}

// The parsed command line, or the exit code when there is nothing to run.
std::variant<CommandLine, int> parse_command_line(int argc, char** argv) {
  CommandLine parsed;
  po::options_description options("Options");
  options.add_options()("help,h", "show this help and exit")(
      "quick", po::bool_switch(&parsed.settings.quick),
      "small sizes and 2 repetitions: every case in well under a minute (CI smoke run)")(
      "mount", po::value<std::string>(&parsed.mount_point),
      "measure the kqfs already mounted at DIR")(
      "kqfsd", po::value<std::string>(&parsed.kqfsd),
      "start this kqfsd on temporary mounts (default: the kqfsd of this build tree)")(
      "repetitions", po::value<int>(&parsed.settings.repetitions),
      "repetitions of each measurement (default 5, with --quick 2); medians are reported")(
      "case", po::value<std::vector<std::string>>(&parsed.cases)->composing(),
      "run only this case (repeatable)");

  const std::string usage =
      "Usage: kqfs-bench [options]\n"
      "Measures kqfs through its mount against the in-process engine, raw epoll and the FUSE\n"
      "floor (kqfs-fuse-floor, a no-op libfuse daemon beside this program), in one run.\n"
      "Prints a table per case (median, min .. max over the repetitions, which way is\n"
      "better, the target) and machine-readable lines:\n"
      "  ratio NAME VALUE    kqfs divided by its baseline, for the figure named\n"
      "  figure NAME VALUE   a figure with a target of its own (bytes, seconds, per second)\n";
  po::variables_map values;
  try {
    po::store(po::parse_command_line(argc, argv, options), values);
    po::notify(values);
  } catch (const po::error& error) {
    std::cerr << "kqfs-bench: " << error.what() << "\nTry 'kqfs-bench --help'.\n";
    return 2;
  }
  if (values.count("help")) {
    std::cout << usage << "\n" << options << "\nCases:\n" << case_list();
    return 0;
  }
  if (!values.count("repetitions")) {
    parsed.settings.repetitions = parsed.settings.quick ? kQuickRepetitions : 5;
  }
  if (parsed.settings.repetitions < 1) {
    std::cerr << "kqfs-bench: --repetitions must be at least 1\n";
    return 2;
  }
  if (!parsed.mount_point.empty() && !parsed.kqfsd.empty()) {
    std::cerr << "kqfs-bench: give --mount or --kqfsd, not both\n";
    return 2;
  }
  for (const std::string& name : parsed.cases) {
    bool known = false;
    for (const auto& one : kCases)
      known = known || one.name == name;
    if (!known) {
      std::cerr << "kqfs-bench: no case '" << name << "'; the cases are:\n" << case_list();
      return 2;
    }
  }
  if (parsed.mount_point.empty() && parsed.kqfsd.empty()) {
    parsed.kqfsd = kqfs::bench::kqfsd_beside_this_program();
  }
  return parsed;
}

// The raw epoll baselines hold a descriptor per timer or user event.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The load averages: other work on the machine skews the figures.
std::string load_average() {
  std::ifstream loadavg("/proc/loadavg");
  double one = 0, five = 0, fifteen = 0;
  loadavg >> one >> five >> fifteen;
  char text[64];
  std::snprintf(text, sizeof text, "%.2f %.2f %.2f", one, five, fifteen);
  return text;
}

std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

void print_header(kqfs::bench::Report& report, int argc, char** argv,
                  const kqfs::bench::Mounts& mounts, const kqfs::bench::Settings& settings) {
  std::string command;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) command += ' ';
    command += argv[i];
  }
  utsname system{};
  ::uname(&system);
  report.header("kqfs-bench: " + command);
  report.header("machine: " + cpu_model() + ", " + std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)) +
                " cores online, Linux " + system.release);
  report.header("kqfs: " + mounts.description());
  report.header("load average at the start: " + load_average());
  report.header(std::string(settings.quick ? "quick run, " : "") +
                std::to_string(settings.repetitions) + " repetitions");
}

bool wanted(const CommandLine& parsed, std::string_view name) {
  if (parsed.cases.empty()) return true;
  for (const std::string& one : parsed.cases) {
    if (one == name) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const auto parsed = parse_command_line(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  const CommandLine& command_line = std::get<CommandLine>(parsed);

  raise_descriptor_limit();
  const kqfs::bench::Stopwatch run_time;
  kqfs::bench::Report report(stdout);
  try {
    auto mounts = command_line.mount_point.empty()
                      ? kqfs::bench::Mounts::started_from(command_line.kqfsd)
                      : kqfs::bench::Mounts::existing(command_line.mount_point);
    print_header(report, argc, argv, mounts, command_line.settings);
    kqfs::bench::Context context{command_line.settings, mounts, report};
    for (const auto& one : kCases) {
      if (wanted(command_line, one.name)) one.run(context);
    }
    // A daemon built with sanitizers must have stayed clean.
    const std::vector<std::string> reports = mounts.finish();
    for (const std::string& log : reports)
      std::cerr << "kqfs-bench: sanitizer report in the log of kqfsd:\n" << log;
    if (!reports.empty()) return 1;
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::cerr << "kqfs-bench: " << error.what() << "\n";
    return 1;
  }
  std::printf("\n");
  report.header("load average at the end: " + load_average());
  report.header("finished in " + std::to_string(std::lround(run_time.seconds())) + " s");
  return 0;
}
