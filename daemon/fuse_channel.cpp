#include "daemon/fuse_channel.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/mount_check.hpp"

namespace kqfsd {
namespace {

// Requests served in one turn of the loop before the other descriptors
// (queues, signals, process exits) get theirs: a client that never stops
// asking must not stall them.
constexpr unsigned kRequestsPerTurn = 64;

}  // namespace

FuseChannel::FuseChannel(Filesystem& filesystem, Loop& loop)
    : filesystem_(filesystem),
      loop_(loop),
      request_buffer_(nullptr, std::free),
      busy_poll_(std::chrono::microseconds(filesystem.options().busy_poll_us)) {
  session_data_.owner = &filesystem;
}

FuseChannel::~FuseChannel() {
  if (mounted_) unmount();
  if (session_ != nullptr) fuse_session_destroy(session_);
}

void FuseChannel::mount() {
  const Options& options = filesystem_.options();
  std::vector<std::string> arguments = {
      "kqfsd", "-o", "default_permissions,subtype=kqfs,fsname=" + mount_source_name()};
  for (const std::string& option : options.fuse_options) {
    arguments.push_back("-o");
    arguments.push_back(option);
  }
  std::vector<char*> argv;
  for (std::string& argument : arguments)
    argv.push_back(argument.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  const fuse_lowlevel_ops operations = fuse_operations();
  prepare_mount_point(options.mount_point, options.nonempty, filesystem_.log());
  session_ = fuse_session_new(&args, &operations, sizeof operations, &session_data_);
  fuse_opt_free_args(&args);
  if (session_ == nullptr) throw std::runtime_error("bad FUSE options");
  if (fuse_session_mount(session_, options.mount_point.c_str()) != 0) {
    throw std::runtime_error("cannot mount at " + options.mount_point);
  }
  mounted_ = true;
  if (const int error = install_open_flags_hook(session_); error != 0) {
    throw std::runtime_error(std::string("cannot hook FUSE I/O: ") + std::strerror(-error));
  }
  const int fd = fuse_session_fd(session_);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  // Our own files are recognised by their mount: kqfs must never poll itself.
  struct statx mount_info {};
  if (::statx(AT_FDCWD, options.mount_point.c_str(), AT_NO_AUTOMOUNT, STATX_MNT_ID, &mount_info) !=
          0 ||
      !(mount_info.stx_mask & STATX_MNT_ID)) {
    throw std::runtime_error("cannot read the mount's id");
  }
  filesystem_.start(mount_info.stx_mnt_id);

  fuse_watch_ = loop_.watch(fd, EPOLLIN, [this](uint32_t) { on_readable(); });
  filesystem_.log().info("mounted at " + options.mount_point);
}

void FuseChannel::unmount() {
  if (!mounted_) return;
  filesystem_.stop();
  if (fuse_watch_ != 0) loop_.unwatch(fuse_watch_);
  fuse_session_unmount(session_);
  mounted_ = false;
  filesystem_.log().info("unmounted " + filesystem_.options().mount_point);
}

bool FuseChannel::exited() const {
  return session_ != nullptr && fuse_session_exited(session_);
}

int FuseChannel::receive(fuse_buf& buffer) {
  buffer = fuse_buf{};
  buffer.mem = request_buffer_.get();
  buffer.size = request_buffer_size_;
  const int received = fuse_session_receive_buf(session_, &buffer);
  // libfuse allocates the buffer on first use; keep it for the next ones.
  if (buffer.mem != request_buffer_.get()) {
    request_buffer_.release();
    request_buffer_.reset(static_cast<char*>(buffer.mem));
    request_buffer_size_ = buffer.size;
  }
  return received;
}

// Each try yields first: a client on this CPU gets to send its request.
int FuseChannel::spin(fuse_buf& buffer, std::chrono::microseconds window) {
  const auto until = BusyPoll::Clock::now() + window;
  int received;
  do {
    ::sched_yield();
    received = receive(buffer);
  } while (received == -EAGAIN && BusyPoll::Clock::now() < until);
  busy_poll_.spun(received > 0);
  return received;
}

void FuseChannel::on_readable() {
  busy_poll_.woken(BusyPoll::Clock::now());
  for (unsigned served = 0; served < kRequestsPerTurn;) {
    fuse_buf buffer;
    int received = receive(buffer);
    if (received == -EAGAIN) {
      const auto window = busy_poll_.found_empty(BusyPoll::Clock::now());
      // A request left waiting (a parked read) means its sender waits on
      // us: no quick next request from it.
      if (window.count() > 0 && session_data_.request_answered) received = spin(buffer, window);
    }
    if (received == -EINTR) continue;
    if (received <= 0) break;  // -EAGAIN: drained; 0: the session ended
    fuse_session_process_buf(session_, &buffer);
    filesystem_.events().answer_interrupted();
    ++served;
  }
}

}  // namespace kqfsd
