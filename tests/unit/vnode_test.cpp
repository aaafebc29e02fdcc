// EVFILT_VNODE on real files and directories: which FreeBSD notes each
// operation gives (docs/semantics.md#evfilt_vnode), that a knote takes an
// operation's notes whole when it asked for any of them, that fflags
// accumulate until delivered, and which descriptors it accepts.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <optional>
#include <string>

#include "test_support.hpp"

namespace kqfs::test {
namespace {

// Every note a file or directory operation can give, so that tests can
// check that no other note comes with the expected one.
constexpr uint32_t kChangeNotes =
    NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME;

int add_vnode(Kqueue& kq, int fd, uint32_t notes, uint16_t extra = EV_CLEAR, uint64_t udata = 0) {
  return kq.apply(change(static_cast<uint64_t>(fd), EVFILT_VNODE, EV_ADD | extra, notes, 0, udata));
}

// The next EVFILT_VNODE event on `fd` (others are dropped).
std::optional<Kevent> next_vnode(Kqueue& kq, int fd) {
  return wait_for(kq, [&](const Kevent& ev) {
    return ev.ident == static_cast<uint64_t>(fd) && ev.filter == EVFILT_VNODE;
  });
}

// `ev` is there and has exactly `fflags`.
::testing::AssertionResult has_fflags(const std::optional<Kevent>& ev, uint32_t fflags) {
  if (!ev) return ::testing::AssertionFailure() << "no event";
  if (ev->fflags != fflags) {
    return ::testing::AssertionFailure()
           << "fflags " << std::hex << ev->fflags << ", not " << fflags;
  }
  return ::testing::AssertionSuccess();
}

UniqueFd open_path(const std::string& path, int flags) {
  return UniqueFd(::open(path.c_str(), flags | O_CLOEXEC, 0644));
}

// ------------------------------------------------------ regular files

// A file holding ten bytes, open read-write.
class VnodeFile : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    fd_ = open_path(path_, O_RDWR | O_CREAT);
    ASSERT_TRUE(fd_);
    write_bytes(fd_.get(), "0123456789");
  }

  int watch(uint32_t notes, uint16_t extra = EV_CLEAR) {
    return add_vnode(kq_, fd_.get(), notes, extra);
  }
  std::optional<Kevent> next() { return next_vnode(kq_, fd_.get()); }

  Kqueue kq_;
  TempDir dir_{"vnode"};
  std::string path_ = dir_ / "file";
  UniqueFd fd_;
};

TEST_F(VnodeFile, WriteInsideTheFileGivesNoteWriteWithoutExtend) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::pwrite(fd_.get(), "ab", 2, 0), 2);
  auto ev = next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, static_cast<uint32_t>(NOTE_WRITE));
  EXPECT_EQ(ev->flags, EV_ADD | EV_CLEAR);
  EXPECT_EQ(ev->data, 0);
}

TEST_F(VnodeFile, AppendGivesNoteWriteAndExtend) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  UniqueFd appender = open_path(path_, O_WRONLY | O_APPEND);
  ASSERT_TRUE(appender);
  write_bytes(appender.get(), "more");
  ASSERT_TRUE(has_fflags(next(), NOTE_WRITE | NOTE_EXTEND));
}

// FreeBSD posts an extending write as one hint, NOTE_WRITE|NOTE_EXTEND, and
// a knote that asked for either note takes both: one event either way.
TEST_F(VnodeFile, AnExtendingWriteIsOneEventWithWriteAndExtendWhicheverWasAsked) {
  for (const uint32_t asked : {NOTE_WRITE, NOTE_EXTEND, NOTE_WRITE | NOTE_EXTEND}) {
    SCOPED_TRACE(::testing::Message() << "asked for fflags " << asked);
    ASSERT_EQ(watch(asked), 0);
    write_bytes(fd_.get(), "grows");
    ASSERT_TRUE(has_fflags(next(), NOTE_WRITE | NOTE_EXTEND));
    expect_quiet(kq_);
    ASSERT_EQ(kq_.apply(change(static_cast<uint64_t>(fd_.get()), EVFILT_VNODE, EV_DELETE)), 0);
  }
}

// A write within the file is NOTE_WRITE alone, which a knote asking only
// for NOTE_EXTEND does not take.
TEST_F(VnodeFile, AWriteWithinTheFileIsNotAnExtension) {
  ASSERT_EQ(watch(NOTE_EXTEND), 0);
  ASSERT_EQ(::pwrite(fd_.get(), "ab", 2, 0), 2);
  expect_quiet(kq_);
  ASSERT_EQ(::pwrite(fd_.get(), "abc", 3, 9), 3);  // over the last byte and past it
  ASSERT_TRUE(has_fflags(next(), NOTE_WRITE | NOTE_EXTEND));
}

