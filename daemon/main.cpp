// kqfsd: mounts kqfs and serves it until SIGTERM or SIGINT.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>

#include "daemon/descriptor_reserve.hpp"
#include "daemon/filesystem.hpp"
#include "daemon/fuse_channel.hpp"
#include "daemon/log.hpp"
#include "daemon/loop.hpp"
#include "daemon/options.hpp"
#include "daemon/service_notify.hpp"
#include "kqfs/linux/signal_trace.hpp"
#include "kqfs/mount_point.hpp"
#include "kqfs/unique_fd.hpp"

namespace {

// Without --foreground the parent waits on this pipe for one line from the
// child: empty once the mount is ready, else why it failed.
struct Readiness {
  kqfs::UniqueFd to_parent;

  void report(const std::string& failure) {
    if (!to_parent) return;
    const std::string message = failure + "\n";
    [[maybe_unused]] ssize_t written = ::write(to_parent.get(), message.data(), message.size());
    to_parent.reset();
  }
};

// Returns in the child (with `readiness` set); the parent exits here.
void daemonize(Readiness& readiness) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) {
    std::perror("kqfsd: pipe");
    std::exit(1);
  }
  const pid_t child = ::fork();
  if (child < 0) {
    std::perror("kqfsd: fork");
    std::exit(1);
  }
  if (child > 0) {
    ::close(fds[1]);
    std::string message;
    char buffer[256];
    ssize_t length;
    while ((length = ::read(fds[0], buffer, sizeof buffer)) > 0)
      message.append(buffer, length);
    if (message == "\n") std::exit(0);
    std::fprintf(stderr, "kqfsd: %s",
                 message.empty() ? "exited before mounting\n" : message.c_str());
    std::exit(1);
  }
  ::close(fds[0]);
  readiness.to_parent.reset(fds[1]);
  ::setsid();
  // Holds no directory busy and no terminal: stderr goes too, once the
  // log has a place of its own (main).
  [[maybe_unused]] int ignored = ::chdir("/");
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ::dup2(null, STDIN_FILENO);
  ::dup2(null, STDOUT_FILENO);
  ::close(null);
}

kqfs::UniqueFd open_log(const std::string& path) {
  return kqfs::UniqueFd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
}

// Standard error becomes the log file, or /dev/null when there is none
// (the log then goes to syslog).
void point_stderr_at(const kqfs::UniqueFd& log_file) {
  if (log_file) {
    ::dup2(log_file.get(), STDERR_FILENO);
    return;
  }
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ::dup2(null, STDERR_FILENO);
  ::close(null);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = kqfsd::parse_command_line(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  const kqfsd::Options& options = *parsed.options;

  const kqfsd::DescriptorReserve descriptors;
  kqfs::UniqueFd log_file;
  if (!options.log_file.empty()) {
    log_file = open_log(options.log_file);
    if (!log_file) {
      std::fprintf(stderr, "kqfsd: cannot open log %s: %s\n", options.log_file.c_str(),
                   std::strerror(errno));
      return 1;
    }
  }
  if (options.mount_point == kqfs::default_mount_point()) {
    std::error_code ignored;
    std::filesystem::create_directories(options.mount_point, ignored);
  }

  // Signals arrive through the loop; SIGPIPE never kills the daemon.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);  // reopens the log
  ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Readiness readiness;
  if (!options.foreground) daemonize(readiness);
  // After the fork, so that a failed start still reaches the terminal;
  // without a log file, libfuse's own complaints about the mount too.
  if (log_file) point_stderr_at(log_file);

  const bool to_syslog = !options.foreground && !log_file;
  kqfsd::Log log(options.log_level,
                 to_syslog ? kqfsd::Log::Sink::syslog : kqfsd::Log::Sink::standard_error);
  const kqfsd::ServiceNotifier service;
  // Signal tracing left behind by a kqfsd that crashed goes now, not at
  // this daemon's first signal knote.
  kqfs::SignalTracer::remove_stale_instances();
  try {
    kqfsd::Loop loop([&log](const char* what) { log.error(std::string("internal: ") + what); });
    kqfsd::Filesystem filesystem(options, log, loop);
    kqfsd::FuseChannel channel(filesystem, loop);
    service.status("mounting at " + options.mount_point);
    channel.mount();

    kqfs::UniqueFd signals(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
    bool stopping = false;
    loop.watch(signals.get(), EPOLLIN, [&](uint32_t) {
      signalfd_siginfo info{};
      if (::read(signals.get(), &info, sizeof info) != sizeof info) return;
      if (info.ssi_signo == SIGHUP) {
        // logrotate's postrotate: a fresh file under the same name.
        if (options.log_file.empty()) return;
        kqfs::UniqueFd reopened =
            descriptors.with_reserve([&] { return open_log(options.log_file); });
        if (!reopened) {
          log.error("cannot reopen log " + options.log_file + ": " + std::strerror(errno));
          return;
        }
        log_file = std::move(reopened);
        point_stderr_at(log_file);
        log.standard_error_changed();
        log.info("log reopened");
        return;
      }
      const std::string why =
          std::string("stopping on SIG") + ::sigabbrev_np(static_cast<int>(info.ssi_signo));
      log.info(why);
      service.stopping(why + ": unmounting " + options.mount_point);
      stopping = true;
    });
    readiness.report("");
    service.ready("serving " + options.mount_point);
    if (!options.foreground && !log_file) point_stderr_at(log_file);  // to /dev/null
    while (!stopping && !channel.exited())
      loop.run_once(-1);
    if (!stopping) service.stopping("the mount went away (unmounted from outside)");
    descriptors.with_reserve([&] { channel.unmount(); });
  } catch (const std::exception& error) {
    log.error(error.what());
    readiness.report(error.what());
    service.failed(error.what());
    return 1;
  }
  return 0;
}
