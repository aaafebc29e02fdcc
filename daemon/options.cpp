#include "daemon/options.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "kqfs/mount_point.hpp"

namespace kqfsd {

namespace po = boost::program_options;

ParsedCommandLine parse_command_line(int argc, char** argv) {
  Options options;
  std::string config_file;

  po::options_description general("Options");
  general.add_options()("help,h", "show this help and exit")("version,V",
                                                             "show the version and exit")(
      "foreground,f", po::bool_switch(&options.foreground),
      "stay in the foreground (otherwise return once the mount is ready)")(
      "debug,d", po::bool_switch(&options.debug),
      "log every request (to --log FILE, else standard error)")(
      "option,o", po::value<std::vector<std::string>>(&options.fuse_options)->composing(),
      "a FUSE mount option, e.g. allow_other (repeatable, comma lists accepted)")(
      "max-queues", po::value<size_t>(&options.max_queues)->default_value(options.max_queues),
      "most queues at once; past it mkdir and clone fail with ENOSPC")(
      "max-knotes", po::value<size_t>(&options.max_knotes)->default_value(options.max_knotes),
      "most knotes in one queue; past it a change fails with ENOSPC")(
      "nonempty", po::bool_switch(&options.nonempty),
      "mount even if MOUNTPOINT has files in it (they are hidden while mounted)")(
      "log", po::value<std::string>(&options.log_file),
      "append the log to FILE instead of standard error")(
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
    std::cout << usage << "\n" << general;
    return {std::nullopt, 0};
  }
  if (values.count("version")) {
    std::cout << "kqfsd " << KQFS_VERSION << "\n";
    return {std::nullopt, 0};
  }
  if (options.mount_point.empty()) options.mount_point = kqfs::default_mount_point();
  if (options.max_queues == 0 || options.max_knotes == 0) {
    std::cerr << "kqfsd: limits must be at least 1\n";
    return {std::nullopt, 2};
  }
  return {options, 0};
}

}  // namespace kqfsd
