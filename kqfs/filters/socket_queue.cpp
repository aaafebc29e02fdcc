#include "kqfs/filters/socket_queue.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>

#include "kqfs/unique_fd.hpp"

namespace kqfs {

int64_t unix_accept_queue_length(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return 0;
  UniqueFd diag(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!diag) return 0;

  struct {
    nlmsghdr header;
    unix_diag_req request;
  } query{};
  query.header.nlmsg_len = sizeof query;
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST;
  query.request.sdiag_family = AF_UNIX;
  query.request.udiag_ino = static_cast<uint32_t>(st.st_ino);
  query.request.udiag_show = UDIAG_SHOW_RQLEN;
  query.request.udiag_cookie[0] = query.request.udiag_cookie[1] = ~0u;
  if (::send(diag.get(), &query, sizeof query, 0) < 0) return 0;

  alignas(nlmsghdr) char reply[4096];
  const ssize_t length = ::recv(diag.get(), reply, sizeof reply, 0);
  if (length < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(unix_diag_msg)))) return 0;
  const auto* header = reinterpret_cast<const nlmsghdr*>(reply);
  if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY) return 0;

  const auto* message = static_cast<const unix_diag_msg*>(NLMSG_DATA(header));
  int remaining = static_cast<int>(header->nlmsg_len - NLMSG_LENGTH(sizeof *message));
  const auto* attribute = reinterpret_cast<const rtattr*>(message + 1);
  for (; RTA_OK(attribute, remaining); attribute = RTA_NEXT(attribute, remaining)) {
    if (attribute->rta_type == UNIX_DIAG_RQLEN) {
      unix_diag_rqlen lengths;
      std::memcpy(&lengths, RTA_DATA(attribute), sizeof lengths);
      return lengths.udiag_rqueue;
    }
  }
  return 0;
}

}  // namespace kqfs
