// Scale: one queue holds a million timers under a descriptor limit of 256,
// because all of a queue's timers share one timerfd.
#include <poll.h>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "test_support.hpp"

namespace kqfs::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr rlim_t kDescriptorLimit = 256;

// Lowers the soft RLIMIT_NOFILE for the test's lifetime.
class DescriptorLimit {
 public:
  explicit DescriptorLimit(rlim_t soft) {
    ok_ = ::getrlimit(RLIMIT_NOFILE, &saved_) == 0;
    if (!ok_) return;
    rlimit lowered = saved_;
    lowered.rlim_cur = std::min(soft, saved_.rlim_max);
    ok_ = ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  }
  ~DescriptorLimit() {
    if (ok_) ::setrlimit(RLIMIT_NOFILE, &saved_);
  }
  DescriptorLimit(const DescriptorLimit&) = delete;
  DescriptorLimit& operator=(const DescriptorLimit&) = delete;
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

// Until `done()` or `deadline`: waits for the queue's descriptor, collects
// a batch (possibly empty) and hands each event to `take`.
template <typename Done, typename Take>
void collect_until(Kqueue& kq, Clock::time_point deadline, Done done, Take take) {
  std::vector<Kevent> buffer(65'536);
  while (!done() && Clock::now() < deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{kq.fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1000)));
    const size_t got = kq.collect(buffer);
    for (size_t i = 0; i < got; ++i)
      take(buffer[i]);
  }
}

TEST(Scale, MillionOneshotTimersUnderLowDescriptorLimit) {
  DescriptorLimit limit(kDescriptorLimit);
  ASSERT_TRUE(limit.ok());
  Kqueue kq;
  constexpr uint64_t kTimers = 1'000'000;
  const auto start = Clock::now();

  // Deadlines spread over 1 ms to 300 ms, in a scattered order (so the
  // earliest deadline changes now and then, as in real use).
  size_t refused = 0;
  for (uint64_t i = 0; i < kTimers; ++i) {
    const int64_t delay_us = 1'000 + static_cast<int64_t>((i * 7'919) % 299'000);
    if (kq.apply(change(i, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_USECONDS, delay_us, i)) != 0) {
      ++refused;
    }
  }
  ASSERT_EQ(refused, 0u);
  ASSERT_EQ(kq.knote_count(), kTimers);
  ASSERT_EQ(kq.knote_count(EVFILT_TIMER), kTimers);

  std::vector<uint8_t> times_seen(kTimers, 0);
  size_t delivered = 0;
  size_t malformed = 0;
  collect_until(
      kq, start + 60s, [&] { return delivered >= kTimers; },
      [&](const Kevent& event) {
        if (event.ident >= kTimers || event.filter != EVFILT_TIMER || event.data != 1 ||
            event.udata != event.ident || event.flags != (EV_ADD | EV_ONESHOT | EV_CLEAR)) {
          ++malformed;
          return;
        }
        if (times_seen[event.ident] < 255) ++times_seen[event.ident];
        ++delivered;
      });
  EXPECT_EQ(malformed, 0u);
  const auto never = std::count(times_seen.begin(), times_seen.end(), 0);
  const auto twice_or_more =
      std::count_if(times_seen.begin(), times_seen.end(), [](uint8_t n) { return n > 1; });
  EXPECT_EQ(never, 0) << "timers that never fired within 60 s";
  EXPECT_EQ(twice_or_more, 0) << "one-shot timers that fired more than once";
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_TRUE(drain(kq).empty());
}

TEST(Scale, HundredThousandPeriodicTimersUnderLowDescriptorLimit) {
  DescriptorLimit limit(kDescriptorLimit);
  ASSERT_TRUE(limit.ok());
  Kqueue kq;
  constexpr uint64_t kTimers = 100'000;
  constexpr int kRoundsWanted = 3;
  auto period_ms = [](uint64_t ident) { return 10 + static_cast<int64_t>((ident * 37) % 91); };
  const auto start = Clock::now();
  size_t refused = 0;
  for (uint64_t i = 0; i < kTimers; ++i) {
    if (kq.apply(change(i, EVFILT_TIMER, EV_ADD, 0, period_ms(i))) != 0) ++refused;
  }
  ASSERT_EQ(refused, 0u);
  ASSERT_EQ(kq.knote_count(EVFILT_TIMER), kTimers);

  // Each timer reports expirations; their sum never exceeds the periods
  // that really passed.
  std::vector<int64_t> expirations(kTimers, 0);
  std::vector<uint8_t> deliveries(kTimers, 0);
  size_t done = 0;  // timers delivered at least kRoundsWanted times
  size_t malformed = 0;
  collect_until(
      kq, start + 60s, [&] { return done >= kTimers; },
      [&](const Kevent& event) {
        if (event.ident >= kTimers || event.flags != (EV_ADD | EV_CLEAR) || event.data < 1) {
          ++malformed;
          return;
        }
        expirations[event.ident] += event.data;
        if (++deliveries[event.ident] == kRoundsWanted) ++done;
      });
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(malformed, 0u);
  EXPECT_EQ(done, kTimers) << "timers not delivered " << kRoundsWanted << " times within 60 s";
  size_t ahead_of_clock = 0;
  for (uint64_t i = 0; i < kTimers; ++i) {
    if (expirations[i] > elapsed / std::chrono::milliseconds(period_ms(i))) ++ahead_of_clock;
  }
  EXPECT_EQ(ahead_of_clock, 0u) << "timers that reported more expirations than periods passed";

  size_t not_deleted = 0;
  for (uint64_t i = 0; i < kTimers; ++i) {
    if (kq.apply(change(i, EVFILT_TIMER, EV_DELETE)) != 0) ++not_deleted;
  }
  EXPECT_EQ(not_deleted, 0u);
  EXPECT_EQ(kq.knote_count(), 0u);
  EXPECT_TRUE(wait_events(kq, 150ms).empty());
}

}  // namespace
}  // namespace kqfs::test
