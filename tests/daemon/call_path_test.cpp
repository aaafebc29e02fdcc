// The call path: one kevent() in one request (an ioctl on a kq/clone
// handle), answered at once or parked like a read.
#include <kqfs/call_ioctl.h>

#include <cstring>
#include <vector>

#include "kqfs/codec/codec.hpp"
#include "tests/daemon/fixture.hpp"

namespace kqfsd::testing {
namespace {

kqfs::Kevent user_change(uint64_t ident, uint16_t flags, uint32_t fflags = 0) {
  kqfs::Kevent change{};
  change.ident = ident;
  change.filter = EVFILT_USER;
  change.flags = flags;
  change.fflags = fflags;
  return change;
}

// kevent()'s answer as the client reads it.
struct CallAnswer {
  kqfs_call_result result{};
  std::vector<kqfs::Kevent> entries;
};

class CallPathTest : public DaemonCore {
 protected:
  CallPathTest() : kq(open(0, FileKind::clone)) {}
  ~CallPathTest() override { close(kq); }

  // One call with `room` entries; `timeout_ns` < 0 waits without limit.
  std::shared_ptr<Answer> call(const std::vector<kqfs::Kevent>& changes, int room,
                               int64_t timeout_ns = -1, uint32_t flags = 0,
                               const Requester* who = nullptr, uint64_t handle = 0) {
    const size_t slots = 1 + std::max<size_t>({changes.size(), static_cast<size_t>(room), 1});
    std::string in(slots * KQFS_CALL_SLOT, '\0');
    kqfs_call header{};
    header.magic = KQFS_CALL_MAGIC;
    header.flags = flags;
    header.nchanges = static_cast<int32_t>(changes.size());
    header.nevents = room;
    if (timeout_ns >= 0) {
      header.flags |= KQFS_CALL_TIMEOUT;
      header.timeout_sec = timeout_ns / 1'000'000'000;
      header.timeout_nsec = timeout_ns % 1'000'000'000;
    }
    std::memcpy(in.data(), &header, sizeof header);
    for (size_t i = 0; i < changes.size(); ++i) {
      kqfs::codec::encode_binary(
          changes[i],
          std::span<char, KQFS_CALL_SLOT>(in.data() + (i + 1) * KQFS_CALL_SLOT, KQFS_CALL_SLOT));
    }
    auto answer = std::make_shared<Answer>();
    filesystem_.calls().call(who != nullptr ? *who : me(), handle != 0 ? handle : kq, 77,
                             KQFS_IOC_CALL(slots), in, in.size(),
                             std::make_unique<FakeReply>(answer));
    return answer;
  }

  static CallAnswer decoded(const Answer& answer) {
    CallAnswer out;
    EXPECT_EQ(answer.answers, 1);
    if (!answer.ioctl || answer.ioctl->size() < KQFS_CALL_SLOT) {
      ADD_FAILURE() << "no ioctl answer";
      return out;
    }
    std::memcpy(&out.result, answer.ioctl->data(), sizeof out.result);
    EXPECT_EQ(out.result.magic, KQFS_CALL_RESULT_MAGIC);
    for (size_t at = KQFS_CALL_SLOT; at + KQFS_CALL_SLOT <= answer.ioctl->size();
         at += KQFS_CALL_SLOT) {
      out.entries.push_back(kqfs::codec::decode_binary(
          std::span<const char, KQFS_CALL_SLOT>(answer.ioctl->data() + at, KQFS_CALL_SLOT)));
    }
    return out;
  }

  uint64_t queue_id() { return filesystem_.files().find(kq)->queue->id; }