// inotify does not tell ftruncate from a write: a file that ftruncate grows
// reads as an extending write (FreeBSD: NOTE_ATTRIB; see semantics.md).
TEST_F(VnodeFile, GrowingWithFtruncateGivesNoteExtend) {
  ASSERT_EQ(watch(NOTE_EXTEND), 0);
  ASSERT_EQ(::ftruncate(fd_.get(), 100), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_WRITE | NOTE_EXTEND));
}

TEST_F(VnodeFile, ChmodGivesNoteAttrib) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::fchmod(fd_.get(), 0600), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_ATTRIB));
}

TEST_F(VnodeFile, UtimesGivesNoteAttrib) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  const timespec times[2] = {{1000, 0}, {2000, 0}};
  ASSERT_EQ(::futimens(fd_.get(), times), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_ATTRIB));
}

// FreeBSD posts a truncation from setattr: an attribute change, not a write.
TEST_F(VnodeFile, TruncationThatShrinksGivesNoteAttrib) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::ftruncate(fd_.get(), 3), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_ATTRIB));
}

TEST_F(VnodeFile, LinkGivesNoteLink) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::link(path_.c_str(), (dir_ / "second").c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_LINK));
}

TEST_F(VnodeFile, UnlinkGivesNoteDelete) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_DELETE));
}

// FreeBSD: NOTE_DELETE on any unlink, even when another name remains.
TEST_F(VnodeFile, UnlinkWithAnotherLinkLeftGivesNoteDelete) {
  ASSERT_EQ(::link(path_.c_str(), (dir_ / "second").c_str()), 0);
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_DELETE));
}

TEST_F(VnodeFile, RenameOverItGivesNoteDeleteToTheReplacedFile) {
  const std::string other = dir_ / "other";
  ASSERT_TRUE(open_path(other, O_WRONLY | O_CREAT));
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::rename(other.c_str(), path_.c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_DELETE));
}

TEST_F(VnodeFile, RenameOfTheFileGivesNoteRename) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::rename(path_.c_str(), (dir_ / "renamed").c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_RENAME));
}

TEST_F(VnodeFile, OpenGivesNoteOpenWhenAsked) {
  ASSERT_EQ(watch(NOTE_OPEN), 0);
  UniqueFd reader = open_path(path_, O_RDONLY);
  ASSERT_TRUE(reader);
  ASSERT_TRUE(has_fflags(next(), NOTE_OPEN));
}

TEST_F(VnodeFile, ReadOnlyCloseGivesNoteClose) {
  ASSERT_EQ(watch(NOTE_CLOSE | NOTE_CLOSE_WRITE), 0);
  ASSERT_TRUE(open_path(path_, O_RDONLY));  // opened and closed at once
  ASSERT_TRUE(has_fflags(next(), NOTE_CLOSE));
}

TEST_F(VnodeFile, CloseOfAWriterGivesNoteCloseWrite) {
  ASSERT_EQ(watch(NOTE_CLOSE | NOTE_CLOSE_WRITE), 0);
  ASSERT_TRUE(open_path(path_, O_WRONLY));  // opened and closed at once
  ASSERT_TRUE(has_fflags(next(), NOTE_CLOSE_WRITE));
}

TEST_F(VnodeFile, ReadGivesNoteReadWhenAsked) {
  ASSERT_EQ(watch(NOTE_READ), 0);
  char buffer[4];
  ASSERT_EQ(::pread(fd_.get(), buffer, sizeof buffer, 0), 4);
  ASSERT_TRUE(has_fflags(next(), NOTE_READ));
}

TEST_F(VnodeFile, OpenCloseAndReadAreNotReportedUnlessAsked) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  {
    UniqueFd reader = open_path(path_, O_RDONLY);
    char buffer[4];
    ASSERT_EQ(::read(reader.get(), buffer, sizeof buffer), 4);
  }
  expect_quiet(kq_);
}

TEST_F(VnodeFile, AChangeWithNoNoteAskedForIsNotReported) {
  ASSERT_EQ(watch(NOTE_ATTRIB), 0);
  write_bytes(fd_.get(), "grows");  // a write and an extension, not asked for
  expect_quiet(kq_);
  ASSERT_EQ(::fchmod(fd_.get(), 0600), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_ATTRIB));
}

