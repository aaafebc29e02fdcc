// The daemon's plain C++ core without a mount: a Filesystem over a real
// engine, loop, pipes and timers, answering through FakeReply (a fake of
// the core's own Reply interface, not of FUSE or the kernel).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/filesystem.hpp"
#include "daemon/reply.hpp"

namespace kqfsd::testing {

// What one request was answered with.
struct Answer {
  int answers = 0;  // how many times answered: one is right
  std::optional<int> error;
  std::optional<std::string> data;
  std::optional<size_t> written;
  std::optional<struct stat> entry;
  std::optional<struct stat> attributes;
  std::vector<DirectoryEntry> directory;
  std::optional<uint64_t> handle;
  uint32_t open_flags = 0;
  std::optional<unsigned> revents;
  std::optional<std::string> ioctl;  // what an ioctl's answer copies out
  std::function<void()> interrupt;   // what the core asked to run on an interrupt

  bool answered() const { return answers > 0; }
};

class FakeReply final : public Reply {
 public:
  explicit FakeReply(std::shared_ptr<Answer> answer) : answer_(std::move(answer)) {}

  void error(int error) override { note().error = error; }
  void data(std::string_view bytes) override { note().data = std::string(bytes); }
  void written(size_t count) override { note().written = count; }
  void entry(const struct stat& attributes) override { note().entry = attributes; }
  void attributes(const struct stat& attributes) override { note().attributes = attributes; }
  void directory(std::span<const DirectoryEntry> entries, size_t, off_t offset) override {
    note().directory.assign(entries.begin() + offset, entries.end());
  }
  bool opened(uint64_t handle, uint32_t flags) override {
    note().handle = handle;
    answer_->open_flags = flags;
    return true;
  }
  void poll(unsigned revents) override { note().revents = revents; }
  void ioctl(std::string_view out) override { note().ioctl = std::string(out); }
  void on_interrupt(std::function<void()> interrupted) override {
    answer_->interrupt = std::move(interrupted);
  }

 private:
  Answer& note() {
    ++answer_->answers;
    return *answer_;
  }
  std::shared_ptr<Answer> answer_;
};

// Counts its wakes.
class FakeWaker final : public PollWaker {
 public:
  explicit FakeWaker(std::shared_ptr<int> wakes) : wakes_(std::move(wakes)) {}
  void wake() override { ++*wakes_; }

 private:
  std::shared_ptr<int> wakes_;
};

// How many descriptors this process has open.
inline size_t open_descriptors() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

class DaemonCore : public ::testing::Test {
 protected:
  DaemonCore() { filesystem_.start(0); }  // mount id 0: no file is the mount's own

  static Options test_options() {
    Options options;
    options.mount_point = "/nonexistent";
    options.max_queues = 8;
    return options;
  }

  Requester me() const { return Requester{::getpid(), ::getuid(), ::getgid()}; }

  // mkdir kq/NAME: the queue's id, or 0 with the errno in `error`.
  uint64_t make_queue(const std::string& name, int* error = nullptr) {
    auto answer = std::make_shared<Answer>();
    FakeReply reply(answer);
    filesystem_.tree_operations().mkdir(me(), kQueuesInode, name, 0755, reply);
    EXPECT_EQ(answer->answers, 1);
    if (error != nullptr) *error = answer->error.value_or(0);
    if (!answer->entry) return 0;
    return decode_inode(answer->entry->st_ino)->first;
  }

  int remove_queue(const std::string& name) {
    auto answer = std::make_shared<Answer>();
    FakeReply reply(answer);
    filesystem_.tree_operations().rmdir(kQueuesInode, name, reply);
    return answer->error.value_or(-1);
  }

  // Opens a file of queue `id` (or kq/clone): its handle.
  uint64_t open(uint64_t id, FileKind kind, const Requester* who = nullptr) {
    auto answer = std::make_shared<Answer>();
    FakeReply reply(answer);
    const Inode inode = kind == FileKind::clone && id == 0 ? kCloneInode : file_inode(id, kind);
    filesystem_.files().open(who != nullptr ? *who : me(), inode, reply);
    EXPECT_EQ(answer->answers, 1);
    EXPECT_TRUE(answer->handle) << "open failed: " << answer->error.value_or(0);
    return answer->handle.value_or(0);
  }

  void close(uint64_t handle) {
    auto flushed = std::make_shared<Answer>();
    FakeReply flush(flushed);
    filesystem_.files().flush(me(), handle, flush);
    auto released = std::make_shared<Answer>();
    FakeReply release(released);
    filesystem_.files().release(handle, &release);
  }

  std::shared_ptr<Answer> write(uint64_t handle, std::string_view bytes,
                                const Requester* who = nullptr) {
    auto answer = std::make_shared<Answer>();
    FakeReply reply(answer);
    filesystem_.changes().write(who != nullptr ? *who : me(), handle, bytes, reply);
    EXPECT_EQ(answer->answers, 1);
    return answer;
  }

  std::shared_ptr<Answer> read(uint64_t handle, size_t size = 4096, bool nonblocking = false,
                               off_t offset = 0) {
    auto answer = std::make_shared<Answer>();
    filesystem_.events().read(me(), handle, size, offset, nonblocking,
                              std::make_unique<FakeReply>(answer));
    return answer;
  }

  std::string status(uint64_t id) {
    const uint64_t handle = open(id, FileKind::status);
    auto answer = read(handle, 1 << 20);
    close(handle);
    return answer->data.value_or("");
  }

  // The value of `key` in queue `id`'s status.
  std::string status_field(uint64_t id, const std::string& key) {
    const std::string text = status(id);
    const std::string prefix = key + ": ";
    for (size_t at = 0; at < text.size();) {
      const size_t end = text.find('\n', at);
      const std::string line = text.substr(at, end - at);
      if (line.starts_with(prefix)) return line.substr(prefix.size());
      at = end + 1;
    }
    return "(no " + key + ")";
  }

  // Runs the loop until `done` or `seconds` pass.
  bool run_until(const std::function<bool()>& done, int seconds = 5) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop_.run_once(50);
    }
    return true;
  }

  std::shared_ptr<QueueNode> queue(uint64_t id) const { return filesystem_.tree().find(id); }

  Options options_ = test_options();
  Log log_{Log::Level::info};
  Loop loop_{[](const char* what) { ADD_FAILURE() << "loop handler threw: " << what; }};
  Filesystem filesystem_{options_, log_, loop_};
};

}  // namespace kqfsd::testing
