// MOUNT/status, the mount's own status (daemon/mount_status_text.hpp): the
// renderer fed chosen options, facts and features, line by line; then the
// file as a Filesystem serves it, with queues, knotes, readers and handles
// that must show only as totals (docs/security.md#the-mounts-status).
#include "daemon/mount_status_text.hpp"

#include <unistd.h>

#include <climits>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tests/daemon/fixture.hpp"

namespace kqfsd::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kVersionLine = std::string("version: ") + KQFS_VERSION + "\n";

// The text's lines, without their newlines; fails unless it ends in one.
std::vector<std::string> lines_of(const std::string& text) {
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "unfinished last line:\n" << text;
  std::vector<std::string> lines;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return lines;
}

// Each line's key, before its first ": ".
std::vector<std::string> keys_of(const std::string& text) {
  std::vector<std::string> keys;
  for (const std::string& line : lines_of(text)) {
    const size_t colon = line.find(": ");
    EXPECT_NE(colon, std::string::npos) << "not key: value: " << line;
    keys.push_back(line.substr(0, colon));
  }
  return keys;
}

// The value of `key`, or "(no KEY)".
std::string field(const std::string& text, const std::string& key) {
  for (const std::string& line : lines_of(text)) {
    if (line.starts_with(key + ": ")) return line.substr(key.size() + 2);
  }
  return "(no " + key + ")";
}

// Options as kqfsd's defaults, on a mount point of the test's.
Options options_at(const std::string& mount_point) {
  Options options;
  options.mount_point = mount_point;
  return options;
}

// The keys every MOUNT/status has, in order, around the feature lines.
const std::vector<std::string> kKeysBeforeFeatures = {
    "version",     "pid",    "uptime", "mount-point", "mount-options",
    "allow-other", "queues", "knotes", "readers",     "open-handles"};
const std::vector<std::string> kKeysAfterFeatures = {"max-queues",
                                                     "max-knotes",
                                                     "max-queues-per-user",
                                                     "max-knotes-per-user",
                                                     "max-buffered-per-user",
                                                     "signal-buffer-kb",
                                                     "busy-poll-us"};

// The features kqfsd probes at start (daemon/kernel_features.cpp), in order.
const std::vector<std::string> kProbedFeatures = {
    "proc-connector", "proc-exit-status", "signal-tracing", "pidfd-getfd",
    "pidfd-thread",   "sock-diag",        "inotify",
};

std::vector<std::string> keys_with_features(const std::vector<std::string>& feature_names) {
  std::vector<std::string> keys = kKeysBeforeFeatures;
  for (const std::string& name : feature_names)
    keys.push_back("feature." + name);
  keys.insert(keys.end(), kKeysAfterFeatures.begin(), kKeysAfterFeatures.end());
  return keys;
}

TEST(MountStatusText, EveryLineInOrderForChosenInputs) {
  Options options = options_at("/run/kqfs");
  options.fuse_options = {"allow_other,default_permissions", "ro"};
  options.max_queues = 100;
  options.max_knotes = 200;
  options.max_queues_per_user = 10;
  options.max_knotes_per_user = 20;
  options.max_buffered_per_user = 65536;
  options.signal_buffer_kb = 128;
  options.busy_poll_us = 50;
  MountFacts facts;
  facts.pid = 4242;
  facts.uptime_seconds = 3661;
  facts.totals = {.queues = 2, .knotes = 5, .readers = 1, .open_handles = 3};
  const std::vector<KernelFeature> features = {
      {"proc-connector", ""},
      {"signal-tracing", "no tracefs: No such file or directory: EVFILT_SIGNAL fails"},
      {"inotify", ""},
  };

  EXPECT_EQ(mount_status_text(options, facts, features),
            kVersionLine +
                "pid: 4242\n"
                "uptime: 3661\n"
                "mount-point: /run/kqfs\n"
                "mount-options: allow_other,default_permissions,ro\n"
                "allow-other: yes\n"
                "queues: 2\n"
                "knotes: 5\n"
                "readers: 1\n"
                "open-handles: 3\n"
                "feature.proc-connector: yes\n"
                "feature.signal-tracing: no (no tracefs: No such file or directory: "
                "EVFILT_SIGNAL fails)\n"
                "feature.inotify: yes\n"
                "max-queues: 100\n"
                "max-knotes: 200\n"
                "max-queues-per-user: 10\n"
                "max-knotes-per-user: 20\n"
                "max-buffered-per-user: 65536\n"
                "signal-buffer-kb: 128\n"
                "busy-poll-us: 50\n");
}

