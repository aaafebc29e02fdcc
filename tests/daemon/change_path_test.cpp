// The change path: bytes written to a changes file, through the codec, to
// the engine; refusals kept as the queue's last error.
#include "tests/daemon/fixture.hpp"

namespace kqfsd::testing {
namespace {

class ChangePathTest : public DaemonCore {
 protected:
  ChangePathTest()
      : id(make_queue("q")), changes(open(id, changes_file(kqfs::codec::Format::text))) {}
  ~ChangePathTest() override { close(changes); }

  const uint64_t id;
  const uint64_t changes;
};

TEST_F(ChangePathTest, AGoodRecordIsAppliedWhole) {
  const auto answer = write(changes, "1 user add\n");
  EXPECT_EQ(answer->written, 11u);
  EXPECT_FALSE(answer->error);
  EXPECT_EQ(queue(id)->engine->knote_count(), 1u);
  EXPECT_EQ(queue(id)->changes_applied, 1u);
  EXPECT_FALSE(queue(id)->last_error);
  EXPECT_EQ(status_field(id, "knotes.user"), "1");
  EXPECT_EQ(status_field(id, "last-error"), "none");
}

TEST_F(ChangePathTest, AMalformedRecordIsRejectedWholeWithEINVALAndAReason) {
  const auto answer = write(changes, "1 EVFILT_RAED add\n");
  EXPECT_EQ(answer->error, EINVAL);
  EXPECT_FALSE(answer->written);
  EXPECT_EQ(queue(id)->engine->knote_count(), 0u);
  EXPECT_EQ(queue(id)->changes_applied, 0u);
  ASSERT_TRUE(queue(id)->last_error);
  EXPECT_EQ(queue(id)->last_error->error, EINVAL);
  EXPECT_EQ(queue(id)->last_error->reason, "unknown filter 'EVFILT_RAED'");
  EXPECT_EQ(status_field(id, "last-error"), "unknown filter 'EVFILT_RAED'");
}

TEST_F(ChangePathTest, RecordsBeforeARejectedOneStandAndAreCounted) {
  const auto answer = write(changes, "1 user add\n2 user add\n3 EVFILT_RAED add\n4 user add\n");
  EXPECT_EQ(answer->written, 22u);
  EXPECT_FALSE(answer->error);
  EXPECT_EQ(status_field(id, "knotes.user"), "2");
  EXPECT_EQ(status_field(id, "last-error"), "unknown filter 'EVFILT_RAED'");
}

TEST_F(ChangePathTest, TheLastErrorIsTheLatestRejectionAndOutlivesGoodWrites) {
  EXPECT_EQ(write(changes, "1 EVFILT_RAED add\n")->error, EINVAL);
  EXPECT_EQ(write(changes, "5 user delete\n")->error, ENOENT);
  ASSERT_TRUE(queue(id)->last_error);
  EXPECT_EQ(queue(id)->last_error->error, ENOENT);
  EXPECT_EQ(write(changes, "1 user add\n")->written, 11u);
  EXPECT_THAT(status_field(id, "last-error"), ::testing::HasSubstr("5 EVFILT_USER EV_DELETE"));
}

TEST_F(ChangePathTest, AnUnfinishedLineIsAppliedAtTheWritersClose) {
  EXPECT_EQ(write(changes, "7 user add")->written, 10u);
  EXPECT_EQ(queue(id)->engine->knote_count(), 0u);
  auto flushed = std::make_shared<Answer>();
  FakeReply reply(flushed);
  filesystem_.files().flush(me(), changes, reply);
  EXPECT_EQ(flushed->error, 0);
  EXPECT_EQ(queue(id)->engine->knote_count(), 1u);
  EXPECT_EQ(status_field(id, "last-fragment"), "applied at close: \"7 user add\"");
}

TEST_F(ChangePathTest, OnlyChangesFilesTakeWrites) {
  const uint64_t events = open(id, events_file(kqfs::codec::Format::text));
  EXPECT_EQ(write(events, "1 user add\n")->error, EBADF);
  EXPECT_EQ(write(9999, "1 user add\n")->error, EBADF);
  close(events);
}

}  // namespace
}  // namespace kqfsd::testing
