// The event path: reads, parked reads, poll, rewind and end of file.
#include <poll.h>

#include "tests/daemon/fixture.hpp"

namespace kqfsd::testing {
namespace {

class EventPathTest : public DaemonCore {
 protected:
  EventPathTest()
      : id(make_queue("q")),
        changes(open(id, changes_file(kqfs::codec::Format::text))),
        events(open(id, events_file(kqfs::codec::Format::text))) {
    write(changes, "1 user add|clear\n");
  }
  ~EventPathTest() override {
    close(events);
    close(changes);
  }
  void trigger() { EXPECT_EQ(write(changes, "1 user 0 trigger\n")->written, 17u); }

  const uint64_t id;
  const uint64_t changes;
  const uint64_t events;
};

TEST_F(EventPathTest, AReadTakesWhatIsPending) {
  trigger();
  const auto answer = read(events);
  ASSERT_TRUE(answer->data);
  EXPECT_EQ(*answer->data, "1 EVFILT_USER EV_ADD|EV_CLEAR 0 0 0\n");
  EXPECT_EQ(queue(id)->events_delivered, 1u);
}

TEST_F(EventPathTest, ANonblockingReadOfNothingIsEAGAIN) {
  EXPECT_EQ(read(events, 4096, true)->error, EAGAIN);
}

TEST_F(EventPathTest, AParkedRequestIsAnsweredByTheNextEvent) {
  const auto answer = read(events);
  EXPECT_FALSE(answer->answered());
  EXPECT_EQ(status_field(id, "readers"), "1");
  trigger();
  EXPECT_EQ(answer->answers, 1);
  EXPECT_THAT(answer->data.value_or(""), ::testing::StartsWith("1 EVFILT_USER"));
  EXPECT_EQ(status_field(id, "readers"), "0");
}

TEST_F(EventPathTest, AParkedRequestIsAnsweredFromTheLoopWhenATimerFires) {
  write(changes, "2 timer add|oneshot 0 10 9\n");
  const auto answer = read(events);
  EXPECT_FALSE(answer->answered());
  EXPECT_TRUE(run_until([&] { return answer->answered(); }));
  EXPECT_EQ(answer->answers, 1);
  EXPECT_THAT(answer->data.value_or(""), ::testing::StartsWith("2 EVFILT_TIMER"));
}

TEST_F(EventPathTest, ParkedRequestsAreAnsweredInOrder) {
  const auto first = read(events);
  const auto second = read(events);
  trigger();
  EXPECT_TRUE(first->answered());
  EXPECT_FALSE(second->answered());
  trigger();
  EXPECT_TRUE(second->answered());
}

TEST_F(EventPathTest, AnInterruptedParkedRequestIsEINTR) {
  const auto answer = read(events);
  ASSERT_TRUE(answer->interrupt);
  answer->interrupt();
  EXPECT_FALSE(answer->answered());  // only noted where it is told
  filesystem_.events().answer_interrupted();
  EXPECT_EQ(answer->error, EINTR);
  EXPECT_EQ(answer->answers, 1);
  trigger();  // the event stays for the next reader
  EXPECT_TRUE(read(events, 4096, true)->data);
}

TEST_F(EventPathTest, PollSaysWhatIsReadyAndWakesOnceWhenMoreComes) {
  auto wakes = std::make_shared<int>(0);
  auto answer = std::make_shared<Answer>();
  FakeReply reply(answer);
  filesystem_.events().poll(me(), events, std::make_unique<FakeWaker>(wakes), reply);
  EXPECT_EQ(answer->revents, 0u);
  trigger();
  EXPECT_EQ(*wakes, 1);
  trigger();
  EXPECT_EQ(*wakes, 1);  // woken once: polled again to be woken again

  auto ready = std::make_shared<Answer>();
  FakeReply again(ready);
  filesystem_.events().poll(me(), events, nullptr, again);
  EXPECT_EQ(ready->revents, unsigned{POLLIN | POLLRDNORM});
  auto writable = std::make_shared<Answer>();
  FakeReply of_changes(writable);
  filesystem_.events().poll(me(), changes, nullptr, of_changes);
  EXPECT_EQ(writable->revents, unsigned{POLLOUT | POLLWRNORM});
}

TEST_F(EventPathTest, AReadBackIntoTheLastReplyGetsThoseBytesAgain) {
  trigger();
  const auto first = read(events, 4096, false, 0);
  ASSERT_TRUE(first->data);
  const std::string line = *first->data;
  const off_t end = static_cast<off_t>(line.size());
  // bash read ahead, used 5 bytes, and seeks back to there.
  const auto again = read(events, 4096, true, 5);
  EXPECT_EQ(again->data, line.substr(5));
  // At the end of what was read there is nothing more.
  EXPECT_EQ(read(events, 4096, true, end)->error, EAGAIN);
}

TEST_F(EventPathTest, RemovalEndsParkedRequestsAndLaterOnesWithEndOfFile) {
  auto wakes = std::make_shared<int>(0);
  auto polled = std::make_shared<Answer>();
  FakeReply poll_reply(polled);
  filesystem_.events().poll(me(), events, std::make_unique<FakeWaker>(wakes), poll_reply);
  const auto parked = read(events);
  EXPECT_FALSE(parked->answered());
  EXPECT_EQ(remove_queue("q"), 0);
  EXPECT_EQ(parked->data, "");
  EXPECT_EQ(parked->answers, 1);
  EXPECT_EQ(*wakes, 1);
  EXPECT_EQ(read(events)->data, "");
  auto hangup = std::make_shared<Answer>();
  FakeReply reply(hangup);
  filesystem_.events().poll(me(), events, nullptr, reply);
  EXPECT_EQ(hangup->revents, unsigned{POLLIN | POLLRDNORM | POLLHUP});
}

}  // namespace
}  // namespace kqfsd::testing
