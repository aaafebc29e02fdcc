#include "daemon/open_flags_hook.hpp"

#include <linux/fuse.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kqfsd {
namespace {

ssize_t write_reply(int fd, iovec* iov, int count, void* userdata) {
  auto* session = static_cast<SessionData*>(userdata);
  if (count > 0 && iov[0].iov_len >= sizeof(fuse_out_header)) {
    fuse_out_header header;
    std::memcpy(&header, iov[0].iov_base, sizeof header);
    if (header.unique == session->request_read) session->request_answered = true;
  }
  // An open reply is the header followed by struct fuse_open_out.
  if (session->extra_open_flags != 0 && count == 2 && iov[1].iov_len == sizeof(fuse_open_out)) {
    fuse_open_out reply;
    std::memcpy(&reply, iov[1].iov_base, sizeof reply);
    reply.open_flags |= session->extra_open_flags;
    std::memcpy(iov[1].iov_base, &reply, sizeof reply);
  }
  return ::writev(fd, iov, count);
}

ssize_t read_request(int fd, void* buffer, size_t length, void* userdata) {
  const ssize_t received = ::read(fd, buffer, length);
  if (received >= static_cast<ssize_t>(sizeof(fuse_in_header))) {
    auto* session = static_cast<SessionData*>(userdata);
    fuse_in_header header;
    std::memcpy(&header, buffer, sizeof header);
    session->request_read = header.unique;
    session->request_answered = false;
  }
  return received;
}

}  // namespace

int install_open_flags_hook(fuse_session* session) {
  static constexpr fuse_custom_io io = {
      .writev = write_reply,
      .read = read_request,
      .splice_receive = nullptr,
      .splice_send = nullptr,
  };
  return fuse_session_custom_io(session, &io, fuse_session_fd(session));
}

int reply_open_with(fuse_req_t request, const fuse_file_info& info, uint32_t open_flags) {
  auto* session = static_cast<SessionData*>(fuse_req_userdata(request));
  session->extra_open_flags = open_flags;
  const int result = fuse_reply_open(request, &info);
  session->extra_open_flags = 0;
  return result;
}

}  // namespace kqfsd
