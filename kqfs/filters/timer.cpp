// EVFILT_TIMER: every timer of a queue runs on one timerfd, armed for the
// earliest deadline of an ordered set. A timer leaves the set when it
// expires and returns when its event is delivered; the expirations in
// between are counted from the clock then, so an unread or disabled timer
// costs no wake-ups.
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

#include <boost/intrusive/set.hpp>
#include <cstdint>
#include <limits>

#include "kqfs/filter_table.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs {
namespace {

namespace bi = boost::intrusive;

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t saturating_multiply(int64_t a, int64_t b) {
  int64_t product;
  return __builtin_mul_overflow(a, b, &product) ? kNever : product;
}

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? kNever : std::numeric_limits<int64_t>::min();
}

int64_t nanoseconds_per_unit(uint32_t fflags) {
  switch (fflags & NOTE_TIMER_PRECMASK) {
    case NOTE_SECONDS:
      return 1'000'000'000;
    case NOTE_USECONDS:
      return 1'000;
    case NOTE_NSECONDS:
      return 1;
    default:  // NOTE_MSECONDS, or no unit
      return 1'000'000;
  }
}

// FreeBSD's rules: one unit at most, no other bits, no negative time.
int validate(const Kevent& change) {
  if (change.fflags & ~(NOTE_TIMER_PRECMASK | NOTE_ABSTIME)) return EINVAL;
  if (__builtin_popcount(change.fflags & NOTE_TIMER_PRECMASK) > 1) return EINVAL;
  if (change.data < 0) return EINVAL;
  return 0;
}

struct TimerKnote final : Knote {
  using Knote::Knote;
  bi::set_member_hook<bi::optimize_size<true>> hook;
  int64_t deadline = 0;  // the next expiry, or the first one not yet reported
  int64_t period = 0;    // 0 for a timer that fires once
  bool expired = false;
};

struct EarlierDeadline {
  bool operator()(const TimerKnote& a, const TimerKnote& b) const {
    return a.deadline < b.deadline;
  }
};

using TimerSet = bi::multiset<
    TimerKnote,
    bi::member_hook<TimerKnote, bi::set_member_hook<bi::optimize_size<true>>, &TimerKnote::hook>,
    bi::compare<EarlierDeadline>>;

class TimerFilter final : public Filter, public Source {
 public:
  explicit TimerFilter(FilterHost& host) : host_(host) {}
  ~TimerFilter() override {
    timers_.clear();
    if (timerfd_) host_.remove_source(timerfd_.get());
  }

  Result<std::unique_ptr<Knote>> attach(const Kevent& change, const Caller&) override {
    if (const int error = validate(change); error != 0) return Errno{error};
    auto kn = std::make_unique<TimerKnote>(change);
    // FreeBSD clears every timer after delivery but an absolute one.
    if (!(change.fflags & NOTE_ABSTIME)) kn->flags |= EV_CLEAR;
    if (const int error = start(*kn); error != 0) return Errno{error};
    return std::unique_ptr<Knote>(std::move(kn));
  }

  void detach(Knote& kn) override { stop(timer(kn)); }

  // Re-adding restarts the timer with the new period and forgets what it
  // counted; other changes leave it running.
  int touch(Knote& kn, const Kevent& change) override {
    if (!(change.flags & EV_ADD)) return 0;
    if (const int error = validate(change); error != 0) return error;
    TimerKnote& t = timer(kn);
    stop(t);
    host_.deactivate(t);
    t.expired = false;
    t.sfflags = change.fflags;
    t.sdata = change.data;
    return start(t);
  }

  bool event(Knote& kn) override { return timer(kn).expired; }

  Kevent deliver(Knote& kn) override {
    TimerKnote& t = timer(kn);
    Kevent out = t.as_event();
    out.fflags = 0;
    if (!t.expired) {
      // Delivered by EV_FORCEONESHOT before it fired: nothing counted yet
      // (FreeBSD), and it is still in the set, running until dropped.
      out.data = 0;
      return out;
    }
    out.data = 1;
    if (t.period > 0) {
      const int64_t late = clock_ns(CLOCK_MONOTONIC) - t.deadline;
      out.data = 1 + (late > 0 ? late / t.period : 0);
    }
    if (t.flags & EV_CLEAR) {
      t.expired = false;
      if (t.period > 0) {
        t.deadline = saturating_add(t.deadline, saturating_multiply(out.data, t.period));
        insert(t);
      }
    }
    return out;
  }

  void on_ready(uint32_t) override {
    uint64_t expirations;
    [[maybe_unused]] ssize_t ignored = ::read(timerfd_.get(), &expirations, sizeof expirations);
    armed_ = kNever;
    const int64_t now = clock_ns(CLOCK_MONOTONIC);
    while (!timers_.empty() && timers_.begin()->deadline <= now) {
      TimerKnote& t = *timers_.begin();
      timers_.erase(timers_.iterator_to(t));
      t.expired = true;
      host_.post(t);
    }
    if (!timers_.empty()) arm(timers_.begin()->deadline);
  }

 private:
  static TimerKnote& timer(Knote& kn) { return static_cast<TimerKnote&>(kn); }

  int start(TimerKnote& t) {
    const int64_t now = clock_ns(CLOCK_MONOTONIC);
    const int64_t amount = saturating_multiply(t.sdata, nanoseconds_per_unit(t.sfflags));
    if (t.sfflags & NOTE_ABSTIME) {
      // Wall-clock time, turned into the monotonic clock once, as FreeBSD.
      t.deadline = saturating_add(now, amount - clock_ns(CLOCK_REALTIME));
      t.period = 0;
    } else if (t.flags & EV_ONESHOT) {
      t.deadline = saturating_add(now, amount);
      t.period = 0;
    } else {
      // A period of 0 would fire without end; FreeBSD makes it one unit.
      t.period = amount > 0 ? amount : nanoseconds_per_unit(t.sfflags);
      t.deadline = saturating_add(now, t.period);
    }
    if (t.deadline <= now) {
      t.expired = true;  // due already: fires at once
      return 0;
    }
    return insert(t);
  }

  void stop(TimerKnote& t) {
    if (t.hook.is_linked()) timers_.erase(timers_.iterator_to(t));
  }

  int insert(TimerKnote& t) {
    if (!timerfd_) {
      UniqueFd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
      if (!fd) return errno;
      if (const int error = host_.add_source(fd.get(), EPOLLIN, *this); error != 0) return error;
      timerfd_ = std::move(fd);
    }
    timers_.insert(t);
    if (t.deadline < armed_) arm(t.deadline);
    return 0;
  }

  void arm(int64_t deadline) {
    itimerspec when{};
    when.it_value.tv_sec = deadline / 1'000'000'000;
    when.it_value.tv_nsec = deadline % 1'000'000'000;
    if (when.it_value.tv_sec == 0 && when.it_value.tv_nsec == 0) when.it_value.tv_nsec = 1;
    ::timerfd_settime(timerfd_.get(), TFD_TIMER_ABSTIME, &when, nullptr);
    armed_ = deadline;
  }

  FilterHost& host_;
  UniqueFd timerfd_;
  TimerSet timers_;
  int64_t armed_ = kNever;  // the deadline the timerfd is set for
};

}  // namespace

std::unique_ptr<Filter> make_timer_filter(FilterObjects& objects) {
  return std::make_unique<TimerFilter>(objects.host);
}

}  // namespace kqfs
