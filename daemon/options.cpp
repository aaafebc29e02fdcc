#include "daemon/options.hpp"

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "kqfs/mount_point.hpp"

namespace kqfsd {

namespace po = boost::program_options;

// --help after the options: what else decides how kqfsd runs and ends.
constexpr const char* kHelpAfterOptions =
    "Environment:\n"
    "  KQFS_MOUNT       the default MOUNTPOINT, when set and not empty\n"
    "  XDG_RUNTIME_DIR  else the default is $XDG_RUNTIME_DIR/kqfs, else /run/kqfs\n"
    "                   (a default MOUNTPOINT is made if missing)\n"
    "  NOTIFY_SOCKET    set by systemd (Type=notify): READY=1 once the mount is\n"
    "                   ready, STATUS= lines, STOPPING=1 when it unmounts\n"
    "  JOURNAL_STREAM   set by systemd: when it names standard error, log lines\n"
    "                   carry <N> priorities for the journal\n"
    "\n"
    "Signals:\n"
    "  SIGTERM, SIGINT  unmount and exit\n"
    "  SIGHUP           reopen the --log file (after logrotate)\n"
    "\n"
    "Exit status:\n"
    "  0  mounted (without -f, once the mount is ready), or unmounted on SIGTERM\n"
    "     or SIGINT\n"
    "  1  could not start: the mount, the log file, or an error while serving\n"
    "  2  a bad command line or configuration file\n"
    "\n"
    "The mount's status file, MOUNTPOINT/status, says what runs: see kqfsd(8).\n";

ParsedCommandLine parse_command_line(int argc, char** argv) {
  Options options;
  std::string config_file;
  bool debug = false;
  std::string log_level = "info";

  po::options_description general("Options");
  general.add_options()("help,h", "show this help and exit")("version,V",
                                                             "show the version and exit")(
      "foreground,f", po::bool_switch(&options.foreground),
      "stay in the foreground (otherwise return once the mount is ready)")(
      "debug,d", po::bool_switch(&debug), "log every request (the same as --log-level debug)")(
      "option,o", po::value<std::vector<std::string>>(&options.fuse_options)->composing(),
      "a FUSE mount option, e.g. allow_other (repeatable, comma lists accepted)")(
      "max-queues", po::value<size_t>(&options.max_queues)->default_value(options.max_queues),
      "most queues at once; past it mkdir and clone fail with ENOSPC")(
      "max-knotes", po::value<size_t>(&options.max_knotes)->default_value(options.max_knotes),
      "most knotes in one queue; past it a change fails with ENOSPC")(
      "max-queues-per-user",
      po::value<size_t>(&options.max_queues_per_user)->default_value(options.max_queues_per_user),
      "most queues one user may own; past it mkdir and clone fail with ENOSPC")(
      "max-knotes-per-user",
      po::value<size_t>(&options.max_knotes_per_user)->default_value(options.max_knotes_per_user),
      "most knotes in all the queues one user owns; past it a change fails with ENOSPC")(
      "max-buffered-per-user",
      po::value<size_t>(&options.max_buffered_per_user)
          ->default_value(options.max_buffered_per_user),
      "most bytes of unfinished lines one user's open files may keep; past it a write fails "
      "with ENOSPC")(
      "signal-buffer-kb",
      po::value<size_t>(&options.signal_buffer_kb)->default_value(options.signal_buffer_kb),
      "kernel buffer per CPU for EVFILT_SIGNAL, in KiB (one tracefs instance for all queues; "
      "about 20 signals per KiB between two reads, more are lost)")(
      "busy-poll-us",
      po::value<unsigned>(&options.busy_poll_us)->default_value(options.busy_poll_us),
      "after answering, read the FUSE device for up to N microseconds before sleeping, while "
      "requests come quickly (a client asking again at once is answered without a wake-up, at "
      "the price of CPU time); 0 turns it off")(
      "nonempty", po::bool_switch(&options.nonempty),
      "mount even if MOUNTPOINT has files in it (they are hidden while mounted)")(
      "log", po::value<std::string>(&options.log_file),
      "append the log to FILE instead of standard error (detached: syslog)")(
      "log-level", po::value<std::string>(&log_level)->default_value(log_level),
      "the least severe messages logged: error, warning, info or debug")(
      "config", po::value<std::string>(&config_file),
      "read options from FILE (lines of name = value, e.g. max-queues = 100)");

  po::options_description hidden;
  hidden.add_options()("mount-point", po::value<std::string>(&options.mount_point));
  po::positional_options_description positional;
  positional.add("mount-point", 1);

  po::options_description all;
  all.add(general).add(hidden);

  const std::string usage =
      "Usage: kqfsd [options] [MOUNTPOINT]\n"
      "Mounts kqfs, kqueue as files, at MOUNTPOINT (default: " +
      kqfs::default_mount_point() + ").\n";
  po::variables_map values;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(),
              values);
    po::notify(values);
    if (!config_file.empty()) {
      std::ifstream config(config_file);
      if (!config) {
        std::cerr << "kqfsd: cannot read config file " << config_file << "\n";
        return {std::nullopt, 2};
      }
      // The command line was stored first, so it wins over the file.
      po::store(po::parse_config_file(config, general), values);
      po::notify(values);
    }
  } catch (const po::error& error) {
    std::cerr << "kqfsd: " << error.what() << "\n" << usage << "Try 'kqfsd --help'.\n";
    return {std::nullopt, 2};
  }

  if (values.count("help")) {
    std::cout << usage << "\n" << general << "\n" << kHelpAfterOptions;
    return {std::nullopt, 0};
  }
  if (values.count("version")) {
    std::cout << "kqfsd " << KQFS_VERSION << "\n";
    return {std::nullopt, 0};
  }
  if (const auto level = Log::level_named(log_level)) {
    options.log_level = debug ? Log::Level::debug : *level;
  } else {
    std::cerr << "kqfsd: --log-level is one of error, warning, info, debug, not '" << log_level
              << "'\n";
    return {std::nullopt, 2};
  }
  if (options.mount_point.empty()) options.mount_point = kqfs::default_mount_point();
  // A detached daemon works from /: paths given relative are made whole now.
  std::error_code ignored;
  options.mount_point = std::filesystem::absolute(options.mount_point, ignored).string();
  if (!options.log_file.empty()) {
    options.log_file = std::filesystem::absolute(options.log_file, ignored).string();
  }
  if (options.max_queues == 0 || options.max_knotes == 0 || options.max_queues_per_user == 0 ||
      options.max_knotes_per_user == 0 || options.max_buffered_per_user == 0 ||
      options.signal_buffer_kb == 0) {
    std::cerr << "kqfsd: limits must be at least 1\n";
    return {std::nullopt, 2};
  }
  // A spin holds up the daemon's other work (timers, signals) that long.
  if (options.busy_poll_us > kMostBusyPollMicroseconds) {
    std::cerr << "kqfsd: --busy-poll-us is at most " << kMostBusyPollMicroseconds << "\n";
    return {std::nullopt, 2};
  }
  return {options, 0};
}

}  // namespace kqfsd
