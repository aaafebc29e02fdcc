// The kevent-loop case: a libevent-style loop over n socket pairs. Each
// turn writes one byte into the next socket (from the same thread, so
// exactly one is ready), then makes one call that re-arms the socket the
// previous turn consumed (EV_ADD|EV_ONESHOT) and waits for the ready one,
// and reads its byte. Through kevent() from the client library, and on raw
// epoll (EPOLL_CTL_MOD with EPOLLONESHOT, then epoll_wait). Client and
// daemon pinned to one CPU, then to two.
#include <sys/epoll.h>
#include <sys/event.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "bench/cases.hpp"
#include "bench/client_kqueue.hpp"
#include "bench/errors.hpp"
#include "bench/pinned_calls.hpp"

namespace kqfs::bench {
namespace {

// The loop's sockets: n connected pairs, non-blocking. The loop watches the
// first socket of each pair and writes into the second.
class SocketPairs {
 public:
  explicit SocketPairs(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      int fds[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
        throw_errno("socketpair");
      }
      watched_.emplace_back(fds[0]);
      written_.emplace_back(fds[1]);
    }
  }

  size_t size() const { return watched_.size(); }
  int watched(size_t i) const { return watched_[i].get(); }
  void make_ready(size_t i) const { write_exactly(written_[i].get(), "x", "socket"); }
  void consume(size_t i) const {
    char byte;
    if (::read(watched_[i].get(), &byte, 1) != 1) throw_errno("read socket");
  }

 private:
  std::vector<UniqueFd> watched_;
  std::vector<UniqueFd> written_;
};

// Which socket a turn makes ready, and which it re-arms: the one the
// previous turn consumed (at first the last one, armed already, so the
// re-arm changes nothing).
class Turns {
 public:
  explicit Turns(size_t sockets) : sockets_(sockets), previous_(sockets - 1) {}
  size_t ready() const { return (previous_ + 1) % sockets_; }
  size_t rearmed() const { return previous_; }
  void advance() { previous_ = ready(); }

 private:
  size_t sockets_;
  size_t previous_;
};

[[noreturn]] void wrong_event(const char* loop, int got, uint64_t ident) {
  throw std::runtime_error(std::string(loop) + ": expected one event for the ready socket, got " +
                           std::to_string(got) + " (first ident " + std::to_string(ident) + ")");
}

class KeventLoop {
 public:
  KeventLoop(const std::string& mount_point, const SocketPairs& sockets)
      : kq_(mount_point), sockets_(sockets), turns_(sockets.size()), events_(sockets.size()) {
    for (size_t i = 0; i < sockets_.size(); ++i) {
      const struct kevent add = rearm(i);
      kq_.kevent({&add, 1}, {});
    }
  }

  void turn() {
    const size_t ready = turns_.ready();
    sockets_.make_ready(ready);
    const struct kevent change = rearm(turns_.rearmed());
    const int got = kq_.kevent({&change, 1}, events_);
    if (got != 1 || events_[0].ident != static_cast<uintptr_t>(sockets_.watched(ready))) {
      wrong_event("kevent", got, events_[0].ident);
    }
    sockets_.consume(ready);
    turns_.advance();
  }

 private:
  struct kevent rearm(size_t socket) const {
    struct kevent change;
    EV_SET(&change, sockets_.watched(socket), EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, 0);
    return change;
  }

  ClientKqueue kq_;
  const SocketPairs& sockets_;
  Turns turns_;
  std::vector<struct kevent> events_;
};

class EpollLoop {
 public:
  explicit EpollLoop(const SocketPairs& sockets)
      : epoll_(::epoll_create1(EPOLL_CLOEXEC)),
        sockets_(sockets),
        turns_(sockets.size()),
        events_(sockets.size()) {
    if (!epoll_) throw_errno("epoll_create1");
    for (size_t i = 0; i < sockets_.size(); ++i)
      epoll_add(epoll_.get(), sockets_.watched(i), EPOLLIN | EPOLLONESHOT, i);
  }

  void turn() {
    const size_t ready = turns_.ready();
    sockets_.make_ready(ready);
    const size_t rearmed = turns_.rearmed();
    epoll_event change{};
    change.events = EPOLLIN | EPOLLONESHOT;
    change.data.u64 = rearmed;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, sockets_.watched(rearmed), &change) != 0) {
      throw_errno("epoll_ctl EPOLL_CTL_MOD");
    }
    int got;
    do {
      got = ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()), -1);
    } while (got < 0 && errno == EINTR);
    if (got < 0) throw_errno("epoll_wait");
    if (got != 1 || events_[0].data.u64 != ready) wrong_event("epoll", got, events_[0].data.u64);
    sockets_.consume(ready);
    turns_.advance();
  }

 private:
  UniqueFd epoll_;
  const SocketPairs& sockets_;
  Turns turns_;
  std::vector<epoll_event> events_;
};

}  // namespace

void run_kevent_loop(Context& context) {
  constexpr size_t kSockets = 64;
  const int turns = context.size(2000, 200);
  const int repetitions = context.settings.repetitions;
  Report& report = context.report;

  const MountView mount = context.mounts.shared();
  const SocketPairs kevent_sockets(kSockets), epoll_sockets(kSockets);
  KeventLoop kevent(mount.path, kevent_sockets);
  EpollLoop epoll(epoll_sockets);
  const PinnedCalls measured(
      {
          {"kevent", "kevent() turn", mount.daemon, [&] { kevent.turn(); }},
          {"epoll", "epoll_ctl + epoll_wait turn", -1, [&] { epoll.turn(); }},
      },
      turns, repetitions);

  report.begin_case(
      "10. Event loop: one change and one wait per turn",
      std::to_string(kSockets) +
          " socket pairs, EVFILT_READ EV_ONESHOT on one end of each. A turn writes a byte\n"
          "into the next pair (exactly one socket ready), then one kevent() call (client\n"
          "library) re-arms the socket consumed the turn before (EV_ADD|EV_ONESHOT) and waits,\n"
          "with room for " +
          std::to_string(kSockets) +
          " events, and the turn reads the byte; raw epoll: EPOLL_CTL_MOD\n"
          "(EPOLLONESHOT) of that socket, then epoll_wait.\n" +
          std::string(PinnedCalls::kSetupText) + std::to_string(turns) + " turns per repetition, " +
          std::to_string(repetitions) + " repetitions, interleaved.");
  measured.report_rows(report, true, "turn");
  measured.report_ratios(report, "kevent_loop", 0, 1, std::nullopt);
  measured.note_placement(report, mount.daemon);
  report.end_case();
}

}  // namespace kqfs::bench
