// What each user holds in the daemon, against per-user limits: queues,
// knotes (across all the queues the user owns) and bytes of unfinished
// lines kept between writes. One user cannot exhaust the daemon for the
// others.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "kqfs/kqueue.hpp"

namespace kqfsd {

class Users {
 public:
  struct Limits {
    size_t queues = 0;
    size_t knotes = 0;
    size_t buffered_bytes = 0;
  };

  explicit Users(Limits limits) : limits_(limits) {}

  const Limits& limits() const { return limits_; }

  // Takes one queue for `uid`: 0, or ENOSPC with `why` set.
  int take_queue(uid_t uid, std::string& why);
  void give_back_queue(uid_t uid);

  // What the queues `uid` owns draw their knotes from.
  std::shared_ptr<kqfs::KnoteBudget> knotes_of(uid_t uid);

  // Moves `uid`'s count of buffered bytes from `before` to `after`; false
  // (and nothing moved) when growing would pass the limit.
  bool rebuffer(uid_t uid, size_t before, size_t after);
  // Room left for `uid` to buffer, beyond `already` it holds now.
  size_t buffer_room(uid_t uid) const;

 private:
  struct Account {
    size_t queues = 0;
    size_t buffered = 0;
    std::shared_ptr<kqfs::KnoteBudget> knotes;
  };
  Account& account(uid_t uid);
  void forget_if_idle(uid_t uid);

  Limits limits_;
  std::map<uid_t, Account> accounts_;
};

}  // namespace kqfsd
