// kqfsd's FUSE front end: the mounted tree over the engine, answered from
// one thread. Reads that find nothing keep their request and are answered
// from the loop when their queue fires; nothing blocks.
#pragma once

#include <fuse_lowlevel.h>
#include <time.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/credentials.hpp"
#include "daemon/log.hpp"
#include "daemon/loop.hpp"
#include "daemon/memory_reserve.hpp"
#include "daemon/options.hpp"
#include "daemon/processes.hpp"
#include "daemon/rate_limit.hpp"
#include "daemon/stream_io.hpp"
#include "daemon/tree.hpp"
#include "daemon/users.hpp"
#include "kqfs/codec/codec.hpp"
#include "kqfs/linux/signal_trace.hpp"

namespace kqfsd {

// One open file of the tree.
class OpenFile {
 public:
  OpenFile(std::shared_ptr<QueueNode> queue, FileKind kind)
      : queue(std::move(queue)), kind(kind), changes(format_of(kind)), events(format_of(kind)) {}

  std::shared_ptr<QueueNode> queue;
  const FileKind kind;
  kqfs::codec::ChangeStream changes;
  kqfs::codec::EventStream events;
  std::string status_text;          // a status file's snapshot, taken at open
  fuse_pollhandle* poll = nullptr;  // kept to say when it becomes readable
  pid_t owner = 0;                  // kq/clone handles: the process that opened it
  pid_t unfinished_by = 0;          // the process whose write left a line unfinished
  uid_t buffered_by = 0;            // whose count of buffered bytes holds `buffered`
  size_t buffered = 0;
  Credentials opener;  // changes files: writers must match (writer_may_apply)
  // The text events file is seekable (GNU head): where the reader's file
  // position is after the last reply, and that reply, so that a seek back
  // into it (bash `read -n`) gets those bytes again.
  off_t position = 0;
  std::string last_reply;
};

class Filesystem {
 public:
  Filesystem(const Options& options, const Log& log, Loop& loop);
  ~Filesystem();
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;

  // Mounts at options.mount_point; throws std::runtime_error with the reason.
  void mount();
  // Ends every parked read with end of file and unmounts.
  void unmount();
  bool exited() const;
  const Log& log() const { return log_; }
  // An allocation failed: the reserve goes, so the failure can be told.
  void memory_short() noexcept { memory_reserve_.release(); }

 private:
  friend struct Operations;

  // Requests.
  void lookup(fuse_req_t request, fuse_ino_t parent, const char* name);
  void getattr(fuse_req_t request, fuse_ino_t inode);
  void setattr(fuse_req_t request, fuse_ino_t inode, const struct stat& attributes, int to_set);
  void readdir(fuse_req_t request, fuse_ino_t inode, size_t size, off_t offset);
  void mkdir(fuse_req_t request, fuse_ino_t parent, const char* name, mode_t mode);
  void rmdir(fuse_req_t request, fuse_ino_t parent, const char* name);
  void open(fuse_req_t request, fuse_ino_t inode, fuse_file_info& info);
  void release(fuse_req_t request, fuse_file_info& info);
  void flush(fuse_req_t request, fuse_file_info& info);
  void read(fuse_req_t request, size_t size, off_t offset, fuse_file_info& info);
  void write(fuse_req_t request, const char* data, size_t size, fuse_file_info& info);
  void poll(fuse_req_t request, fuse_file_info& info, fuse_pollhandle* handle);

  // The loop's side.
  void on_fuse_readable();
  void on_queue_ready(QueueNode& queue);
  void on_process_exit(pid_t pid);
  void sweep_all();
  void log_lost_signals();
  const kqfs::Kqueue* queue_of(uint64_t inode) const;
  void answer_interrupted();

  // Helpers.
  std::optional<struct stat> attributes_of_inode(fuse_ino_t inode) const;
  kqfs::Result<std::shared_ptr<QueueNode>> create_queue(std::string name, const fuse_ctx& context,
                                                        mode_t mode, bool anonymous,
                                                        uint64_t id = 0);
  void refuse_queue(const std::string& name, uid_t uid, int error, const std::string& why);
  void reject(QueueNode& queue, const std::string& reason);
  // Counts what `file` keeps between writes against `writer`; false, with
  // the count unchanged, when growing would pass the per-user limit.
  bool account_buffered(OpenFile& file, uid_t writer);
  void remove_queue(QueueNode& queue);
  OpenFile* file_of(const fuse_file_info& info) const;
  OpenFile* usable_file(fuse_req_t request, const fuse_file_info& info, int& error) const;
  kqfs::Result<std::shared_ptr<ProcessResolver>> caller_of(fuse_req_t request);
  kqfs::codec::WriteOutcome apply_changes(QueueNode& queue, OpenFile& file, std::string_view bytes,
                                          bool finishing, fuse_req_t request);
  bool try_answer(QueueNode& queue, const Waiter& read, OpenFile& file);
  void rewind(OpenFile& file, off_t offset);
  void serve(QueueNode& queue);
  void notify_pollers(QueueNode& queue);
  std::string status_of(QueueNode& queue, bool with_knotes) const;

  const Options& options_;
  const Log& log_;
  Loop& loop_;
  SessionData session_data_;
  fuse_session* session_ = nullptr;
  bool mounted_ = false;
  uint64_t fuse_watch_ = 0;
  uint64_t sweep_watch_ = 0;
  kqfs::UniqueFd sweep_timer_;
  std::unique_ptr<char, void (*)(void*)> request_buffer_;
  size_t request_buffer_size_ = 0;
  timespec mounted_at_{};
  uid_t owner_uid_;
  gid_t owner_gid_;

  Users users_;
  MemoryReserve memory_reserve_;
  RateLimiter rejections_;     // per queue
  RateLimiter refusals_;       // per user
  RateLimiter signal_losses_;  // one source: the shared tracer
  uint64_t signals_lost_logged_ = 0;
  Tree tree_;
  std::unordered_map<uint64_t, std::unique_ptr<OpenFile>> open_files_;
  uint64_t next_file_handle_ = 1;
  std::unique_ptr<Processes> processes_;
  const kqfs::Caller no_caller_ = std::make_shared<NoCaller>();
  std::unordered_map<pid_t, uint64_t> process_watches_;
  std::set<uint64_t> queues_with_interrupts_;
  // One tracefs instance for every queue's signal knotes, made at the first.
  std::shared_ptr<kqfs::SignalTracer> signal_tracer_ =
      std::make_shared<kqfs::SignalTracer>(options_.signal_buffer_kb);
};

}  // namespace kqfsd