TEST(MountStatusText, ZeroTotalsNoOptionsNoFeaturesAndTheDefaultLimits) {
  const Options options = options_at("/m");
  const std::string text = mount_status_text(options, MountFacts{}, {});
  EXPECT_EQ(text, kVersionLine +
                      "pid: 0\n"
                      "uptime: 0\n"
                      "mount-point: /m\n"
                      "mount-options: none\n"
                      "allow-other: no\n"
                      "queues: 0\n"
                      "knotes: 0\n"
                      "readers: 0\n"
                      "open-handles: 0\n"
                      "max-queues: 65536\n"
                      "max-knotes: 4194304\n"
                      "max-queues-per-user: 4096\n"
                      "max-knotes-per-user: 4194304\n"
                      "max-buffered-per-user: 4194304\n"
                      "signal-buffer-kb: " +
                      std::to_string(kqfs::SignalTracer::kDefaultBufferKilobytes) +
                      "\n"
                      "busy-poll-us: 25\n");
  EXPECT_EQ(keys_of(text), keys_with_features({}));
}

TEST(MountStatusText, FeaturesComeInTheGivenOrderBetweenTotalsAndLimits) {
  const std::vector<KernelFeature> features = {
      {"proc-connector", ""}, {"signal-tracing", ""}, {"pidfd-getfd", "x"},
      {"pidfd-thread", ""},   {"sock-diag", "y"},     {"inotify", ""},
  };
  const std::string text = mount_status_text(options_at("/m"), MountFacts{}, features);
  EXPECT_EQ(keys_of(text), keys_with_features({"proc-connector", "signal-tracing", "pidfd-getfd",
                                               "pidfd-thread", "sock-diag", "inotify"}));
  EXPECT_EQ(field(text, "feature.pidfd-getfd"), "no (x)");
  EXPECT_EQ(field(text, "feature.sock-diag"), "no (y)");
  EXPECT_EQ(field(text, "feature.pidfd-thread"), "yes");
}

TEST(MountStatusText, AMissingFeatureShowsItsReasonWholeInParentheses) {
  // As the daemon's own reasons read: colons, and parentheses of their own.
  const std::string reason =
      "no process-events connector: Operation not permitted: EVFILT_PROC refuses NOTE_FORK, "
      "NOTE_EXEC and NOTE_TRACK (NOTE_EXIT works, by pidfd)";
  const std::vector<KernelFeature> features = {{"proc-connector", reason}};
  const std::string text = mount_status_text(options_at("/m"), MountFacts{}, features);
  EXPECT_THAT(lines_of(text), ::testing::Contains("feature.proc-connector: no (" + reason + ")"));
}

TEST(MountStatusText, ALongReasonStaysOneLineUncut) {
  std::string reason;
  while (reason.size() < 8192)
    reason += "a reason that goes on and on, ";
  const std::vector<KernelFeature> features = {{"sock-diag", reason}, {"inotify", ""}};
  const std::string text = mount_status_text(options_at("/m"), MountFacts{}, features);
  EXPECT_EQ(field(text, "feature.sock-diag"), "no (" + reason + ")");
  EXPECT_EQ(field(text, "feature.inotify"), "yes");
  EXPECT_EQ(keys_of(text), keys_with_features({"sock-diag", "inotify"}));
}