TEST_F(VnodeFile, DataIsZero) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  write_bytes(fd_.get(), std::string(100, 'x'));
  auto ev = next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->data, 0);
}

TEST_F(VnodeFile, FflagsAccumulateUntilDeliveredOnceWithEvClear) {
  ASSERT_EQ(watch(NOTE_WRITE | NOTE_ATTRIB), 0);
  ASSERT_EQ(::pwrite(fd_.get(), "a", 1, 0), 1);
  ASSERT_EQ(::pwrite(fd_.get(), "b", 1, 1), 1);
  ASSERT_EQ(::fchmod(fd_.get(), 0600), 0);
  const auto events = wait_events(kq_, kPatience);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].fflags, static_cast<uint32_t>(NOTE_WRITE | NOTE_ATTRIB));
  expect_quiet(kq_);  // EV_CLEAR: nothing new happened since
}

// Without EV_CLEAR the accumulated fflags stay set (BSD).
TEST_F(VnodeFile, WithoutEvClearTheEventKeepsFiring) {
  ASSERT_EQ(watch(NOTE_ATTRIB, 0), 0);
  ASSERT_EQ(::fchmod(fd_.get(), 0600), 0);
  auto first = next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->fflags, static_cast<uint32_t>(NOTE_ATTRIB));
  EXPECT_EQ(first->flags, EV_ADD);
  auto again = wait_one(kq_, kPatience);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->fflags, static_cast<uint32_t>(NOTE_ATTRIB));
}

TEST_F(VnodeFile, OneshotIsDeliveredOnceAndDeleted) {
  ASSERT_EQ(watch(NOTE_ATTRIB, EV_ONESHOT), 0);
  ASSERT_EQ(::fchmod(fd_.get(), 0600), 0);
  auto ev = next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->flags, EV_ADD | EV_ONESHOT);
  EXPECT_EQ(kq_.knote_count(EVFILT_VNODE), 0u);
  ASSERT_EQ(::fchmod(fd_.get(), 0640), 0);
  expect_quiet(kq_);
}

TEST_F(VnodeFile, InterestGrowsWithALaterAdd) {
  ASSERT_EQ(watch(NOTE_WRITE), 0);
  ASSERT_EQ(::fchmod(fd_.get(), 0600), 0);
  expect_quiet(kq_);
  ASSERT_EQ(watch(NOTE_WRITE | NOTE_ATTRIB), 0);
  ASSERT_EQ(::fchmod(fd_.get(), 0640), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_ATTRIB));
}

// NOTE_READ needs inotify events the first registration did not ask for.
TEST_F(VnodeFile, InterestGrowsToNotesTheFirstAddDidNotWatch) {
  ASSERT_EQ(watch(NOTE_WRITE), 0);
  char buffer[4];
  ASSERT_EQ(::pread(fd_.get(), buffer, sizeof buffer, 0), 4);
  expect_quiet(kq_);
  ASSERT_EQ(watch(NOTE_WRITE | NOTE_READ), 0);
  ASSERT_EQ(::pread(fd_.get(), buffer, sizeof buffer, 0), 4);
  ASSERT_TRUE(has_fflags(next(), NOTE_READ));
}

TEST_F(VnodeFile, ClosingTheDescriptorDropsTheKnote) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(kq_.knote_count(EVFILT_VNODE), 1u);
  fd_.reset();
  kq_.sweep();
  EXPECT_EQ(kq_.knote_count(EVFILT_VNODE), 0u);
}

TEST_F(VnodeFile, ClosedDescriptorIsEbadf) {
  const int number = fd_.get();
  fd_.reset();
  EXPECT_EQ(add_vnode(kq_, number, kChangeNotes), EBADF);
  EXPECT_EQ(kq_.knote_count(), 0u);
}

// ------------------------------------------------ kinds of descriptor

