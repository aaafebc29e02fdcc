#include "kqfs/filters/descriptor.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "kqfs/linux/procfs.hpp"
#include "kqfs/linux/sock_diag.hpp"

namespace kqfs {
namespace {

constexpr uint32_t kReadInterest = EPOLLIN | EPOLLRDHUP;
constexpr uint32_t kWriteInterest = EPOLLOUT;
constexpr uint32_t kFileInterest = IN_MODIFY | IN_ATTRIB;
// n_tty's buffer; Linux does not tell the room left in a tty's output queue.
constexpr int64_t kTtyBufferSize = 4096;

bool kernel_same_file(int a, int b) {
  return ::syscall(SYS_kcmp, ::getpid(), ::getpid(), KCMP_FILE, a, b) == 0;
}

std::string anon_inode_name(int fd) {
  auto target = procfs::read_link(procfs::fd_path(0, fd));
  return target ? std::move(target.value()) : std::string();
}

int socket_option(int fd, int level, int option) {
  int value = 0;
  socklen_t length = sizeof value;
  if (::getsockopt(fd, level, option, &value, &length) < 0) return -1;
  return value;
}

DescriptorKind classify_socket(int fd) {
  const int type = socket_option(fd, SOL_SOCKET, SO_TYPE);
  if (type == SOCK_DGRAM || type == SOCK_RAW || type == SOCK_RDM) {
    return DescriptorKind::datagram_socket;
  }
  if (socket_option(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1) {
    const int domain = socket_option(fd, SOL_SOCKET, SO_DOMAIN);
    return domain == AF_UNIX ? DescriptorKind::unix_listener : DescriptorKind::tcp_listener;
  }
  return DescriptorKind::stream_socket;
}

DescriptorKind classify(int fd, const struct stat& st) {
  switch (st.st_mode & S_IFMT) {
    case S_IFIFO:
      return DescriptorKind::pipe;
    case S_IFSOCK:
      return classify_socket(fd);
    case S_IFREG:
    case S_IFDIR:
    case S_IFBLK:
      return DescriptorKind::file;
    case S_IFCHR:
      return ::isatty(fd) ? DescriptorKind::tty : DescriptorKind::pollable;
    default:
      return anon_inode_name(fd) == "anon_inode:[eventfd]" ? DescriptorKind::eventfd
                                                           : DescriptorKind::pollable;
  }
}

int64_t ioctl_count(int fd, unsigned long request) {
  int value = 0;
  return ::ioctl(fd, request, &value) < 0 ? -1 : value;
}

// eventfd has no FIONREAD; its counter is in fdinfo.
int64_t eventfd_count(int fd) {
  const auto info = procfs::read_file(procfs::fdinfo_path(0, fd));
  if (!info) return 0;
  // Hex; a count past int64_t reads as its largest value.
  const auto count = procfs::number_of(info.value(), "eventfd-count:", 16);
  return count && *count > 0 ? static_cast<int64_t>(*count) : 0;
}

std::optional<tcp_info> tcp_info_of(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return std::nullopt;
  return info;
}

// TCP states in which this side has sent its FIN: it can send no more.
bool sent_fin(uint8_t state) {
  return state == TCP_FIN_WAIT1 || state == TCP_FIN_WAIT2 || state == TCP_CLOSING ||
         state == TCP_TIME_WAIT || state == TCP_LAST_ACK;
}

int64_t send_space(int fd) {
  const int buffer = socket_option(fd, SOL_SOCKET, SO_SNDBUF);
  const int64_t queued = ioctl_count(fd, SIOCOUTQ);
  return std::max<int64_t>(0, buffer - std::max<int64_t>(0, queued));
}

}  // namespace

FileIdentity FileIdentity::of(int fd, const struct stat& st) {
  return FileIdentity{st.st_dev, st.st_ino, ::fcntl(fd, F_GETFL) & O_ACCMODE};
}

std::optional<FileIdentity> FileIdentity::of(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  return of(fd, st);
}

Result<std::unique_ptr<DescriptorWatch>> DescriptorWatch::create(FilterHost& host,
                                                                 FileEvents& files, int ident,
                                                                 const Caller& caller) {
  auto borrowed = caller->borrow(ident);
  if (!borrowed) return Errno{borrowed.error()};
  const int fd = borrowed->get();
  struct stat st {};
  if (::fstat(fd, &st) < 0) return last_errno();
  // A queue may watch another queue, but not itself.
  if (kernel_same_file(fd, host.queue_fd()) || kernel_same_file(fd, host.queue_readiness_fd())) {
    return Errno{EINVAL};
  }
  const DescriptorKind kind = classify(fd, st);
  auto watch = std::make_unique<DescriptorWatch>(Key{}, host, files, ident, caller, kind,
                                                 FileIdentity::of(fd, st));
  watch->queue_ = borrowed->is_queue();
  if (watch->queue_) watch->watched_queue_ = fd;
  return watch;
}

DescriptorWatch::DescriptorWatch(Key, FilterHost& host, FileEvents& files, int ident, Caller caller,
                                 DescriptorKind kind, const FileIdentity& file)
    : host_(host),
      files_(files),
      ident_(ident),
      caller_(std::move(caller)),
      kind_(kind),
      file_(file) {}

DescriptorWatch::~DescriptorWatch() {
  if (epoll_) host_.remove_source(epoll_.get());
}

bool DescriptorWatch::names_same_file(const Caller& caller) {
  if (epoll_) return caller->names_registered(ident_, epoll_.get(), registered_as_);
  auto borrowed = caller->borrow(ident_);
  return borrowed && FileIdentity::of(borrowed->get()) == file_;
}

int DescriptorWatch::attach(DescriptorKnote& kn) {
  if (queue_ && kn.filter != EVFILT_READ) return EINVAL;  // a kqueue only reads (BSD)
  (kn.filter == EVFILT_READ ? reader_ : writer_) = &kn;
  const int error = update_interest();
  if (error == 0 && kn.filter == EVFILT_WRITE && kind_ == DescriptorKind::pipe &&
      (state().revents & POLLERR)) {
    writer_ = nullptr;
    update_interest();
    return EPIPE;
  }
  if (error != 0) {
    (kn.filter == EVFILT_READ ? reader_ : writer_) = nullptr;
    update_interest();
  }
  return error;
}

void DescriptorWatch::detach(DescriptorKnote& kn) {
  (kn.filter == EVFILT_READ ? reader_ : writer_) = nullptr;
  if (!empty()) update_interest();
}

// Register what the current knotes need. The kernel's registration cannot
// be modified without a descriptor numbered as at registration, so a change
// of interest builds a new small epoll instance.
int DescriptorWatch::update_interest() {
  if (const int error = update_file_watch(); error != 0) return error;
  if (kind_ == DescriptorKind::file || kind_ == DescriptorKind::unpollable) return 0;

  const uint32_t wanted =
      (reader_ != nullptr ? kReadInterest : 0) | (writer_ != nullptr ? kWriteInterest : 0);
  if (wanted == interest_ || wanted == 0) return 0;
  if (epoll_ && !caller_->names_registered(ident_, epoll_.get(), registered_as_)) return EBADF;
  auto borrowed = caller_->borrow(ident_);
  if (!borrowed) return borrowed.error();

  UniqueFd nested(::epoll_create1(EPOLL_CLOEXEC));
  if (!nested) return errno;
  epoll_event event{};
  event.events = wanted | EPOLLET;
  if (::epoll_ctl(nested.get(), EPOLL_CTL_ADD, borrowed->get(), &event) < 0) {
    if (errno == EPERM && !epoll_) {  // no poll support at all
      kind_ = DescriptorKind::unpollable;
      return 0;
    }
    return errno == ELOOP ? EINVAL : errno;
  }
  if (const int error = host_.add_source(nested.get(), EPOLLIN | EPOLLET, *this); error != 0) {
    return error;
  }
  if (epoll_) host_.remove_source(epoll_.get());
  epoll_ = std::move(nested);
  registered_as_ = borrowed->get();
  interest_ = wanted;
  probed_ = false;
  return 0;
}

// Files have no epoll: inotify tells when their size changes. Pipes wake
// epoll writers only when the pipe was full, so a write knote also hears
// of every read (IN_ACCESS), as FreeBSD posts it from pipe_read.
int DescriptorWatch::update_file_watch() {
  uint32_t wanted = 0;
  if (kind_ == DescriptorKind::file && reader_ != nullptr) wanted = kFileInterest;
  if (kind_ == DescriptorKind::pipe && writer_ != nullptr) wanted = IN_ACCESS;
  if (wanted != 0 && !file_watch_) {
    auto borrowed = caller_->borrow(ident_);
    if (!borrowed) return borrowed.error();
    // Without inotify (some pseudo files) the state is still read whenever
    // the knote is registered, enabled or collected.
    if (auto watch = files_.watch(borrowed->get(), wanted, *this)) file_watch_ = std::move(*watch);
  } else if (wanted == 0 && file_watch_) {
    file_watch_.reset();
  }
  return 0;
}

const DescriptorState& DescriptorWatch::state() {
  if (!probed_ || probed_in_pass_ != host_.pass()) {
    state_ = probe();
    probed_ = true;
    probed_in_pass_ = host_.pass();
  }
  return state_;
}

DescriptorState DescriptorWatch::probe() {
  DescriptorState s;
  if (epoll_ && !caller_->names_registered(ident_, epoll_.get(), registered_as_)) return s;
  if (queue_gone_) {
    s.open = true;
    s.revents = POLLHUP;
    s.read_eof = true;
    return s;
  }
  auto borrowed = epoll_ ? caller_->borrow_registered(ident_) : caller_->borrow(ident_);
  if (!borrowed) return s;
  const int fd = borrowed->get();
  if (!epoll_ && FileIdentity::of(fd) != file_) return s;
  s.open = true;
  read_state(fd, s);
  // A kqueue's data is its pending count (FreeBSD), at least 1 while the
  // queue has kernel news it has not looked at yet.
  if (borrowed->is_queue()) {
    s.readable = std::max<int64_t>(borrowed->queue_pending(), s.revents & POLLIN ? 1 : 0);
  }
  return s;
}

void DescriptorWatch::read_state(int fd, DescriptorState& s) {
  pollfd p{fd, POLLIN | POLLOUT | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) > 0) s.revents = p.revents;
  const bool hangup = s.revents & POLLHUP;
  const bool error = s.revents & POLLERR;