TEST(MountStatusText, LargeNumbersInFullDecimal) {
  constexpr size_t kMostSize = std::numeric_limits<size_t>::max();
  Options options = options_at("/m");
  options.max_queues = kMostSize;
  options.max_knotes = kMostSize;
  options.max_queues_per_user = kMostSize;
  options.max_knotes_per_user = kMostSize;
  options.max_buffered_per_user = kMostSize;
  options.signal_buffer_kb = kMostSize;
  options.busy_poll_us = std::numeric_limits<unsigned>::max();
  MountFacts facts;
  facts.pid = std::numeric_limits<pid_t>::max();
  facts.uptime_seconds = std::numeric_limits<uint64_t>::max();
  facts.totals = {
      .queues = kMostSize, .knotes = kMostSize, .readers = kMostSize, .open_handles = kMostSize};
  const std::string text = mount_status_text(options, facts, {});

  const std::string most = std::to_string(kMostSize);
  EXPECT_EQ(field(text, "pid"), std::to_string(std::numeric_limits<pid_t>::max()));
  EXPECT_EQ(field(text, "uptime"), "18446744073709551615");
  for (const char* key : {"queues", "knotes", "readers", "open-handles", "max-queues", "max-knotes",
                          "max-queues-per-user", "max-knotes-per-user", "max-buffered-per-user",
                          "signal-buffer-kb"}) {
    EXPECT_EQ(field(text, key), most) << key;
  }
  EXPECT_EQ(field(text, "busy-poll-us"), std::to_string(UINT_MAX));
}

TEST(MountStatusText, UptimeIsPlainSecondsAcrossEveryBoundary) {
  for (const uint64_t seconds :
       {0ULL, 1ULL, 59ULL, 60ULL, 61ULL, 3599ULL, 3600ULL, 86399ULL, 86400ULL, 31536000ULL}) {
    MountFacts facts;
    facts.uptime_seconds = seconds;
    EXPECT_EQ(field(mount_status_text(options_at("/m"), facts, {}), "uptime"),
              std::to_string(seconds));
  }
}

TEST(MountStatusText, MountOptionsAreTheDashOOptionsCommaListsSplitEmptyPartsDropped) {
  Options options = options_at("/m");
  options.fuse_options = {",,ro,", "allow_other", "noatime,,fsname=kq", "ro"};
  const std::string text = mount_status_text(options, MountFacts{}, {});
  // In the order given, repeats kept.
  EXPECT_EQ(field(text, "mount-options"), "ro,allow_other,noatime,fsname=kq,ro");
  EXPECT_EQ(field(text, "allow-other"), "yes");

  options.fuse_options = {",", ",,", ""};
  EXPECT_EQ(field(mount_status_text(options, MountFacts{}, {}), "mount-options"), "none");
}

TEST(MountStatusText, AllowOtherOnlyAsAWholeOption) {
  Options options = options_at("/m");
  for (const char* given :
       {"allow_root", "allow_others", "noallow_other", "xallow_other", "ro;allow_other"}) {
    options.fuse_options = {given};
    EXPECT_FALSE(allows_others(options)) << given;
    EXPECT_EQ(field(mount_status_text(options, MountFacts{}, {}), "allow-other"), "no") << given;
  }
  for (const char* given : {"allow_other", "ro,allow_other", "allow_other,ro", ",allow_other,"}) {
    options.fuse_options = {given};
    EXPECT_TRUE(allows_others(options)) << given;
    EXPECT_EQ(field(mount_status_text(options, MountFacts{}, {}), "allow-other"), "yes") << given;
  }
  options.fuse_options = {"ro", "allow_other"};  // a second -o
  EXPECT_TRUE(allows_others(options));
  options.fuse_options.clear();
  EXPECT_FALSE(allows_others(options));
}

TEST(MountStatusText, TheKeysAreFixedWhateverTheInputs) {
  // Only the feature lines vary, one per feature given: there is no line a
  // queue, a user or a process other than the daemon could appear in.
  Options options = options_at("/somewhere/else");
  options.fuse_options = {"allow_other"};
  MountFacts facts;
  facts.pid = 1;
  facts.uptime_seconds = 12;
  facts.totals = {.queues = 7, .knotes = 70, .readers = 3, .open_handles = 9};
  const std::vector<KernelFeature> features = {{"inotify", "why"}};
  EXPECT_EQ(keys_of(mount_status_text(options, facts, features)), keys_with_features({"inotify"}));
  EXPECT_EQ(keys_of(mount_status_text(options_at("/m"), MountFacts{}, {})), keys_with_features({}));
}

// The file itself, as the Filesystem serves it: its totals, its features as
// probed, and nothing of whose queues these are.
class MountStatusFile : public DaemonCore {
 protected:
  // Opens MOUNT/status and reads it whole, as `who`.
  std::string mount_status(const Requester& who) {
    auto opened = std::make_shared<Answer>();
    FakeReply reply(opened);
    filesystem_.files().open(who, kMountStatusInode, reply);
    EXPECT_TRUE(opened->handle) << "open failed: " << opened->error.value_or(0);
    const uint64_t handle = opened->handle.value_or(0);
    auto answer = read(handle, 1 << 20);
    close(handle);
    EXPECT_TRUE(answer->data) << "read failed: " << answer->error.value_or(0);
    return answer->data.value_or("");
  }
  std::string mount_status() { return mount_status(me()); }

