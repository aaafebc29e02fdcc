// What EVFILT_READ and EVFILT_WRITE share: one registration per watched
// open file, and the knowledge of how to read that file's state.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "kqfs/filter.hpp"
#include "kqfs/linux/descriptor_probe.hpp"
#include "kqfs/linux/file_events.hpp"
#include "kqfs/ownership.hpp"

struct tcp_info;

namespace kqfs {

class DescriptorWatch;

struct DescriptorKnote final : Knote {
  DescriptorKnote(const Kevent& change, DescriptorWatch& w) : Knote(change), watch(w) {}
  DescriptorWatch& watch;
};

// The registration of one open file of one caller. It keeps no reference to
// the file: the caller's epoll registration (in a small epoll instance of its
// own, nested in the queue's) is dropped by the kernel with the file, and
// kcmp(KCMP_EPOLL_TFD) tells whether the caller's descriptor still names it.
class DescriptorWatch final : public Source, public FileEvents::Subscriber {
  struct Key {};  // construction goes through create()

 public:
  static Result<std::unique_ptr<DescriptorWatch>> create(FilterHost& host, FileEvents& files,
                                                         int ident, const Caller& caller);
  DescriptorWatch(Key, FilterHost& host, FileEvents& files, int ident, Caller caller,
                  DescriptorKind kind, const FileIdentity& file);
  ~DescriptorWatch();
  DescriptorWatch(const DescriptorWatch&) = delete;
  DescriptorWatch& operator=(const DescriptorWatch&) = delete;

  int ident() const { return ident_; }
  const Caller& caller() const { return caller_; }
  DescriptorKind kind() const { return kind_; }
  bool empty() const { return reader_ == nullptr && writer_ == nullptr; }

  // The descriptor's state, read at most once per queue pass.
  const DescriptorState& state();
  // Whether `caller`'s descriptor `ident` names this watch's file now:
  // asked of the kernel once per queue pass and caller.
  bool names_same_file(const Caller& caller);
  // Whether the watch may be kept without knotes for a later EV_ADD of the
  // same file (an EV_ONESHOT re-armed): it holds the file by epoll only.
  bool reusable() const { return static_cast<bool>(epoll_) && !queue_; }
  // A kept watch: its file watch (inotify) goes until a knote needs it.
  void retire() { file_watch_.reset(); }

  // Bind a read or write knote (by its filter). EPIPE for a write knote on
  // a pipe with no reader left, as FreeBSD; other errors from the kernel.
  int attach(DescriptorKnote& kn);
  void detach(DescriptorKnote& kn);

  void on_ready(uint32_t epoll_events) override;
  void on_file_event(const FileEvent& event) override;

  // For a watch of a kqueue: whether it watches the queue whose readiness
  // fd this is, and that queue's removal (its knotes then report EOF).
  bool watches_queue(int readiness_fd) const { return queue_ && watched_queue_ == readiness_fd; }
  void queue_gone();

 private:
  int update_interest();
  int update_file_watch();
  void post_all();
  DescriptorState probe();

  FilterHost& host_;
  FileEvents& files_;
  const int ident_;
  const Caller caller_;
  DescriptorKind kind_;
  const FileIdentity file_;  // for files, which epoll cannot hold

  bool queue_ = false;       // the caller's descriptor is a kqueue
  bool queue_gone_ = false;  // ... which was removed (rmdir) while still open
  int watched_queue_ = -1;   // its readiness fd
  DescriptorKnote* reader_ = nullptr;
  DescriptorKnote* writer_ = nullptr;

  UniqueFd epoll_;          // holds the caller's file, weakly
  int registered_as_ = -1;  // the number the file was registered under
  uint32_t interest_ = 0;
  FileWatch file_watch_;  // inotify watch: files' changes, pipes' reads

  // The last names_same_file(): for whom, in which pass, and its answer.
  const DescriptorResolver* named_by_ = nullptr;
  uint64_t named_in_epoch_ = 0;
  bool named_ = false;

