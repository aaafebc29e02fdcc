// The adaptive busy-poll policy (daemon/busy_poll.hpp), on a clock of its own.
#include "daemon/busy_poll.hpp"

#include <gtest/gtest.h>

namespace kqfsd {
namespace {

using std::chrono::microseconds;
constexpr microseconds kWindow(50);

// A daemon's view of the device over time: asleep, woken, found empty.
class Device {
 public:
  explicit Device(microseconds window) : poll(window) {}

  // Found empty now; the window it spins (zero: sleeps at once).
  microseconds empty() { return poll.found_empty(now); }
  // Slept `gap` and was woken by a request.
  void woken_after(microseconds gap) {
    now += gap;
    poll.woken(now);
  }

  BusyPoll poll;
  BusyPoll::Clock::time_point now{};
};

TEST(BusyPoll, AWindowOfZeroNeverSpins) {
  Device device(microseconds(0));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(device.empty(), microseconds(0));
    device.woken_after(microseconds(0));
  }
}

TEST(BusyPoll, SpinsOnlyOnceRequestsComeQuickly) {
  Device device(kWindow);
  EXPECT_EQ(device.empty(), microseconds(0));  // nothing known yet: sleeps
  device.woken_after(microseconds(70));        // quick, counting its own wake-up
  EXPECT_EQ(device.empty(), kWindow);
}

TEST(BusyPoll, SleepsAfterASlowGap) {
  Device device(kWindow);
  device.empty();
  device.woken_after(microseconds(70));
  device.empty();
  device.poll.spun(true);
  EXPECT_EQ(device.empty(), kWindow);  // a caught request keeps it spinning
  device.poll.spun(true);
  device.empty();
  device.poll.spun(false);
  device.woken_after(microseconds(5000));
  EXPECT_EQ(device.empty(), microseconds(0));
}

TEST(BusyPoll, MissesInARowBackOffLongerEachTime) {
  Device device(kWindow);
  device.empty();
  device.woken_after(microseconds(10));
  for (unsigned misses = 1; misses <= 3; ++misses) {
    ASSERT_EQ(device.empty(), kWindow);
    device.poll.spun(false);  // the client asks a little slower than the window
    // Quick gaps do not count for 2, 4, 8 sleeps.
    for (unsigned sleeps = 0; sleeps < (1u << misses); ++sleeps) {
      device.woken_after(microseconds(80));
      EXPECT_EQ(device.empty(), microseconds(0)) << "miss " << misses << " sleep " << sleeps;
    }
    device.woken_after(microseconds(80));
  }
}

TEST(BusyPoll, ACatchEndsTheBackOff) {
  Device device(kWindow);
  device.empty();
  device.woken_after(microseconds(10));
  device.empty();
  device.poll.spun(false);
  for (int i = 0; i < 2; ++i) {
    device.woken_after(microseconds(10));
    device.empty();
  }
  device.woken_after(microseconds(10));
  ASSERT_EQ(device.empty(), kWindow);
  device.poll.spun(true);
  device.empty();
  device.poll.spun(false);
  // One miss again: two sleeps of back-off, not four.
  for (int i = 0; i < 2; ++i) {
    device.woken_after(microseconds(10));
    EXPECT_EQ(device.empty(), microseconds(0));
  }
  device.woken_after(microseconds(10));
  EXPECT_EQ(device.empty(), kWindow);
}

}  // namespace
}  // namespace kqfsd