  const uint64_t kq;
};

TEST_F(CallPathTest, ChangesAndAWaitForWhatTheyMadeAreOneCall) {
  const auto answer = call({user_change(1, EV_ADD | EV_CLEAR), user_change(1, 0, NOTE_TRIGGER)}, 4);
  const CallAnswer got = decoded(*answer);
  EXPECT_EQ(got.result.status, uint32_t{KQFS_CALL_DONE});
  EXPECT_EQ(got.result.entries, 1);
  EXPECT_EQ(got.result.processed, 2);
  EXPECT_EQ(got.result.handle, 77u);
  ASSERT_EQ(got.entries.size(), 1u);
  EXPECT_EQ(got.entries[0].ident, 1u);
  EXPECT_EQ(got.entries[0].filter, EVFILT_USER);
}

TEST_F(CallPathTest, AFailedChangeWithRoomIsAnEntryAndTheCallReturnsAtOnce) {
  const auto answer = call({user_change(5, EV_DELETE), user_change(6, EV_ADD | EV_RECEIPT)}, 4, -1);
  const CallAnswer got = decoded(*answer);
  EXPECT_EQ(got.result.entries, 2);
  ASSERT_EQ(got.entries.size(), 2u);
  EXPECT_EQ(got.entries[0].flags & EV_ERROR, EV_ERROR);
  EXPECT_EQ(got.entries[0].data, ENOENT);
  EXPECT_EQ(got.entries[1].data, 0);  // the receipt
  EXPECT_THAT(status_field(queue_id(), "last-error"), ::testing::HasSubstr("No such file"));
}

TEST_F(CallPathTest, AFailedChangeWithoutRoomFailsTheCallWithItsErrno) {
  const CallAnswer got = decoded(*call({user_change(5, EV_DELETE), user_change(6, EV_ADD)}, 0));
  EXPECT_EQ(got.result.entries, -1);
  EXPECT_EQ(got.result.error, ENOENT);
  EXPECT_EQ(got.result.processed, 1);
  EXPECT_EQ(status_field(queue_id(), "knotes"), "0");  // the change after it was not applied
}

TEST_F(CallPathTest, AWaitIsParkedAndAnsweredByTheNextEvent) {
  decoded(*call({user_change(1, EV_ADD | EV_CLEAR)}, 0));
  const auto waiting = call({}, 8);
  EXPECT_FALSE(waiting->answered());
  EXPECT_EQ(status_field(queue_id(), "readers"), "1");
  const auto trigger = call({user_change(1, 0, NOTE_TRIGGER)}, 0);
  EXPECT_EQ(decoded(*trigger).result.entries, 0);
  const CallAnswer got = decoded(*waiting);
  EXPECT_EQ(got.result.entries, 1);
}

TEST_F(CallPathTest, AZeroTimeoutPollsAndATimeoutEndsFromTheLoop) {
  EXPECT_EQ(decoded(*call({}, 8, 0)).result.entries, 0);
  const auto waiting = call({}, 8, 30'000'000);
  EXPECT_FALSE(waiting->answered());
  EXPECT_TRUE(run_until([&] { return waiting->answered(); }));
  const CallAnswer got = decoded(*waiting);
  EXPECT_EQ(got.result.entries, 0);
  EXPECT_EQ(got.result.error, 0);
  EXPECT_EQ(status_field(queue_id(), "readers"), "0");
}

TEST_F(CallPathTest, CallsAnsweredBeforeTheirTimeLeaveNoDeadlineBehind) {
  decoded(*call({user_change(1, EV_ADD | EV_CLEAR)}, 0));
  for (int i = 0; i < 100; ++i) {
    const auto waiting = call({}, 8, 3600'000'000'000);  // an hour
    EXPECT_EQ(filesystem_.events().deadline_count(), 1u);
    decoded(*call({user_change(1, 0, NOTE_TRIGGER)}, 0));
    EXPECT_EQ(decoded(*waiting).result.entries, 1);
  }
  EXPECT_EQ(filesystem_.events().deadline_count(), 0u);
  const auto interrupted = call({}, 8, 3600'000'000'000);
  interrupted->interrupt();
  filesystem_.events().answer_interrupted();
  const auto removed = call({}, 8, 3600'000'000'000);
  filesystem_.registry().remove(*queue(queue_id()));
  EXPECT_EQ(decoded(*removed).result.error, EBADF);
  EXPECT_EQ(filesystem_.events().deadline_count(), 0u);
}

TEST_F(CallPathTest, AnInterruptedWaitIsEintrButEventsThereWin) {
  decoded(*call({user_change(1, EV_ADD | EV_CLEAR)}, 0));
  const auto first = call({}, 8);
  ASSERT_TRUE(first->interrupt);
  first->interrupt();
  filesystem_.events().answer_interrupted();
  EXPECT_EQ(decoded(*first).result.error, EINTR);

  const auto second = call({}, 8);
  ASSERT_TRUE(second->interrupt);
  second->interrupt();
  // The event comes before the interrupt is answered: the call takes it.
  auto& engine = *queue(queue_id())->engine;
  ASSERT_EQ(engine.apply(user_change(1, 0, NOTE_TRIGGER)), 0);
  filesystem_.events().answer_interrupted();
  EXPECT_EQ(decoded(*second).result.entries, 1);
}

TEST_F(CallPathTest, TheOwnersCloseOfADescriptorTellsItsWaitingCallsToRecheck) {
  const auto waiting = call({}, 8);
  auto flushed = std::make_shared<Answer>();
  FakeReply flush(flushed);
  filesystem_.files().flush(me(), kq, flush);
  const CallAnswer got = decoded(*waiting);
  EXPECT_EQ(got.result.status, uint32_t{KQFS_CALL_RECHECK});
  EXPECT_EQ(got.result.handle, 77u);
}

TEST_F(CallPathTest, AnotherProcessesCloseLeavesTheWaitAlone) {
  const auto waiting = call({}, 8);
  auto flushed = std::make_shared<Answer>();
  FakeReply flush(flushed);
  const Requester child{1, 0, 0};  // init: never this process
  filesystem_.files().flush(child, kq, flush);
  EXPECT_FALSE(waiting->answered());
}

TEST_F(CallPathTest, ARemovedQueuesWaitingCallIsEbadf) {
  const auto waiting = call({}, 8);
  filesystem_.registry().remove(*queue(queue_id()));
  EXPECT_EQ(decoded(*waiting).result.error, EBADF);
}

TEST_F(CallPathTest, OnlyKqueueHandlesOfTheCallersProcessTakeCalls) {
  const uint64_t id = make_queue("named");
  const uint64_t changes = open(id, changes_file(kqfs::codec::Format::binary));
  EXPECT_EQ(decoded(*call({}, 1, 0, 0, nullptr, changes)).result.error, EBADF);
  close(changes);
  const Requester other{1, 0, 0};
  EXPECT_EQ(decoded(*call({}, 1, 0, 0, &other)).result.error, EBADF);
}

TEST_F(CallPathTest, ChangesOnlyNeverCollects) {
  decoded(*call({user_change(1, EV_ADD | EV_CLEAR), user_change(1, 0, NOTE_TRIGGER)}, 0));
  EXPECT_EQ(decoded(*call({}, 8, -1, KQFS_CALL_CHANGES_ONLY)).result.entries, 0);
  EXPECT_EQ(decoded(*call({}, 8, 0)).result.entries, 1);
}

TEST_F(CallPathTest, MalformedRequestsAreRefused) {
  auto answer = std::make_shared<Answer>();
  const std::string in(64, '\0');  // no magic
  filesystem_.calls().call(me(), kq, 77, KQFS_IOC_CALL(2), in, in.size(),
                           std::make_unique<FakeReply>(answer));
  EXPECT_EQ(answer->error, EINVAL);
  auto unknown = std::make_shared<Answer>();
  filesystem_.calls().call(me(), kq, 77, _IOR('x', 1, int), in, in.size(),
                           std::make_unique<FakeReply>(unknown));
  EXPECT_EQ(unknown->error, ENOTTY);
  // More changes than the request has slots for.
  kqfs_call header{};
  header.magic = KQFS_CALL_MAGIC;
  header.nchanges = 2;
  std::string short_of_slots = in;
  std::memcpy(short_of_slots.data(), &header, sizeof header);
  auto too_many = std::make_shared<Answer>();
  filesystem_.calls().call(me(), kq, 77, KQFS_IOC_CALL(2), short_of_slots, short_of_slots.size(),
                           std::make_unique<FakeReply>(too_many));
  EXPECT_EQ(decoded(*too_many).result.error, EINVAL);
}

}  // namespace
}  // namespace kqfsd::testing
