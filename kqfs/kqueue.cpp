#include "kqfs/kqueue.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "kqfs/filter_table.hpp"
#include "kqfs/filters/descriptor.hpp"
#include "kqfs/linux/file_events.hpp"
#include "kqfs/linux/proc_connector.hpp"

namespace kqfs {
namespace {

size_t slot_of(int16_t filter) {
  return static_cast<size_t>(-filter - 1);
}

bool in_range(int16_t filter) {
  return filter <= EVFILT_READ && filter >= EVFILT_EMPTY;
}

}  // namespace

Kqueue::Kqueue() : Kqueue(Limits{}) {}

Kqueue::Kqueue(Limits limits) : Kqueue(limits, Shared{}) {}

Kqueue::Kqueue(Limits limits, Shared shared)
    : limits_(limits), own_descriptors_(std::make_shared<InProcessResolver>()) {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) throw_errno("epoll_create1");
  readiness_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!readiness_) throw_errno("eventfd");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = nullptr;  // no source: only makes the queue readable
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, readiness_.get(), &event) < 0) {
    throw_errno("epoll_ctl");
  }

  FilterHost& host = *this;
  file_events_ = std::make_unique<FileEvents>(host);
  descriptor_watches_ = std::make_unique<DescriptorWatches>(host, *file_events_);
  proc_connector_ = std::make_unique<ProcConnector>(host);
  FilterObjects objects{host, *descriptor_watches_, *file_events_, *proc_connector_,
                        std::move(shared.signal_tracer)};
  for_each_available_filter(
      [&](const FilterRow& row) { filters_[slot_of(row.id)] = row.make(objects); });
}

Kqueue::~Kqueue() {
  // Knotes unbind from their filters' kernel objects while both still exist.
  ready_.clear();
  for (auto& [key, kn] : knotes_)
    filter_for(key.filter)->detach(*kn);
  if (limits_.budget) limits_.budget->give_back(knotes_.size());
  knotes_.clear();
}

Filter* Kqueue::filter_for(int16_t filter) const {
  return in_range(filter) ? filters_[slot_of(filter)].get() : nullptr;
}

int Kqueue::apply(const Kevent& change) {
  return apply(change, own_descriptors_);
}

int Kqueue::room_for_knote() {
  if (knotes_.size() >= limits_.max_knotes) {
    reason_ = "queue holds its limit of " + std::to_string(limits_.max_knotes) + " knotes";
    return ENOSPC;
  }
  if (limits_.budget && limits_.budget->used() >= limits_.budget->limit()) {
    reason_ = "owner holds its limit of " + std::to_string(limits_.budget->limit()) + " knotes";
    return ENOSPC;
  }
  return 0;
}

// Callers checked room_for_knote() first. `made` is attached: if memory
// runs out here, its filter and the ready list let go of it before it is
// freed, and the queue is as it was (a rehash that threw inside emplace
// would free a knote its filter still links).
Knote& Kqueue::add(std::unique_ptr<Knote> made) {
  Knote& kn = *made;
  Filter& filter = *filter_for(kn.filter);
  const Key key{kn.ident, kn.filter};
  try {
    // The slot first, empty: the table's allocations happen while `made`
    // still owns the knote.
    const auto slot = knotes_.try_emplace(key).first;
    try {
      if (filter.ownership() != nullptr) caller_knotes_.insert(&kn);
    } catch (...) {
      knotes_.erase(slot);
      throw;
    }
    slot->second = std::move(made);
  } catch (...) {
    dequeue(kn);  // a filter may have posted it while attaching
    filter.detach(kn);
    throw;
  }
  if (limits_.budget) limits_.budget->try_take();
  ++counts_[slot_of(kn.filter)];
  return kn;
}

bool Kqueue::insert(std::unique_ptr<Knote> kn) {
  if (room_for_knote() != 0 || knotes_.contains(Key{kn->ident, kn->filter})) return false;
  add(std::move(kn));
  return true;
}

// The order of checks and effects follows FreeBSD's kqueue_register.
int Kqueue::apply(const Kevent& request, const Caller& caller, std::string* why) {
  ++probe_epoch_;
  reason_.clear();
  if (caller) caller->take_refusal();  // a later look's, not this change's
  int error = 0;
  try {
    error = apply_change(request, caller);
    // A descriptor the caller's resolver would not lend says why itself.
    if (error != 0 && reason_.empty() && caller) reason_ = caller->take_refusal();
  } catch (const std::bad_alloc&) {
    error = ENOMEM;  // a change never takes the queue down with it
  }
  if (why != nullptr) *why = error != 0 ? std::move(reason_) : std::string();
  update_readiness();
  return error;
}

