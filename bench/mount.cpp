#include "bench/mount.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace kqfs::bench {
namespace {

namespace fs = std::filesystem;
using test_support::command_line_of;

// The first process (other than this one) whose command line satisfies
// `wanted`, or -1.
pid_t find_process(const std::function<bool(pid_t, const std::vector<std::string>&)>& wanted) {
  const std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
  if (!proc) return -1;
  while (const dirent* entry = ::readdir(proc.get())) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0 || pid == ::getpid()) continue;
    if (wanted(pid, command_line_of(pid))) return pid;
  }
  return -1;
}

// The kqfsd serving `mount_point`: a process named kqfsd with the mount
// point among its arguments (relative ones taken from its working directory).
pid_t daemon_serving(const std::string& mount_point) {
  return find_process([&](pid_t pid, const std::vector<std::string>& arguments) {
    if (arguments.empty() || fs::path(arguments[0]).filename() != "kqfsd") return false;
    const fs::path cwd = "/proc/" + std::to_string(pid) + "/cwd";
    for (size_t i = 1; i < arguments.size(); ++i) {
      std::error_code error;
      const fs::path argument = arguments[i];
      const fs::path absolute =
          argument.is_absolute() ? argument : fs::read_symlink(cwd, error) / argument;
      if (!error && fs::weakly_canonical(absolute, error) == mount_point) return true;
    }
    return false;
  });
}

// The directory this program runs from (build/bench), empty if unknown.
fs::path this_program_directory() {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path() : self.parent_path();
}

}  // namespace

PrivateDaemon::~PrivateDaemon() {
  if (const std::string report = stop(); !report.empty()) {
    std::cerr << "kqfs-bench: sanitizer report in the log of kqfsd:\n" << report;
  }
}

std::string PrivateDaemon::stop() {
  daemon_.stop();
  if (reported_) return {};
  reported_ = true;
  return test_support::sanitizer_report_in(daemon_.log());
}

Mounts Mounts::started_from(std::string kqfsd_program) {
  if (::access(kqfsd_program.c_str(), X_OK) != 0) {
    throw std::runtime_error("no kqfsd at " + kqfsd_program +
                             " (give --kqfsd PATH or --mount DIR)");
  }
  Mounts mounts;
  mounts.kqfsd_program_ = std::move(kqfsd_program);
  return mounts;
}

Mounts Mounts::existing(const std::string& mount_point) {
  std::error_code error;
  const std::string path = fs::weakly_canonical(mount_point, error).string();
  if (error || !fs::is_directory(path + "/kq", error)) {
    throw std::runtime_error(mount_point + " is not a kqfs mount (no kq/ directory)");
  }
  Mounts mounts;
  mounts.existing_ = MountView{path, daemon_serving(path)};
  return mounts;
}

MountView Mounts::shared() {
  if (existing_) return *existing_;
  if (!shared_daemon_) shared_daemon_ = std::make_unique<PrivateDaemon>(kqfsd_program_);
  return shared_daemon_->view();
}

MountView Mounts::floor() {
  if (!floor_daemon_) {
    const std::string program = floor_beside_this_program();
    if (::access(program.c_str(), X_OK) != 0) {
      throw std::runtime_error("no FUSE floor at " + program + " (build kqfs-fuse-floor)");
    }
    floor_daemon_ = std::make_unique<PrivateDaemon>(program);
  }
  return floor_daemon_->view();
}

Mounts::Lease::~Lease() {
  if (!owned_) return;
  if (std::string report = owned_->stop(); !report.empty()) {
    sanitizer_reports_.push_back(std::move(report));
  }
}

Mounts::Lease Mounts::dedicated() {
  if (existing_) return Lease(*existing_, nullptr, sanitizer_reports_);
  auto daemon = std::make_unique<PrivateDaemon>(kqfsd_program_);
  const MountView view = daemon->view();
  return Lease(view, std::move(daemon), sanitizer_reports_);
}

std::vector<std::string> Mounts::finish() {
  for (std::unique_ptr<PrivateDaemon>* daemon : {&shared_daemon_, &floor_daemon_}) {
    if (!*daemon) continue;
    if (std::string report = (*daemon)->stop(); !report.empty()) {
      sanitizer_reports_.push_back(std::move(report));
    }
    daemon->reset();
  }
  return sanitizer_reports_;
}

std::string Mounts::description() const {
  if (!existing_) return "private kqfsd " + kqfsd_program_ + " on temporary mounts";
  return "existing mount " + existing_->path +
         (existing_->daemon > 0 ? " (kqfsd pid " + std::to_string(existing_->daemon) + ")"
                                : " (kqfsd pid not found: no memory or idle-daemon figures)");
}

std::optional<int64_t> resident_bytes(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      int64_t kilobytes = 0;
      if (status >> kilobytes) return kilobytes * 1024;
      return std::nullopt;
    }
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

std::string kqfsd_beside_this_program() {
  const fs::path directory = this_program_directory();
  return directory.empty() ? "kqfsd" : (directory.parent_path() / "daemon" / "kqfsd").string();
}

std::string floor_beside_this_program() {
  const fs::path directory = this_program_directory();
  return directory.empty() ? "kqfs-fuse-floor" : (directory / "kqfs-fuse-floor").string();
}

}  // namespace kqfs::bench