  DescriptorState state_;
  uint64_t probed_in_epoch_ = 0;
  bool probed_ = false;
  uint32_t cached_socket_error_ = 0;  // reading SO_ERROR clears it: read once
};

// Every descriptor watch of one queue, so that read and write knotes on the
// same open file share one. A watch whose last knote went (an EV_ONESHOT
// delivered, an EV_DELETE) is kept, a few at most, so that adding a knote
// on the same file again reuses its registration instead of duplicating
// the caller's descriptor and building a new epoll instance. A kept watch
// stays in the queue's epoll: news on its file wakes the queue once for
// nothing, which costs less than taking it out and back at each re-arm.
class DescriptorWatches {
 public:
  // Watches kept without knotes, per queue: each holds an epoll descriptor.
  static constexpr size_t kKeptWatches = 16;

  DescriptorWatches(FilterHost& host, FileEvents& files) : host_(host), files_(files) {}

  Result<DescriptorWatch*> watch_for(int ident, const Caller& caller);
  // Keeps a watch left without knotes (unless !keep, or it cannot be).
  void release_if_empty(DescriptorWatch& watch, bool keep = true);
  // Whether `caller`'s descriptor `ident` names a watched file (so it is
  // open and was vetted when the watch was made).
  bool names_watched_file(int ident, const Caller& caller);
  // A kqueue handed out for nesting is being destroyed (Kqueue::queue_removed).
  void queue_removed(int readiness_fd);
  // Drops the kept watches whose caller no longer names their file, or
  // (forget) of the caller that is gone.
  void sweep_kept();
  void forget(const DescriptorResolver& caller);

 private:
  void erase(DescriptorWatch& watch);
  void unkeep(DescriptorWatch& watch);

  FilterHost& host_;
  FileEvents& files_;
  std::unordered_multimap<int, std::unique_ptr<DescriptorWatch>> watches_;
  std::vector<DescriptorWatch*> kept_;  // oldest first
};

// The filterops both descriptor filters share; each adds its own event().
class DescriptorFilter : public Filter, public DescriptorOwnership {
 public:
  explicit DescriptorFilter(DescriptorWatches& watches) : watches_(watches) {}

  Ownership* ownership() override { return this; }
  // A descriptor that names a watched file is open: no second look.
  int check(uint64_t ident, const Caller& caller) override;
  Result<std::unique_ptr<Knote>> attach(const Kevent& change, const Caller& caller) override;
  void detach(Knote& kn) override;

 protected:
  static DescriptorWatch& watch_of(Knote& kn) { return static_cast<DescriptorKnote&>(kn).watch; }
  const Caller& registrant(const Knote& kn) const override;
  bool names_same_file(Knote& kn, const Caller& caller) override;

  // The part of event() both directions share, for streams (not files):
  // end of file first (with the socket error in fflags), then a pending
  // error, then readiness (`ready` from poll) and the low-water mark
  // (NOTE_LOWAT, the mark in data) against `amount`.
  static bool stream_event(Knote& kn, const DescriptorState& s, bool eof, short ready,
                           int64_t amount);

 private:
  DescriptorWatches& watches_;
};

// EVFILT_READ and EVFILT_WRITE are one rule over the two directions of a
// descriptor; each filter's file (read.cpp, write.cpp) gives its direction.
struct Direction {
  int64_t DescriptorState::*amount;  // data: readable or writable
  bool DescriptorState::*eof;
  short ready;  // the poll bit
  // What the direction reports for a descriptor that is no stream (a file,
  // an unpollable one, a listener); nothing for a stream.
  std::optional<bool> (*plain)(Knote& kn, DescriptorKind kind, const DescriptorState& s);
};

class DirectionFilter final : public DescriptorFilter {
 public:
  DirectionFilter(DescriptorWatches& watches, const Direction& direction)
      : DescriptorFilter(watches), direction_(direction) {}

  bool event(Knote& kn) override;

 private:
  const Direction direction_;
};

}  // namespace kqfs