int Kqueue::apply_change(const Kevent& request, const Caller& caller) {
  Kevent change = request;
  change.flags &= static_cast<uint16_t>(~EV_SYSFLAGS);
  const uint16_t flags = change.flags;

  if ((flags & (EV_ENABLE | EV_DISABLE)) == (EV_ENABLE | EV_DISABLE)) return EINVAL;
  if (!in_range(change.filter)) return EINVAL;  // filter 0 included
  Filter* filter = filter_for(change.filter);
  if (filter == nullptr) return ENOTSUP;  // a FreeBSD filter Linux cannot give
  if ((flags & EV_ADD) && (flags & EV_KEEPUDATA)) return EINVAL;
  Ownership* const owner = filter->ownership();
  if (owner != nullptr && owner->takes_descriptor()) {
    if (const int error = owner->check(change.ident, caller); error != 0) return error;
  }

  const Key key{change.ident, change.filter};
  auto found = knotes_.find(key);
  Knote* kn = found == knotes_.end() ? nullptr : found->second.get();
  // A knote of another file (a descriptor closed and reused) or of another
  // process (a signal) is not the one this caller names.
  if (kn != nullptr && owner != nullptr && !owner->current(*kn, caller)) {
    if (owner->alive(*kn)) {
      drop(*kn);  // replaced: its owner still holds it
    } else {
      lose(*kn, LostKnote::Cause::closed);
    }
    kn = nullptr;
  }

  if (kn == nullptr) {
    if (!(flags & EV_ADD)) return ENOENT;
    if (const int error = room_for_knote(); error != 0) return error;
    auto made = filter->attach(change, caller);
    if (!made) return made.error();
    kn = &add(std::move(made.value()));
    kn->disabled = flags & EV_DISABLE;
  } else if (flags & EV_DELETE) {
    drop(*kn);
    return 0;
  } else {
    if (const int error = filter->touch(*kn, change); error != 0) return error;
    if (flags & EV_FORCEONESHOT) {
      kn->flags |= EV_ONESHOT;
      kn->active = true;
    }
    if (flags & EV_ENABLE) {
      kn->disabled = false;
    } else if (flags & EV_DISABLE) {
      kn->disabled = true;
      dequeue(*kn);  // stays active: enabling queues it again
    }
    if (!(flags & EV_KEEPUDATA)) kn->udata = change.udata;
  }

  // A change re-evaluates the condition: re-adding or enabling re-arms it.
  if (!kn->disabled && filter->event(*kn)) kn->active = true;
  if (kn->active && !kn->disabled && !kn->queued) enqueue(*kn);
  return 0;
}

size_t Kqueue::collect(std::span<Kevent> out) {
  ++probe_epoch_;
  dispatch_sources();
  size_t count = 0;
  // Knotes re-queued by this call go behind those it started with, so no
  // knote is reported twice in one collection.
  size_t budget = ready_count_;
  while (count < out.size() && budget > 0) {
    --budget;
    Knote& kn = ready_.front();
    dequeue(kn);
    Filter* filter = filter_for(kn.filter);
    Ownership* const owner = filter->ownership();
    // EV_DROP: gone without a word (a process that exited with nothing
    // asked for, as FreeBSD); not alive: its descriptor was closed.
    if (kn.flags & EV_DROP) {
      drop(kn);
      continue;
    }
    if (owner != nullptr && !owner->alive(kn)) {
      lose(kn, LostKnote::Cause::closed);
      continue;
    }
    if (kn.flags & EV_ONESHOT) {  // reported as it fired, then gone
      out[count++] = filter->deliver(kn);
      drop(kn);
      continue;
    }
    if (!filter->event(kn)) {  // stale: the condition no longer holds
      kn.active = false;
      continue;
    }
    out[count++] = filter->deliver(kn);
    if (kn.requeue && !(kn.flags & EV_DISPATCH)) {
      kn.requeue = false;
      enqueue(kn);  // the filter has more to report right away
    } else if (kn.flags & (EV_CLEAR | EV_DISPATCH)) {
      kn.active = false;
      if (kn.flags & EV_DISPATCH) kn.disabled = true;
    } else {
      enqueue(kn);  // level-triggered: reported again while it holds
    }
  }
  update_readiness();
  return count;
}

void Kqueue::drain_sources() {
  ++probe_epoch_;
  dispatch_sources();
  update_readiness();
}

void Kqueue::sweep() {
  ++probe_epoch_;
  std::vector<Knote*> stale;
  for (Knote* kn : caller_knotes_) {
    if (!filter_for(kn->filter)->ownership()->alive(*kn)) stale.push_back(kn);
  }
  for (Knote* kn : stale)
    lose(*kn, LostKnote::Cause::closed);
  descriptor_watches_->sweep_kept();
  update_readiness();
}

