#include "kqfs/filters/descriptor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "kqfs/linux/resolver.hpp"

namespace kqfs {
namespace {

constexpr uint32_t kReadInterest = EPOLLIN | EPOLLRDHUP;
constexpr uint32_t kWriteInterest = EPOLLOUT;
constexpr uint32_t kFileInterest = IN_MODIFY | IN_ATTRIB;

}  // namespace

Result<std::unique_ptr<DescriptorWatch>> DescriptorWatch::create(FilterHost& host,
                                                                 FileEvents& files, int ident,
                                                                 const Caller& caller) {
  auto borrowed = caller->borrow(ident);
  if (!borrowed) return Errno{borrowed.error()};
  const int fd = borrowed->get();
  struct stat st {};
  if (::fstat(fd, &st) < 0) return last_errno();
  // A queue may watch another queue, but not itself.
  if (same_open_file(fd, host.queue_fd()) || same_open_file(fd, host.queue_readiness_fd())) {
    return Errno{EINVAL};
  }
  const DescriptorKind kind = classify_descriptor(fd, st);
  auto watch = std::make_unique<DescriptorWatch>(Key{}, host, files, ident, caller, kind,
                                                 FileIdentity::of(fd, st));
  watch->queue_ = borrowed->is_queue();
  if (watch->queue_) watch->watched_queue_ = fd;
  return watch;
}

DescriptorWatch::DescriptorWatch(Key, FilterHost& host, FileEvents& files, int ident, Caller caller,
                                 DescriptorKind kind, const FileIdentity& file)
    : host_(host),
      files_(files),
      ident_(ident),
      caller_(std::move(caller)),
      kind_(kind),
      file_(file) {}

DescriptorWatch::~DescriptorWatch() {
  if (epoll_) host_.remove_source(epoll_.get());
}

bool DescriptorWatch::names_same_file(const Caller& caller) {
  const uint64_t epoch = host_.probe_epoch();
  if (named_by_ == caller.get() && named_in_epoch_ == epoch) return named_;
  if (epoll_) {
    named_ = caller->names_registered(ident_, epoll_.get(), registered_as_);
  } else {
    auto borrowed = caller->borrow(ident_);
    named_ = borrowed && FileIdentity::of(borrowed->get()) == file_;
  }
  named_by_ = caller.get();
  named_in_epoch_ = epoch;
  return named_;
}

int DescriptorWatch::attach(DescriptorKnote& kn) {
  if (queue_ && kn.filter != EVFILT_READ) return EINVAL;  // a kqueue only reads (BSD)
  (kn.filter == EVFILT_READ ? reader_ : writer_) = &kn;
  const int error = update_interest();
  if (error == 0 && kn.filter == EVFILT_WRITE && kind_ == DescriptorKind::pipe &&
      (state().revents & POLLERR)) {
    writer_ = nullptr;
    update_interest();
    return EPIPE;
  }
  if (error != 0) {
    (kn.filter == EVFILT_READ ? reader_ : writer_) = nullptr;
    update_interest();
  }
  return error;
}

void DescriptorWatch::detach(DescriptorKnote& kn) {
  (kn.filter == EVFILT_READ ? reader_ : writer_) = nullptr;
  if (!empty()) update_interest();
}

// Register what the current knotes need. The kernel's registration cannot
// be modified without a descriptor numbered as at registration, so a change
// of interest builds a new small epoll instance.
int DescriptorWatch::update_interest() {
  if (const int error = update_file_watch(); error != 0) return error;
  if (kind_ == DescriptorKind::file || kind_ == DescriptorKind::unpollable) return 0;

  const uint32_t wanted =
      (reader_ != nullptr ? kReadInterest : 0) | (writer_ != nullptr ? kWriteInterest : 0);
  if (wanted == interest_ || wanted == 0) return 0;
  if (epoll_ && !names_same_file(caller_)) return EBADF;
  auto borrowed = caller_->borrow(ident_);
  if (!borrowed) return borrowed.error();

  UniqueFd nested(::epoll_create1(EPOLL_CLOEXEC));
  if (!nested) return errno;
  epoll_event event{};
  event.events = wanted | EPOLLET;
  if (::epoll_ctl(nested.get(), EPOLL_CTL_ADD, borrowed->get(), &event) < 0) {
    if (errno == EPERM && !epoll_) {  // no poll support at all
      kind_ = DescriptorKind::unpollable;
      return 0;
    }
    return errno == ELOOP ? EINVAL : errno;
  }
  if (const int error = host_.add_source(nested.get(), EPOLLIN | EPOLLET, *this); error != 0) {
    return error;
  }
  if (epoll_) host_.remove_source(epoll_.get());
  epoll_ = std::move(nested);
  registered_as_ = borrowed->get();
  interest_ = wanted;
  probed_ = false;
  return 0;
}

// Files have no epoll: inotify tells when their size changes. Pipes wake
// epoll writers only when the pipe was full, so a write knote also hears
// of every read (IN_ACCESS), as FreeBSD posts it from pipe_read.
int DescriptorWatch::update_file_watch() {
  uint32_t wanted = 0;
  if (kind_ == DescriptorKind::file && reader_ != nullptr) wanted = kFileInterest;
  if (kind_ == DescriptorKind::pipe && writer_ != nullptr) wanted = IN_ACCESS;
  if (wanted != 0 && !file_watch_) {
    auto borrowed = caller_->borrow(ident_);
    if (!borrowed) return borrowed.error();
    // Without inotify (some pseudo files) the state is still read whenever
    // the knote is registered, enabled or collected.
    if (auto watch = files_.watch(borrowed->get(), wanted, *this)) file_watch_ = std::move(*watch);
  } else if (wanted == 0 && file_watch_) {
    file_watch_.reset();
  }
  return 0;
}

const DescriptorState& DescriptorWatch::state() {
  if (!probed_ || probed_in_epoch_ != host_.probe_epoch()) {
    state_ = probe();
    probed_ = true;
    probed_in_epoch_ = host_.probe_epoch();
  }
  return state_;
}

DescriptorState DescriptorWatch::probe() {
  DescriptorState s;
  if (epoll_ && !names_same_file(caller_)) return s;
  if (queue_gone_) {
    s.open = true;
    s.revents = POLLHUP;
    s.read_eof = true;
    return s;
  }
  auto borrowed = epoll_ ? caller_->borrow_registered(ident_, epoll_.get(), registered_as_)
                         : caller_->borrow(ident_);
  if (!borrowed) return s;
  const int fd = borrowed->get();
  if (!epoll_ && FileIdentity::of(fd) != file_) return s;
  s.open = true;
  read_descriptor_state(fd, kind_, writer_ != nullptr, cached_socket_error_, s);
  // A kqueue's data is its pending count (FreeBSD), at least 1 while the
  // queue has kernel news it has not looked at yet.
  if (borrowed->is_queue()) {
    s.readable = std::max<int64_t>(borrowed->queue_pending(), s.revents & POLLIN ? 1 : 0);
  }
  return s;
}

void DescriptorWatch::post_all() {
  // Both knotes may be destroyed only outside this call: posting only queues.
  if (reader_ != nullptr) host_.post(*reader_);
  if (writer_ != nullptr) host_.post(*writer_);
}

void DescriptorWatch::on_ready(uint32_t) {
  post_all();
}

void DescriptorWatch::on_file_event(const FileEvent&) {
  post_all();
}

void DescriptorWatch::queue_gone() {
  queue_gone_ = true;
  probed_ = false;
  post_all();
}

Result<DescriptorWatch*> DescriptorWatches::watch_for(int ident, const Caller& caller) {
  auto [first, last] = watches_.equal_range(ident);
  for (auto it = first; it != last; ++it) {
    DescriptorWatch& watch = *it->second;
    // A kept watch serves its own caller only: its knotes go with that process.
    const bool kept = watch.empty();
    if (kept && watch.caller().get() != caller.get()) continue;
    if (!watch.names_same_file(caller)) continue;
    if (kept) unkeep(watch);
    return &watch;
  }
  auto created = DescriptorWatch::create(host_, files_, ident, caller);
  if (!created) return Errno{created.error()};
  DescriptorWatch* watch = created->get();
  watches_.emplace(ident, std::move(created.value()));
  return watch;
}

void DescriptorWatches::release_if_empty(DescriptorWatch& watch, bool keep) {
  if (!watch.empty()) return;
  if (!keep || !watch.reusable()) {
    erase(watch);
    return;
  }
  watch.retire();
  kept_.push_back(&watch);
  if (kept_.size() > kKeptWatches) erase(*kept_.front());
}

bool DescriptorWatches::names_watched_file(int ident, const Caller& caller) {
  auto [first, last] = watches_.equal_range(ident);
  return std::any_of(first, last,
                     [&](const auto& entry) { return entry.second->names_same_file(caller); });
}

void DescriptorWatches::erase(DescriptorWatch& watch) {
  unkeep(watch);
  auto [first, last] = watches_.equal_range(watch.ident());
  for (auto it = first; it != last; ++it) {
    if (it->second.get() == &watch) {
      watches_.erase(it);
      return;
    }
  }
}

void DescriptorWatches::unkeep(DescriptorWatch& watch) {
  std::erase(kept_, &watch);
}

void DescriptorWatches::sweep_kept() {
  std::vector<DescriptorWatch*> gone;
  for (DescriptorWatch* watch : kept_) {
    if (!watch->names_same_file(watch->caller())) gone.push_back(watch);
  }
  for (DescriptorWatch* watch : gone)
    erase(*watch);
}

void DescriptorWatches::forget(const DescriptorResolver& caller) {
  std::vector<DescriptorWatch*> theirs;
  for (DescriptorWatch* watch : kept_) {
    if (watch->caller().get() == &caller) theirs.push_back(watch);
  }
  for (DescriptorWatch* watch : theirs)
    erase(*watch);
}

void DescriptorWatches::queue_removed(int readiness_fd) {
  for (const auto& [ident, watch] : watches_) {
    if (watch->watches_queue(readiness_fd)) watch->queue_gone();
  }
}

Result<std::unique_ptr<Knote>> DescriptorFilter::attach(const Kevent& change,
                                                        const Caller& caller) {
  auto watch = watches_.watch_for(static_cast<int>(change.ident), caller);
  if (!watch) return Errno{watch.error()};
  auto kn = std::make_unique<DescriptorKnote>(change, **watch);
  if (const int error = (*watch)->attach(*kn); error != 0) {
    watches_.release_if_empty(**watch, false);
    return Errno{error};
  }
  return std::unique_ptr<Knote>(std::move(kn));
}

void DescriptorFilter::detach(Knote& kn) {
  DescriptorWatch& watch = watch_of(kn);
  watch.detach(static_cast<DescriptorKnote&>(kn));
  watches_.release_if_empty(watch);
}

const Caller& DescriptorFilter::registrant(const Knote& kn) const {
  return static_cast<const DescriptorKnote&>(kn).watch.caller();
}

bool DescriptorFilter::names_same_file(Knote& kn, const Caller& caller) {
  return watch_of(kn).names_same_file(caller);
}

int DescriptorFilter::check(uint64_t ident, const Caller& caller) {
  if (ident <= static_cast<uint64_t>(std::numeric_limits<int>::max()) &&
      watches_.names_watched_file(static_cast<int>(ident), caller)) {
    return 0;
  }
  return check_caller_descriptor(ident, caller);
}

bool DirectionFilter::event(Knote& kn) {
  DescriptorWatch& watch = watch_of(kn);
  const DescriptorState& s = watch.state();
  kn.flags &= ~EV_EOF;
  kn.fflags = 0;
  if (!s.open) return false;
  const int64_t amount = s.*direction_.amount;
  kn.data = amount;  // files: bytes from the offset to the end, maybe negative
  if (std::optional<bool> fired = direction_.plain(kn, watch.kind(), s)) return *fired;
  return stream_event(kn, s, s.*direction_.eof, direction_.ready, amount);
}

bool DescriptorFilter::stream_event(Knote& kn, const DescriptorState& s, bool eof, short ready,
                                    int64_t amount) {
  if (eof) {
    kn.flags |= EV_EOF;
    kn.fflags = s.eof_error;
    return true;
  }
  if (s.pending_error) return true;
  if (!(s.revents & ready)) return false;
  if ((kn.sfflags & NOTE_LOWAT) && kn.sdata > 0) return amount >= kn.sdata;
  return true;
}

}  // namespace kqfs
