#include "daemon/parked_request.hpp"

#include <kqfs/call_ioctl.h>

#include <cerrno>
#include <cstring>

namespace kqfsd {

static_assert(sizeof(kqfs_call_result) == KQFS_CALL_SLOT);

std::string call_result(uint32_t status, int32_t entries, int32_t error, int32_t processed,
                        uint64_t handle_inode, std::string_view records) {
  kqfs_call_result header{};
  header.magic = KQFS_CALL_RESULT_MAGIC;
  header.status = status;
  header.entries = entries;
  header.error = error;
  header.processed = processed;
  header.handle = handle_inode;
  std::string result(sizeof header + records.size(), '\0');
  std::memcpy(result.data(), &header, sizeof header);
  records.copy(result.data() + sizeof header, records.size());
  return result;
}

void ParkedRequest::answer_events(std::string_view records) const {
  if (!call) {
    reply->data(records);
    return;
  }
  reply->ioctl(call_result(KQFS_CALL_DONE, static_cast<int32_t>(records.size() / KQFS_CALL_SLOT), 0,
                           call->processed, call->handle_inode, records));
}

void ParkedRequest::answer_interrupted() const {
  if (!call) {
    reply->error(EINTR);
    return;
  }
  reply->ioctl(call_result(KQFS_CALL_DONE, -1, EINTR, call->processed, call->handle_inode));
}

void ParkedRequest::answer_removed() const {
  if (!call) {
    reply->data({});
    return;
  }
  reply->ioctl(call_result(KQFS_CALL_DONE, -1, EBADF, call->processed, call->handle_inode));
}

void ParkedRequest::answer_timed_out() const {
  reply->ioctl(call_result(KQFS_CALL_DONE, 0, 0, call->processed, call->handle_inode));
}

void ParkedRequest::answer_recheck() const {
  reply->ioctl(call_result(KQFS_CALL_RECHECK, 0, 0, call->processed, call->handle_inode));
}

}  // namespace kqfsd
