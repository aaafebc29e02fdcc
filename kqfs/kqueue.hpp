// The kqueue object: knotes keyed by (ident, filter), a FIFO ready list on
// which each knote appears at most once, and an epoll instance whose
// descriptor is readable whenever events may be pending.
//
// Not thread-safe: one thread drives a queue (the daemon's loop, or the
// program using it in process).
#pragma once

#include <array>
#include <boost/intrusive/list.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kqfs/filter.hpp"
#include "kqfs/filter_table.hpp"  // the filters' kernel-event sources
#include "kqfs/kevent.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs {

// Knotes counted across the queues that share it (the daemon gives each
// user one), with a ceiling.
class KnoteBudget {
 public:
  explicit KnoteBudget(size_t limit) : limit_(limit) {}
  bool try_take() {
    if (used_ >= limit_) return false;
    ++used_;
    return true;
  }
  void give_back(size_t count = 1) { used_ -= count; }
  size_t used() const { return used_; }
  size_t limit() const { return limit_; }

 private:
  size_t limit_;
  size_t used_ = 0;
};

class Kqueue final : private FilterHost {
 public:
  struct Limits {
    size_t max_knotes = std::numeric_limits<size_t>::max();
    std::shared_ptr<KnoteBudget> budget = nullptr;  // none: only max_knotes bounds the queue
  };
  // Kernel objects the queue may share with other queues (a daemon's);
  // what is not given, the queue makes for itself when it first needs it.
  struct Shared {
    std::shared_ptr<SignalTracer> signal_tracer;
  };

  // Throws std::system_error when the kernel refuses the queue's own
  // objects (epoll, eventfd).
  Kqueue();
  explicit Kqueue(Limits limits);
  Kqueue(Limits limits, Shared shared);
  ~Kqueue();
  Kqueue(const Kqueue&) = delete;
  Kqueue& operator=(const Kqueue&) = delete;

  // Readable whenever events may be pending: poll it, or nest it in another
  // epoll or kqueue. Like BSD's, it may be readable when a pending event
  // turns out stale on collection.
  int fd() const { return epoll_.get(); }

  // An eventfd readable exactly while the ready list is not empty: what a
  // queue watching this one registers (no deeper chain of nested epolls).
  int readiness_fd() const { return readiness_.get(); }

  // Applies one change: 0, or the errno that rejected it (nothing applied).
  // Descriptor idents name descriptors of `caller`; the first form uses this
  // process's own.
  int apply(const Kevent& change);
  // `why`, when given, receives the reason in words if the filter has one
  // beyond the errno (e.g. which kernel facility is missing).
  int apply(const Kevent& change, const Caller& caller, std::string* why = nullptr);

  // Moves up to out.size() events into `out` in activation order and
  // returns how many; never blocks.
  size_t collect(std::span<Kevent> out);

  // Takes in what the kernel objects reported, without collecting: for a
  // loop that is told the queue is readable but has nobody to give events.
  void drain_sources();

  // A knote that went with its owner rather than by a change: the
  // descriptor it watched was closed (or names another file now), or the
  // process it belonged to exited (forget()). BSD drops these silently; a
  // listener can say so.
  struct LostKnote {
    enum class Cause : uint8_t { closed, exited };
    uint64_t ident;
    int16_t filter;
    int pid;  // whose descriptor (or signals) it stood for
    Cause cause;
  };
  using LostListener = std::function<void(const LostKnote&)>;
  void on_knote_lost(LostListener listener) { lost_listener_ = std::move(listener); }

  // Drops descriptor knotes whose registrant no longer has the descriptor.
  void sweep();
  // Drops every descriptor knote registered through `caller` (for example,
  // because that process exited).
  void forget(const DescriptorResolver& caller);
  // Another queue, whose readiness fd a resolver handed out for nesting, is
  // being destroyed: knotes watching it report end of file.
  void queue_removed(int readiness_fd);

  // Whether a change for `filter` asks anything of its caller: one that
  // does not may be applied with a caller that has nothing to give.
  bool uses_caller(int16_t filter) const;
  // Whether its ident names something of the caller's own (a descriptor,
  // its signals): knotes that go when the caller does.
  bool tied_to_caller(int16_t filter) const;
  // Whether its ident is a descriptor of the caller's (read, write, vnode).
  bool takes_descriptor(int16_t filter) const;

  size_t knote_count() const { return knotes_.size(); }
  // A knote as a change would make it now (stored flags, EV_DISABLE when
  // disabled, the filter's saved fflags and data), and for a descriptor
  // filter the process whose descriptor it is (else 0).
  struct Registration {
    Kevent change;
    int pid;
  };
  // Up to `limit` of them, ordered by ident and filter; which ones, past
  // the limit, is unspecified.
  std::vector<Registration> registrations(size_t limit) const;
  size_t knote_count(int16_t filter) const;
  // Knotes on the ready list (some may turn out stale when collected).
  size_t pending() const { return ready_count_; }

 private:
  struct Key {
    uint64_t ident;
    int16_t filter;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& key) const {
      return std::hash<uint64_t>{}(key.ident * 31 + static_cast<uint16_t>(key.filter));
    }
  };
  using ReadyList = boost::intrusive::list<
      Knote, boost::intrusive::member_hook<Knote, boost::intrusive::list_member_hook<>,
                                           &Knote::ready_hook>>;

  static constexpr size_t kFilterSlots = static_cast<size_t>(-EVFILT_EMPTY);

  // FilterHost
  void post(Knote& kn) override;
  void deactivate(Knote& kn) override;
  void explain(std::string reason) override { reason_ = std::move(reason); }
  bool insert(std::unique_ptr<Knote> kn) override;
  int add_source(int fd, uint32_t epoll_events, Source& source) override;
  void remove_source(int fd) override;
  int queue_fd() const override { return epoll_.get(); }
  int queue_readiness_fd() const override { return readiness_.get(); }
  uint64_t probe_epoch() const override { return probe_epoch_; }

  Filter* filter_for(int16_t filter) const;
  // 0, or ENOSPC (with the reason explained) when no knote may be added.
  int room_for_knote();
  Knote& add(std::unique_ptr<Knote> kn);
  int apply_change(const Kevent& change, const Caller& caller);
  void enqueue(Knote& kn);
  void dequeue(Knote& kn);
  void drop(Knote& kn);
  // Drops a knote whose owner let go of it, and tells the listener.
  void lose(Knote& kn, LostKnote::Cause cause);
  void dispatch_sources();
  void update_readiness();

  Limits limits_;
  UniqueFd epoll_;
  UniqueFd readiness_;  // eventfd: readable while the ready list is not empty
  bool readiness_raised_ = false;
  uint64_t probe_epoch_ = 0;

  Caller own_descriptors_;
  std::unique_ptr<FileEvents> file_events_;
  std::unique_ptr<ProcConnector> proc_connector_;
  std::unique_ptr<DescriptorWatches> descriptor_watches_;
  std::array<std::unique_ptr<Filter>, kFilterSlots> filters_;
  std::array<size_t, kFilterSlots> counts_{};

  std::unordered_map<Key, std::unique_ptr<Knote>, KeyHash> knotes_;
  std::unordered_set<Knote*> caller_knotes_;  // of filters tied to their caller
  std::string reason_;                        // explain() during one apply()
  LostListener lost_listener_;
  ReadyList ready_;
  size_t ready_count_ = 0;
};

}  // namespace kqfs