  // A queue made by another user (uid and gid kOther).
  static constexpr uid_t kOther = 54321;
  Requester other() const { return Requester{::getpid(), kOther, kOther}; }
};

TEST_F(MountStatusFile, AnEmptyMountTotalsZeroAndNamesItsDaemon) {
  const std::string text = mount_status();
  EXPECT_EQ(field(text, "version"), KQFS_VERSION);
  EXPECT_EQ(field(text, "pid"), std::to_string(::getpid()));
  EXPECT_EQ(field(text, "mount-point"), "/nonexistent");
  EXPECT_EQ(field(text, "mount-options"), "none");
  EXPECT_EQ(field(text, "allow-other"), "no");
  EXPECT_EQ(field(text, "max-queues"), "8");
  // Its own open handle is not yet counted when it is written.
  for (const char* key : {"queues", "knotes", "readers", "open-handles"}) {
    EXPECT_EQ(field(text, key), "0") << key;
  }
  // The features as probed, each yes or no with a reason, in their order.
  EXPECT_EQ(keys_of(text), keys_with_features(kProbedFeatures));
  for (const std::string& line : lines_of(text)) {
    if (!line.starts_with("feature.")) continue;
    const std::string value = line.substr(line.find(": ") + 2);
    EXPECT_TRUE(value == "yes" ||
                (value.starts_with("no (") && value.size() > 5 && value.ends_with(")")))
        << line;
  }
}

TEST_F(MountStatusFile, TotalsFollowQueuesKnotesReadersAndHandlesWithoutNamingThem) {
  const uint64_t mine = make_queue("secret-mine");
  ASSERT_NE(mine, 0u);
  auto made = std::make_shared<Answer>();
  FakeReply reply(made);
  filesystem_.tree_operations().mkdir(other(), kQueuesInode, "secret-theirs", 0700, reply);
  ASSERT_TRUE(made->entry) << "mkdir failed: " << made->error.value_or(0);
  const uint64_t theirs = decode_inode(made->entry->st_ino)->first;

  const uint64_t changes = open(mine, changes_file(kqfs::codec::Format::text));
  EXPECT_FALSE(write(changes, "1 user add\n2 user add\n")->error);
  const uint64_t their_changes = open(theirs, changes_file(kqfs::codec::Format::text));
  EXPECT_FALSE(write(their_changes, "3 user add\n")->error);
  // A read of mine's events that finds none waits: one reader.
  const uint64_t events = open(mine, events_file(kqfs::codec::Format::text));
  auto waiting = read(events);
  EXPECT_FALSE(waiting->answered());

  std::string text = mount_status();
  EXPECT_EQ(field(text, "queues"), "2");
  EXPECT_EQ(field(text, "knotes"), "3");
  EXPECT_EQ(field(text, "readers"), "1");
  EXPECT_EQ(field(text, "open-handles"), "3");
  // Nothing of whose queues these are, to either user.
  EXPECT_EQ(mount_status(other()), text);
  EXPECT_THAT(text, Not(HasSubstr("secret")));
  EXPECT_THAT(text, Not(HasSubstr(std::to_string(kOther))));
  EXPECT_EQ(keys_of(text), keys_with_features(kProbedFeatures));

  // The reader answered, a handle closed, a queue gone.
  EXPECT_FALSE(write(changes, "1 user 0 trigger\n")->error);
  ASSERT_TRUE(run_until([&] { return waiting->answered(); }));
  close(their_changes);
  EXPECT_EQ(remove_queue("secret-theirs"), 0);
  text = mount_status();
  EXPECT_EQ(field(text, "queues"), "1");
  EXPECT_EQ(field(text, "knotes"), "2");
  EXPECT_EQ(field(text, "readers"), "0");
  EXPECT_EQ(field(text, "open-handles"), "2");
  close(events);
  close(changes);
}

}  // namespace
}  // namespace kqfsd::testing
