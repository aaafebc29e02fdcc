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
  // Two requests close together: from now on it spins.
  void quick_requests() {
    empty();
    woken_after(microseconds(10));
  }
  // Found empty, spun the window, and caught a request or not.
  void spin(bool caught) {
    EXPECT_EQ(empty(), poll.window());
    poll.spun(caught);
  }
  // Sleeps that quick gaps do not end (the back-off): each found empty,
  // not spun.
  void sleeps_unspun(unsigned count) {
    for (unsigned i = 0; i < count; ++i) {
      woken_after(microseconds(10));
      EXPECT_EQ(empty(), microseconds(0)) << "sleep " << i;
    }
    woken_after(microseconds(10));
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
  device.quick_requests();
  device.spin(true);
  device.spin(true);  // a caught request keeps it spinning
  device.spin(false);
  device.woken_after(microseconds(5000));
  EXPECT_EQ(device.empty(), microseconds(0));
}

TEST(BusyPoll, MissesInARowBackOffLongerEachTime) {
  Device device(kWindow);
  device.quick_requests();
  for (unsigned misses = 1; misses <= 3; ++misses) {
    device.spin(false);                  // the client asks a little slower than the window
    device.sleeps_unspun(1u << misses);  // 2, 4, 8
  }
  EXPECT_EQ(device.empty(), kWindow);
}

TEST(BusyPoll, ACatchEndsTheBackOff) {
  Device device(kWindow);
  device.quick_requests();
  device.spin(false);
  device.sleeps_unspun(2);
  device.spin(true);
  device.spin(false);
  device.sleeps_unspun(2);  // one miss again: two sleeps, not four
  EXPECT_EQ(device.empty(), kWindow);
}

}  // namespace
}  // namespace kqfsd
