#include "kqfs/linux/sock_diag.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "kqfs/unique_fd.hpp"

namespace kqfs {

namespace {

// The kernel's sk_shutdown bit for the sending side (net/sock.h; not in
// the uapi headers).
constexpr uint8_t kSendShutdown = 2;

// What sock_diag says of a unix socket (the attributes asked for in `show`,
// and its shutdown state, which it always gives); nullopt when it cannot.
struct UnixDiag {
  int64_t receive_queue = 0;
  uint8_t shutdown = 0;
};

std::optional<UnixDiag> unix_diag(int fd, uint32_t show) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return std::nullopt;
  UniqueFd diag(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!diag) return std::nullopt;

  struct {
    nlmsghdr header;
    unix_diag_req request;
  } query{};
  query.header.nlmsg_len = sizeof query;
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST;
  query.request.sdiag_family = AF_UNIX;
  query.request.udiag_ino = static_cast<uint32_t>(st.st_ino);
  query.request.udiag_show = show;
  query.request.udiag_cookie[0] = query.request.udiag_cookie[1] = ~0u;
  if (::send(diag.get(), &query, sizeof query, 0) < 0) return std::nullopt;

  alignas(nlmsghdr) char reply[4096];
  const ssize_t length = ::recv(diag.get(), reply, sizeof reply, 0);
  if (length < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(unix_diag_msg)))) return std::nullopt;
  const auto* header = reinterpret_cast<const nlmsghdr*>(reply);
  if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY) return std::nullopt;

  UnixDiag result;
  const auto* message = static_cast<const unix_diag_msg*>(NLMSG_DATA(header));
  int remaining = static_cast<int>(header->nlmsg_len - NLMSG_LENGTH(sizeof *message));
  const auto* attribute = reinterpret_cast<const rtattr*>(message + 1);
  for (; RTA_OK(attribute, remaining); attribute = RTA_NEXT(attribute, remaining)) {
    if (attribute->rta_type == UNIX_DIAG_RQLEN) {
      unix_diag_rqlen lengths;
      std::memcpy(&lengths, RTA_DATA(attribute), sizeof lengths);
      result.receive_queue = lengths.udiag_rqueue;
    } else if (attribute->rta_type == UNIX_DIAG_SHUTDOWN) {
      std::memcpy(&result.shutdown, RTA_DATA(attribute), sizeof result.shutdown);
    }
  }
  return result;
}

}  // namespace

int64_t unix_accept_queue_length(int fd) {
  const auto diag = unix_diag(fd, UDIAG_SHOW_RQLEN);
  return diag ? diag->receive_queue : 0;
}

bool unix_sending_shut_down(int fd) {
  const auto diag = unix_diag(fd, 0);
  return diag && (diag->shutdown & kSendShutdown) != 0;
}

std::string sock_diag_probe() {
  const UniqueFd diag(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!diag) return std::string("no sock_diag socket: ") + std::strerror(errno);
  // One of its own unix sockets asked about, as the filters ask.
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    return std::string("no unix socket to ask about: ") + std::strerror(errno);
  }
  const UniqueFd one(pair[0]), other(pair[1]);
  if (!unix_diag(one.get(), UDIAG_SHOW_RQLEN)) return "the kernel answers no unix_diag query";
  return {};
}

}  // namespace kqfs
