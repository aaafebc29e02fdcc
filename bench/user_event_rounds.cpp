#include "bench/user_event_rounds.hpp"

#include <fcntl.h>

#include <stdexcept>

#include "bench/records.hpp"

namespace kqfs::bench {
namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;

}  // namespace

MountUserEventRounds::MountUserEventRounds(const MountQueue& queue)
    : changes_(queue.open("changes.bin", O_WRONLY)),
      events_(queue.open("events.bin", O_RDONLY)),
      triggers_(records_for(1, kUserKnotes, user_event_trigger)),
      received_(kReadBufferBytes / sizeof(Kevent)) {
  write_records(changes_.get(), records_for(1, kUserKnotes, user_event_add));
}

void MountUserEventRounds::round() {
  write_records(changes_.get(), triggers_);
  size_t delivered = 0;
  while (delivered < kUserKnotes)
    delivered += read_records(events_.get(), received_);
  if (delivered != kUserKnotes) throw std::runtime_error("more user events than triggers");
}

}  // namespace kqfs::bench
