#include "daemon/users.hpp"

#include <cerrno>

namespace kqfsd {

Users::Account& Users::account(uid_t uid) {
  Account& account = accounts_[uid];
  if (!account.knotes) account.knotes = std::make_shared<kqfs::KnoteBudget>(limits_.knotes);
  return account;
}

// Accounts holding nothing go, so uids that came and went cost nothing.
void Users::forget_if_idle(uid_t uid) {
  const auto found = accounts_.find(uid);
  if (found == accounts_.end()) return;
  const Account& account = found->second;
  // A budget still shared with a queue's engine is not idle.
  if (account.queues == 0 && account.buffered == 0 && account.knotes.use_count() == 1) {
    accounts_.erase(found);
  }
}

int Users::take_queue(uid_t uid, std::string& why) {
  Account& owner = account(uid);
  if (owner.queues >= limits_.queues) {
    why = "uid " + std::to_string(uid) + " holds its limit of " + std::to_string(limits_.queues) +
          " queues";
    forget_if_idle(uid);
    return ENOSPC;
  }
  ++owner.queues;
  return 0;
}

void Users::give_back_queue(uid_t uid) {
  const auto found = accounts_.find(uid);
  if (found == accounts_.end() || found->second.queues == 0) return;
  --found->second.queues;
  forget_if_idle(uid);
}

std::shared_ptr<kqfs::KnoteBudget> Users::knotes_of(uid_t uid) {
  return account(uid).knotes;
}

bool Users::rebuffer(uid_t uid, size_t before, size_t after) {
  if (before == after) return true;
  Account& writer = account(uid);
  const size_t others = writer.buffered - before;
  if (after > before && others + after > limits_.buffered_bytes) return false;
  writer.buffered = others + after;
  forget_if_idle(uid);
  return true;
}

size_t Users::buffer_room(uid_t uid) const {
  const auto found = accounts_.find(uid);
  const size_t used = found == accounts_.end() ? 0 : found->second.buffered;
  return used >= limits_.buffered_bytes ? 0 : limits_.buffered_bytes - used;
}

}  // namespace kqfsd