TEST(VnodeDescriptor, SocketIsEinval) {
  Kqueue kq;
  SocketPair pair;
  ASSERT_TRUE(pair.a);
  EXPECT_EQ(add_vnode(kq, pair.a.get(), kChangeNotes), EINVAL);
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(VnodeDescriptor, AnonymousPipeIsEinval) {
  Kqueue kq;
  Pipe p;
  ASSERT_TRUE(p.read_end);
  EXPECT_EQ(add_vnode(kq, p.r(), kChangeNotes), EINVAL);
  EXPECT_EQ(add_vnode(kq, p.w(), kChangeNotes), EINVAL);
  EXPECT_EQ(kq.knote_count(), 0u);
}

// A kqueue, an epoll or an eventfd has no vnode behind it (BSD: EINVAL).
TEST(VnodeDescriptor, KqueueAndOtherKernelObjectsAreEinval) {
  Kqueue kq;
  Kqueue other;
  UniqueFd counter(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(counter);
  EXPECT_EQ(add_vnode(kq, other.fd(), kChangeNotes), EINVAL);
  EXPECT_EQ(add_vnode(kq, counter.get(), kChangeNotes), EINVAL);
  EXPECT_EQ(kq.knote_count(), 0u);
}

TEST(VnodeDescriptor, NamedFifoIsAccepted) {
  Kqueue kq;
  TempDir dir("vnode");
  const std::string path = dir / "fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  UniqueFd fifo = open_path(path, O_RDONLY | O_NONBLOCK);
  ASSERT_TRUE(fifo);
  EXPECT_EQ(add_vnode(kq, fifo.get(), kChangeNotes), 0);
  EXPECT_EQ(kq.knote_count(EVFILT_VNODE), 1u);
}

// -------------------------------------------------------- directories

// A directory "watched" (open) inside a temporary directory.
class VnodeDirectory : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(top_.ok());
    ASSERT_EQ(::mkdir(path_.c_str(), 0755), 0);
    fd_ = open_path(path_, O_RDONLY | O_DIRECTORY);
    ASSERT_TRUE(fd_);
  }

  int watch(uint32_t notes) { return add_vnode(kq_, fd_.get(), notes); }
  std::optional<Kevent> next() { return next_vnode(kq_, fd_.get()); }
  std::string entry(const std::string& name) const { return path_ + "/" + name; }

  Kqueue kq_;
  TempDir top_{"vnode-dir"};
  std::string path_ = top_ / "watched";
  UniqueFd fd_;
};

TEST_F(VnodeDirectory, CreatingAnEntryGivesNoteWrite) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_TRUE(open_path(entry("file"), O_WRONLY | O_CREAT));
  auto ev = next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, static_cast<uint32_t>(NOTE_WRITE));
  EXPECT_EQ(ev->data, 0);
}

TEST_F(VnodeDirectory, RemovingAnEntryGivesNoteWrite) {
  ASSERT_TRUE(open_path(entry("file"), O_WRONLY | O_CREAT));
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::unlink(entry("file").c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_WRITE));
}

TEST_F(VnodeDirectory, CreatingASubdirectoryGivesNoteWriteAndLink) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::mkdir(entry("sub").c_str(), 0755), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_WRITE | NOTE_LINK));
}

TEST_F(VnodeDirectory, RemovingASubdirectoryGivesNoteWriteAndLink) {
  ASSERT_EQ(::mkdir(entry("sub").c_str(), 0755), 0);
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::rmdir(entry("sub").c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_WRITE | NOTE_LINK));
}

// FreeBSD posts mkdir to the parent as one hint, NOTE_WRITE|NOTE_LINK,
// taken whole by a knote that asked only for NOTE_LINK.
TEST_F(VnodeDirectory, MkdirGivesWriteAndLinkToAKnoteAskingOnlyForLink) {
  ASSERT_EQ(watch(NOTE_LINK), 0);
  ASSERT_TRUE(open_path(entry("file"), O_WRONLY | O_CREAT));  // NOTE_WRITE alone
  expect_quiet(kq_);
  ASSERT_EQ(::mkdir(entry("sub").c_str(), 0755), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_WRITE | NOTE_LINK));
}

// FreeBSD: NOTE_EXTEND on a directory means an entry came or went by rename.
TEST_F(VnodeDirectory, RenameAcrossDirectoriesGivesWriteAndExtendToBoth) {
  const std::string other_path = top_ / "other";
  ASSERT_EQ(::mkdir(other_path.c_str(), 0755), 0);
  UniqueFd other = open_path(other_path, O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(other);
  ASSERT_TRUE(open_path(entry("file"), O_WRONLY | O_CREAT));
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(add_vnode(kq_, other.get(), kChangeNotes), 0);

  ASSERT_EQ(::rename(entry("file").c_str(), (other_path + "/file").c_str()), 0);
  std::map<uint64_t, uint32_t> fflags_by_ident;
  wait_for(kq_, [&](const Kevent& ev) {
    fflags_by_ident[ev.ident] |= ev.fflags;
    return fflags_by_ident.size() == 2;
  });
  EXPECT_EQ(fflags_by_ident[static_cast<uint64_t>(fd_.get())],
            static_cast<uint32_t>(NOTE_WRITE | NOTE_EXTEND));
  EXPECT_EQ(fflags_by_ident[static_cast<uint64_t>(other.get())],
            static_cast<uint32_t>(NOTE_WRITE | NOTE_EXTEND));
}

// A subdirectory renamed within its parent keeps the parent's link count.
TEST_F(VnodeDirectory, RenamingASubdirectoryWithinGivesNoteWriteOnly) {
  ASSERT_EQ(::mkdir(entry("sub").c_str(), 0755), 0);
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::rename(entry("sub").c_str(), entry("renamed").c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_WRITE));
}

