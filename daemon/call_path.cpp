#include "daemon/call_path.hpp"

#include <kqfs/call_ioctl.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/change_path.hpp"
#include "daemon/event_path.hpp"
#include "daemon/open_files.hpp"
#include "daemon/parked_request.hpp"
#include "kqfs/codec/codec.hpp"
#include "kqfs/kevent_call.hpp"
#include "kqfs/timeouts.hpp"

namespace kqfsd {
namespace {

static_assert(sizeof(kqfs_call) == KQFS_CALL_SLOT);
static_assert(sizeof(kqfs::Kevent) == KQFS_CALL_SLOT);

// The slots a command carries, or 0 when it is not kqfs's call.
size_t slots_of(unsigned command) {
  if (_IOC_TYPE(command) != KQFS_CALL_TYPE || _IOC_NR(command) != KQFS_CALL_NUMBER ||
      _IOC_DIR(command) != (_IOC_READ | _IOC_WRITE) || _IOC_SIZE(command) % KQFS_CALL_SLOT != 0) {
    return 0;
  }
  return _IOC_SIZE(command) / KQFS_CALL_SLOT;
}

// The call's timeout as kevent() takes it: null for none.
const timespec* timeout_of(const kqfs_call& header, timespec& timeout) {
  if (!(header.flags & KQFS_CALL_TIMEOUT)) return nullptr;
  timeout = {static_cast<time_t>(header.timeout_sec), static_cast<long>(header.timeout_nsec)};
  return &timeout;
}

}  // namespace

void CallPath::call(const Requester& requester, uint64_t handle, uint64_t inode, unsigned command,
                    std::string_view in, size_t out_size, std::unique_ptr<Reply> reply) {
  const size_t slots = slots_of(command);
  if (slots == 0) {
    reply->error(ENOTTY);
    return;
  }
  kqfs_call header{};
  if (slots < 2 || in.size() < slots * KQFS_CALL_SLOT || out_size < slots * KQFS_CALL_SLOT) {
    reply->error(EINVAL);
    return;
  }
  std::memcpy(&header, in.data(), sizeof header);
  if (header.magic != KQFS_CALL_MAGIC) {
    reply->error(EINVAL);
    return;
  }
  const auto fail = [&](int error, int32_t processed = 0) {
    reply->ioctl(call_result(KQFS_CALL_DONE, -1, error, processed, inode));
  };
  int unusable = 0;
  OpenFile* file = files_.usable(requester, handle, unusable);
  if (file == nullptr || file->kind != FileKind::clone || file->queue->removed()) {
    fail(file == nullptr ? unusable : EBADF);  // not a kqueue, or not the caller's
    return;
  }
  const size_t capacity = slots - 1;
  timespec given{};
  const timespec* timeout = timeout_of(header, given);
  if (header.nchanges < 0 || header.nevents < 0 ||
      static_cast<size_t>(header.nchanges) > capacity || !kqfs::valid_timeout(timeout)) {
    fail(EINVAL);
    return;
  }
  QueueNode& queue = *file->queue;
  const size_t room = std::min<size_t>(static_cast<size_t>(header.nevents), capacity);

  std::vector<kqfs::Kevent> changes(static_cast<size_t>(header.nchanges));
  for (size_t i = 0; i < changes.size(); ++i) {
    changes[i] = kqfs::codec::decode_binary(std::span<const char, KQFS_CALL_SLOT>(
        in.data() + (i + 1) * KQFS_CALL_SLOT, KQFS_CALL_SLOT));
  }
  std::vector<kqfs::Kevent> entries(room);
  ChangeWriter writer(requester);
  const auto changed = kqfs::apply_changelist(changes, entries, [&](const kqfs::Kevent& change) {
    std::string why;
    const int error = changes_.apply_change(queue, *file, writer, change, 0, why);
    if (error != 0)
      changes_.reject(queue, error, kqfs::codec::describe_refusal(change, error, why));
    return error;
  });
  // Readers parked before this call come first to what its changes made.
  if (!changes.empty()) events_.serve(queue);
  const auto processed = static_cast<int32_t>(changed.processed);
  if (changed.error != 0) {
    fail(changed.error, processed);
    return;
  }
  if (changed.entries > 0 || room == 0 || (header.flags & KQFS_CALL_CHANGES_ONLY) ||
      queue.removed()) {
    entries.resize(changed.entries);
    reply->ioctl(call_result(KQFS_CALL_DONE, static_cast<int32_t>(entries.size()), 0, processed,
                             inode,
                             // Encoded as a read of a binary events file would be.
                             kqfs::codec::EventStream(kqfs::codec::Format::binary)
                                 .read(entries.size() * KQFS_CALL_SLOT, entries)));
    return;
  }

  const bool forever = kqfs::waits_forever(timeout);
  const int64_t wait_ns = forever ? 0 : timeout->tv_sec * 1'000'000'000 + timeout->tv_nsec;
  ParkedRequest request{std::move(reply),
                        room * KQFS_CALL_SLOT,
                        0,
                        file,
                        queue.id,
                        WaitingCall{next_call_id_++, 0, processed, inode, {}}};
  if (events_.try_answer_now(queue, request)) return;
  if (!forever && wait_ns == 0) {
    request.answer_timed_out();
    return;
  }
  if (!forever) request.call->deadline_ns = kqfs::monotonic_ns() + wait_ns;
  events_.park(queue, std::move(request));
}

}  // namespace kqfsd
