#include "kqfs/linux/descriptor_probe.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <string>

#include "kqfs/linux/procfs.hpp"
#include "kqfs/linux/sock_diag.hpp"

namespace kqfs {
namespace {

// n_tty's buffer; Linux does not tell the room left in a tty's output queue.
constexpr int64_t kTtyBufferSize = 4096;

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

// A socket that is no datagram socket: listening or not (listen() may come
// at any time; its type never changes).
DescriptorKind classify_stream_socket(int fd) {
  if (socket_option(fd, SOL_SOCKET, SO_ACCEPTCONN) == 1) {
    const int domain = socket_option(fd, SOL_SOCKET, SO_DOMAIN);
    return domain == AF_UNIX ? DescriptorKind::unix_listener : DescriptorKind::tcp_listener;
  }
  return DescriptorKind::stream_socket;
}

DescriptorKind classify_socket(int fd) {
  const int type = socket_option(fd, SOL_SOCKET, SO_TYPE);
  if (type == SOCK_DGRAM || type == SOCK_RAW || type == SOCK_RDM) {
    return DescriptorKind::datagram_socket;
  }
  return classify_stream_socket(fd);
}

}  // namespace

DescriptorKind classify_descriptor(int fd, const struct stat& st) {
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

namespace {

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

// Linux clears a socket's error when it is read, so it is read only when
// an end of file is reported with one pending, and kept for later events.
// A TCP connect that failed is the exception: programs read SO_ERROR after
// the event to learn whether connect() worked, so the error is left there
// and inferred (a refusal comes at once; a timeout after retransmissions).
uint32_t socket_error(int fd, bool pending, const tcp_info* tcp, uint32_t& cached) {
  if (pending && cached == 0) {
    const bool never_connected = tcp != nullptr && tcp->tcpi_rtt == 0 && tcp->tcpi_options == 0;
    if (never_connected) {
      cached = tcp->tcpi_total_retrans == 0 ? ECONNREFUSED : ETIMEDOUT;
      return cached;
    }
    const int error = socket_option(fd, SOL_SOCKET, SO_ERROR);
    if (error > 0) cached = static_cast<uint32_t>(error);
  }
  return cached;
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

void read_descriptor_state(int fd, DescriptorKind& kind, bool for_writer,
                           uint32_t& socket_error_seen, DescriptorState& s) {
  pollfd p{fd, POLLIN | POLLOUT | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) > 0) s.revents = p.revents;
  const bool hangup = s.revents & POLLHUP;
  const bool error = s.revents & POLLERR;

  if (kind == DescriptorKind::stream_socket || kind == DescriptorKind::tcp_listener ||
      kind == DescriptorKind::unix_listener) {
    kind = classify_stream_socket(fd);  // listen() may come after registration
  }

  switch (kind) {
    case DescriptorKind::pipe: {
      const int64_t queued = std::max<int64_t>(0, ioctl_count(fd, FIONREAD));
      s.readable = queued;
      if (for_writer) {
        s.writable = std::max<int64_t>(0, ::fcntl(fd, F_GETPIPE_SZ) - queued);
      }
      s.read_eof = hangup;
      s.write_eof = error;  // no reader left
      break;
    }
    case DescriptorKind::stream_socket:
    case DescriptorKind::datagram_socket: {
      const bool stream = kind == DescriptorKind::stream_socket;
      // Linux says a stream socket that is not connected (new, bound, or a
      // refused connect not yet seen) has hung up; BSD reports nothing
      // until it connects. A hang-up after a connection also has RDHUP.
      if (stream && hangup && !(s.revents & POLLRDHUP) && !error) {
        s.revents = 0;
        break;
      }
      s.readable = std::max<int64_t>(0, ioctl_count(fd, SIOCINQ));
      if (for_writer) s.writable = send_space(fd);
      s.read_eof = hangup || (s.revents & POLLRDHUP);
      // TCP's state says what poll does not: the caller's own
      // shutdown(SHUT_WR), for a write knote, and whether a connection ever
      // existed, for the error of an end of file. Asked only then.
      const std::optional<tcp_info> tcp =
          stream && (for_writer || (s.read_eof && error)) ? tcp_info_of(fd) : std::nullopt;
      s.write_eof = hangup || (tcp && sent_fin(tcp->tcpi_state));
      // A unix socket's shutdown(SHUT_WR) shows only in sock_diag (asked
      // only when WRITE would fire).
      if (stream && !tcp && !s.write_eof && for_writer && (s.revents & POLLOUT) &&
          socket_option(fd, SOL_SOCKET, SO_DOMAIN) == AF_UNIX) {
        s.write_eof = unix_sending_shut_down(fd);
      }
      if (s.read_eof || s.write_eof) {
        s.eof_error = socket_error(fd, error, tcp ? &*tcp : nullptr, socket_error_seen);
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

}  // namespace kqfs