void Kqueue::forget(const DescriptorResolver& caller) {
  std::vector<Knote*> theirs;
  for (Knote* kn : caller_knotes_) {
    if (filter_for(kn->filter)->ownership()->registered_by(*kn, caller)) theirs.push_back(kn);
  }
  for (Knote* kn : theirs)
    lose(*kn, LostKnote::Cause::exited);
  descriptor_watches_->forget(caller);
  update_readiness();
}

std::vector<Kqueue::Registration> Kqueue::registrations(size_t limit) const {
  std::vector<Registration> out;
  out.reserve(std::min(limit, knotes_.size()));
  for (const auto& [key, kn] : knotes_) {
    if (out.size() == limit) break;
    const uint16_t flags = static_cast<uint16_t>(kn->flags | (kn->disabled ? EV_DISABLE : 0));
    const Ownership* owner = filter_for(kn->filter)->ownership();
    const int pid = owner != nullptr && owner->takes_descriptor() ? owner->owner_pid(*kn) : 0;
    out.push_back({Kevent{kn->ident, kn->filter, flags, kn->sfflags, kn->sdata, kn->udata}, pid});
  }
  std::sort(out.begin(), out.end(), [](const Registration& a, const Registration& b) {
    return a.change.ident != b.change.ident ? a.change.ident < b.change.ident
                                            : a.change.filter > b.change.filter;
  });
  return out;
}

void Kqueue::queue_removed(int readiness_fd) {
  descriptor_watches_->queue_removed(readiness_fd);
  update_readiness();
}

bool Kqueue::uses_caller(int16_t filter) const {
  Filter* found = filter_for(filter);
  return found != nullptr && (found->uses_caller() || found->ownership() != nullptr);
}

bool Kqueue::tied_to_caller(int16_t filter) const {
  Filter* found = filter_for(filter);
  return found != nullptr && found->ownership() != nullptr;
}

bool Kqueue::takes_descriptor(int16_t filter) const {
  Filter* found = filter_for(filter);
  return found != nullptr && found->ownership() != nullptr &&
         found->ownership()->takes_descriptor();
}

size_t Kqueue::knote_count(int16_t filter) const {
  return in_range(filter) ? counts_[slot_of(filter)] : 0;
}

void Kqueue::post(Knote& kn) {
  if (kn.disabled || !filter_for(kn.filter)->event(kn)) return;
  kn.active = true;
  if (!kn.queued) enqueue(kn);
}

void Kqueue::deactivate(Knote& kn) {
  kn.active = false;
  dequeue(kn);
}

int Kqueue::add_source(int fd, uint32_t epoll_events, Source& source) {
  epoll_event event{};
  event.events = epoll_events;
  event.data.ptr = &source;
  return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) < 0 ? errno : 0;
}

void Kqueue::remove_source(int fd) {
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void Kqueue::enqueue(Knote& kn) {
  ready_.push_back(kn);
  kn.queued = true;
  ++ready_count_;
}

void Kqueue::dequeue(Knote& kn) {
  if (!kn.queued) return;
  ready_.erase(ready_.iterator_to(kn));
  kn.queued = false;
  --ready_count_;
}

void Kqueue::drop(Knote& kn) {
  dequeue(kn);
  const Key key{kn.ident, kn.filter};
  filter_for(kn.filter)->detach(kn);
  --counts_[slot_of(key.filter)];
  caller_knotes_.erase(&kn);
  knotes_.erase(key);
  if (limits_.budget) limits_.budget->give_back();
}

void Kqueue::lose(Knote& kn, LostKnote::Cause cause) {
  if (lost_listener_) {
    const int pid = filter_for(kn.filter)->ownership()->owner_pid(kn);
    lost_listener_(LostKnote{kn.ident, kn.filter, pid, cause});
  }
  drop(kn);
}

// Sources only post knotes here; none is destroyed while a batch is handled.
void Kqueue::dispatch_sources() {
  constexpr int kBatch = 64;
  epoll_event events[kBatch];
  for (;;) {
    const int ready = ::epoll_wait(epoll_.get(), events, kBatch, 0);
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.ptr != nullptr) {
        static_cast<Source*>(events[i].data.ptr)->on_ready(events[i].events);
      }
    }
    if (ready < kBatch) return;
  }
}

void Kqueue::update_readiness() {
  const bool pending = ready_count_ > 0;
  if (pending == readiness_raised_) return;
  uint64_t value = 1;
  if (pending) {
    [[maybe_unused]] ssize_t written = ::write(readiness_.get(), &value, sizeof value);
  } else {
    [[maybe_unused]] ssize_t taken = ::read(readiness_.get(), &value, sizeof value);
  }
  readiness_raised_ = pending;
}

}  // namespace kqfs