  if (kind_ == DescriptorKind::stream_socket || kind_ == DescriptorKind::tcp_listener ||
      kind_ == DescriptorKind::unix_listener) {
    kind_ = classify_socket(fd);  // listen() may come after registration
  }

  switch (kind_) {
    case DescriptorKind::pipe: {
      const int64_t queued = std::max<int64_t>(0, ioctl_count(fd, FIONREAD));
      s.readable = queued;
      if (writer_ != nullptr) {
        s.writable = std::max<int64_t>(0, ::fcntl(fd, F_GETPIPE_SZ) - queued);
      }
      s.read_eof = hangup;
      s.write_eof = error;  // no reader left
      break;
    }
    case DescriptorKind::stream_socket:
    case DescriptorKind::datagram_socket: {
      const bool stream = kind_ == DescriptorKind::stream_socket;
      // Linux says a stream socket that is not connected (new, bound, or a
      // refused connect not yet seen) has hung up; BSD reports nothing
      // until it connects. A hang-up after a connection also has RDHUP.
      if (stream && hangup && !(s.revents & POLLRDHUP) && !error) {
        s.revents = 0;
        break;
      }
      s.readable = std::max<int64_t>(0, ioctl_count(fd, SIOCINQ));
      if (writer_ != nullptr) s.writable = send_space(fd);
      s.read_eof = hangup || (s.revents & POLLRDHUP);
      // TCP's state says what poll does not: the caller's own
      // shutdown(SHUT_WR), for a write knote, and whether a connection ever
      // existed, for the error of an end of file. Asked only then.
      const std::optional<tcp_info> tcp =
          stream && (writer_ != nullptr || (s.read_eof && error)) ? tcp_info_of(fd) : std::nullopt;
      s.write_eof = hangup || (tcp && sent_fin(tcp->tcpi_state));
      // A unix socket's shutdown(SHUT_WR) shows only in sock_diag (asked
      // only when WRITE would fire).
      if (stream && !tcp && !s.write_eof && writer_ != nullptr && (s.revents & POLLOUT) &&
          socket_option(fd, SOL_SOCKET, SO_DOMAIN) == AF_UNIX) {
        s.write_eof = unix_sending_shut_down(fd);
      }
      if (s.read_eof || s.write_eof) {
        s.eof_error = socket_error(fd, error, tcp ? &*tcp : nullptr);
      } else if (error) {
        s.pending_error = true;  // e.g. ICMP on UDP: the caller's recv reports it
      }
      break;
    }
    case DescriptorKind::tcp_listener:
      if (const auto info = tcp_info_of(fd)) {
        s.readable = info->tcpi_unacked;  // the accept queue, for a listener
      }
      break;
    case DescriptorKind::unix_listener:
      s.readable = unix_accept_queue_length(fd);
      break;
    case DescriptorKind::tty:
      s.readable = std::max<int64_t>(0, ioctl_count(fd, FIONREAD));
      s.writable = std::max<int64_t>(0, kTtyBufferSize - ioctl_count(fd, TIOCOUTQ));
      s.read_eof = hangup;
      s.write_eof = hangup;
      break;
    case DescriptorKind::eventfd: {
      s.readable = eventfd_count(fd);
      // The counter's room: UINT64_MAX - 1 - count, as much as data holds.
      s.writable = std::numeric_limits<int64_t>::max();
      break;
    }
    case DescriptorKind::pollable: {
      const int64_t queued = ioctl_count(fd, FIONREAD);
      s.readable = queued >= 0 ? queued : (s.revents & POLLIN ? 1 : 0);
      s.read_eof = hangup;
      s.write_eof = hangup;
      break;
    }
    case DescriptorKind::file: {
      struct stat st {};
      const off_t offset = ::lseek(fd, 0, SEEK_CUR);
      if (::fstat(fd, &st) == 0 && offset >= 0) s.readable = st.st_size - offset;
      break;
    }
    case DescriptorKind::unpollable:
      break;
  }
}

// Linux clears a socket's error when it is read, so it is read only when
// an end of file is reported with one pending, and kept for later events.
// A TCP connect that failed is the exception: programs read SO_ERROR after
// the event to learn whether connect() worked, so the error is left there
// and inferred (a refusal comes at once; a timeout after retransmissions).
uint32_t DescriptorWatch::socket_error(int fd, bool pending, const tcp_info* tcp) {
  if (pending && cached_socket_error_ == 0) {
    const bool never_connected = tcp != nullptr && tcp->tcpi_rtt == 0 && tcp->tcpi_options == 0;
    if (never_connected) {
      cached_socket_error_ = tcp->tcpi_total_retrans == 0 ? ECONNREFUSED : ETIMEDOUT;
      return cached_socket_error_;
    }
    const int error = socket_option(fd, SOL_SOCKET, SO_ERROR);
    if (error > 0) cached_socket_error_ = static_cast<uint32_t>(error);
  }
  return cached_socket_error_;
}

void DescriptorWatch::post_all() {
  // Both knotes may be destroyed only outside this call: posting only queues.
  if (reader_ != nullptr) host_.post(*reader_);
  if (writer_ != nullptr) host_.post(*writer_);
}

void DescriptorWatch::on_ready(uint32_t) {
  post_all();
}

void DescriptorWatch::on_file_event(const FileEvent&) {
  post_all();
}

void DescriptorWatch::queue_gone() {
  queue_gone_ = true;
  probed_ = false;
  post_all();
}

Result<DescriptorWatch*> DescriptorWatches::watch_for(int ident, const Caller& caller) {
  auto [first, last] = watches_.equal_range(ident);
  for (auto it = first; it != last; ++it) {
    if (it->second->names_same_file(caller)) return it->second.get();
  }
  auto created = DescriptorWatch::create(host_, files_, ident, caller);
  if (!created) return Errno{created.error()};
  DescriptorWatch* watch = created->get();
  watches_.emplace(ident, std::move(created.value()));
  return watch;
}

void DescriptorWatches::release_if_empty(DescriptorWatch& watch) {
  if (!watch.empty()) return;
  auto [first, last] = watches_.equal_range(watch.ident());
  for (auto it = first; it != last; ++it) {
    if (it->second.get() == &watch) {
      watches_.erase(it);
      return;
    }
  }
}

void DescriptorWatches::queue_removed(int readiness_fd) {
  for (const auto& [ident, watch] : watches_) {
    if (watch->watches_queue(readiness_fd)) watch->queue_gone();
  }
}

Result<std::unique_ptr<Knote>> DescriptorFilter::attach(const Kevent& change,
                                                        const Caller& caller) {
  auto watch = watches_.watch_for(static_cast<int>(change.ident), caller);
  if (!watch) return Errno{watch.error()};
  auto kn = std::make_unique<DescriptorKnote>(change, **watch);
  if (const int error = (*watch)->attach(*kn); error != 0) {
    watches_.release_if_empty(**watch);
    return Errno{error};
  }
  return std::unique_ptr<Knote>(std::move(kn));
}

void DescriptorFilter::detach(Knote& kn) {
  DescriptorWatch& watch = watch_of(kn);
  watch.detach(static_cast<DescriptorKnote&>(kn));
  watches_.release_if_empty(watch);
}

int check_caller_descriptor(uint64_t ident, const Caller& caller) {
  if (ident > static_cast<uint64_t>(std::numeric_limits<int>::max())) return EBADF;
  return caller->borrow(static_cast<int>(ident)).error();
}

int DescriptorFilter::check_descriptor(uint64_t ident, const Caller& caller) {
  return check_caller_descriptor(ident, caller);
}

bool DescriptorFilter::current(Knote& kn, const Caller& caller) {
  return watch_of(kn).names_same_file(caller);
}

bool DescriptorFilter::alive(Knote& kn) {
  return watch_of(kn).state().open;
}

bool DescriptorFilter::stream_event(Knote& kn, const DescriptorState& s, bool eof, short ready,
                                    int64_t amount) {
  if (eof) {
    kn.flags |= EV_EOF;
    kn.fflags = s.eof_error;
    return true;
  }
  if (s.pending_error) return true;
  if (!(s.revents & ready)) return false;
  if ((kn.sfflags & NOTE_LOWAT) && kn.sdata > 0) return amount >= kn.sdata;
  return true;
}

bool DescriptorFilter::registered_by(const Knote& kn, const DescriptorResolver& caller) const {
  return static_cast<const DescriptorKnote&>(kn).watch.caller().get() == &caller;
}

}  // namespace kqfs