// FreeBSD: a directory moving to a new parent adds NOTE_LINK to both.
TEST_F(VnodeDirectory, MovingASubdirectoryOutGivesWriteExtendAndLink) {
  ASSERT_EQ(::mkdir(entry("sub").c_str(), 0755), 0);
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::rename(entry("sub").c_str(), (top_ / "moved").c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_WRITE | NOTE_EXTEND | NOTE_LINK));
}

TEST_F(VnodeDirectory, RenameWithinGivesNoteWriteWithoutExtend) {
  ASSERT_TRUE(open_path(entry("file"), O_WRONLY | O_CREAT));
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::rename(entry("file").c_str(), entry("renamed").c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_WRITE));
}

// Linux tells an open directory nothing at rmdir (only at its last close).
TEST_F(VnodeDirectory, RmdirWhileOpenGivesNoteDelete) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::rmdir(path_.c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_DELETE));
}

TEST_F(VnodeDirectory, RenameOfTheDirectoryGivesNoteRename) {
  ASSERT_EQ(watch(kChangeNotes), 0);
  ASSERT_EQ(::rename(path_.c_str(), (top_ / "renamed").c_str()), 0);
  ASSERT_TRUE(has_fflags(next(), NOTE_RENAME));
}

// The rmdir is seen through the directory's parent: after a move, the new one.
TEST_F(VnodeDirectory, RmdirAfterAMoveToAnotherParentGivesNoteDelete) {
  const std::string elsewhere = top_ / "elsewhere";
  ASSERT_EQ(::mkdir(elsewhere.c_str(), 0755), 0);
  ASSERT_EQ(watch(kChangeNotes), 0);
  const std::string moved = elsewhere + "/watched";
  ASSERT_EQ(::rename(path_.c_str(), moved.c_str()), 0);
  auto renamed = next();
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->fflags, static_cast<uint32_t>(NOTE_RENAME));

  ASSERT_EQ(::rmdir(moved.c_str()), 0);
  auto deleted = next();
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->fflags, static_cast<uint32_t>(NOTE_DELETE));
}

// ----------------------------------------------- one file, two knotes

// Two descriptors of one file share inotify's one watch; each knote gets the
// file's events, and closing one descriptor leaves the other knote working.
TEST(VnodeSharedWatch, TwoDescriptorsOfOneFileEachGetEventsAndOutliveEachOther) {
  Kqueue kq;
  TempDir dir("vnode");
  const std::string path = dir / "file";
  UniqueFd first = open_path(path, O_RDWR | O_CREAT);
  UniqueFd second = open_path(path, O_RDONLY);
  ASSERT_TRUE(first && second);
  ASSERT_EQ(add_vnode(kq, first.get(), NOTE_ATTRIB), 0);
  ASSERT_EQ(add_vnode(kq, second.get(), NOTE_ATTRIB), 0);

  ASSERT_EQ(::fchmod(first.get(), 0600), 0);
  std::map<uint64_t, uint32_t> fflags_by_ident;
  wait_for(kq, [&](const Kevent& ev) {
    fflags_by_ident[ev.ident] |= ev.fflags;
    return fflags_by_ident.size() == 2;
  });
  EXPECT_EQ(fflags_by_ident[static_cast<uint64_t>(first.get())],
            static_cast<uint32_t>(NOTE_ATTRIB));
  EXPECT_EQ(fflags_by_ident[static_cast<uint64_t>(second.get())],
            static_cast<uint32_t>(NOTE_ATTRIB));

  const int closed = first.get();
  first.reset();
  kq.sweep();
  EXPECT_EQ(kq.knote_count(EVFILT_VNODE), 1u);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  auto ev = next_vnode(kq, second.get());
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->fflags, static_cast<uint32_t>(NOTE_ATTRIB));
  EXPECT_NE(ev->ident, static_cast<uint64_t>(closed));
}

}  // namespace
}  // namespace kqfs::test
