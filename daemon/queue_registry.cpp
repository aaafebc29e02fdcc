#include "daemon/queue_registry.hpp"

#include <malloc.h>
#include <sys/epoll.h>
#include <time.h>

#include <cstring>
#include <new>
#include <system_error>

#include "daemon/open_files.hpp"
#include "kqfs/codec/codec.hpp"

namespace kqfsd {
namespace {

// Lines a user's refused queues may put in the log per window; the rest
// are counted in one line.
constexpr unsigned kLoggedPerWindow = 5;
constexpr auto kLogWindow = std::chrono::seconds(10);

// Removing a queue with this many knotes gives the freed memory back.
constexpr size_t kTrimAfterKnotes = 10'000;

}  // namespace

std::string short_of(int error) {
  switch (error) {
    case EMFILE:
    case ENFILE:
      return "daemon out of descriptors";
    case ENOMEM:
      return "daemon out of memory";
    default:
      return kqfs::codec::describe_errno(error);
  }
}

QueueRegistry::QueueRegistry(const Options& options, const Log& log, Loop& loop, Tree& tree,
                             Users& users, MemoryReserve& memory, OnReady on_ready)
    : options_(options),
      log_(log),
      loop_(loop),
      tree_(tree),
      users_(users),
      memory_(memory),
      on_ready_(std::move(on_ready)),
      refusals_(kLoggedPerWindow, kLogWindow),
      signal_losses_(1, kLogWindow),
      knote_losses_(kLoggedPerWindow, kLogWindow),
      signal_tracer_(std::make_shared<kqfs::SignalTracer>(options.signal_buffer_kb)) {}

QueueRegistry::~QueueRegistry() {
  for (const auto& [pid, watch] : process_watches_)
    loop_.unwatch(watch);
}

void QueueRegistry::start(uint64_t own_mount_id) {
  processes_ = std::make_unique<ClientProcesses>(
      own_mount_id, [this](uint64_t inode) { return queue_of(inode); });
}

void QueueRegistry::remove_all() {
  while (!tree_.by_name().empty())
    remove(*tree_.by_name().begin()->second);
}

// Makes the queue whole before it enters the tree: a queue the daemon has
// no descriptors or memory for is an errno for this request only.
kqfs::Result<std::shared_ptr<QueueNode>> QueueRegistry::create(std::string name,
                                                               const Requester& requester,
                                                               mode_t mode, bool anonymous,
                                                               uint64_t id) {
  std::string why;
  if (tree_.size() >= options_.max_queues) {
    why = "the mount holds its limit of " + std::to_string(options_.max_queues) + " queues";
    refuse(name, requester.uid, ENOSPC, why);
    return kqfs::Errno{ENOSPC};
  }
  if (const int error = users_.take_queue(requester.uid, why); error != 0) {
    refuse(name, requester.uid, error, why);
    return kqfs::Errno{error};
  }
  auto queue = std::make_shared<QueueNode>();
  queue->name = std::move(name);
  queue->uid = requester.uid;
  queue->gid = requester.gid;
  queue->charged_uid = requester.uid;
  queue->mode = mode & 07777;
  queue->anonymous = anonymous;
  ::clock_gettime(CLOCK_REALTIME, &queue->created);
  int error = 0;
  try {
    queue->engine = std::make_unique<kqfs::Kqueue>(
        kqfs::Kqueue::Limits{options_.max_knotes, users_.knotes_of(requester.uid)},
        kqfs::Kqueue::Shared{signal_tracer_});
    // Edge-triggered: the queue stays readable while events wait for a
    // reader, and the loop must not spin on it meanwhile.
    QueueNode* node = queue.get();
    queue->engine->on_knote_lost(
        [this, node](const kqfs::Kqueue::LostKnote& lost) { knote_lost(*node, lost); });
    auto watch = loop_.try_watch(queue->engine->fd(), EPOLLIN | EPOLLET,
                                 [this, node](uint32_t) { on_ready_(*node); });
    if (watch) {
      queue->loop_watch = *watch;
      tree_.add(queue, id);
    } else {
      error = watch.error();
    }
  } catch (const std::system_error& failure) {
    error = failure.code().value();
  } catch (const std::bad_alloc&) {
    memory_.release();  // the refusal is logged next
    error = ENOMEM;
  }
  if (error != 0) {
    if (queue->loop_watch != 0) loop_.unwatch(queue->loop_watch);
    users_.give_back_queue(requester.uid);
    refuse(queue->name, requester.uid, error, short_of(error));
    return kqfs::Errno{error};
  }
  log_.debug("queue " + queue->name + " created");
  return queue;
}

void QueueRegistry::refuse(const std::string& name, uid_t uid, int error, const std::string& why) {
  if (!refusals_.allow("uid " + std::to_string(uid))) return;
  log_.warning("queue " + name + " for uid " + std::to_string(uid) +
               " refused: " + strerrorname_np(error) + " (" + why + ")");
}

void QueueRegistry::remove(QueueNode& queue) {
  const auto keep = tree_.find(queue.id);  // `queue` may be the tree's last reference
  untie(queue);
  for (const ParkedRequest& parked : queue.waiters)
    parked.answer_removed();
  queue.waiters.clear();
  loop_.unwatch(queue.loop_watch);
  // Queues watching this one (nesting) see it end, as its pollers do.
  const int readiness = queue.engine->readiness_fd();
  for (const auto& [name, other] : tree_.by_name()) {
    if (other.get() != &queue && !other->removed()) other->engine->queue_removed(readiness);
  }
  const size_t knotes = queue.engine->knote_count();
  queue.engine.reset();
  users_.give_back_queue(queue.charged_uid);
  // Freed knotes stay in the heap unless given back; a small queue's are
  // not worth the walk over the heap.
  if (knotes >= kTrimAfterKnotes) ::malloc_trim(0);
  wake_pollers(queue);
  tree_.erase(queue);
  log_.debug("queue " + queue.name + " removed");
}

int QueueRegistry::tie(QueueNode& queue, pid_t pid, kqfs::UniqueFd pidfd) {
  QueueNode* node = &queue;  // the watch goes before the queue does (remove)
  auto watch =
      loop_.try_watch(pidfd.get(), EPOLLIN, [this, node](uint32_t) { on_tied_exit(*node); });
  if (!watch) return watch.error();
  untie(queue);
  queue.tie = Tie{pid, std::move(pidfd), *watch};
  log_.debug("queue " + queue.name + " tied to process " + std::to_string(pid));
  return 0;
}

void QueueRegistry::untie(QueueNode& queue) {
  if (!queue.tie) return;
  loop_.unwatch(queue.tie->loop_watch);
  queue.tie.reset();
}

void QueueRegistry::on_tied_exit(QueueNode& queue) {
  log_.debug("queue " + queue.name + ": process " + std::to_string(queue.tie->pid) +
             ", which it was tied to, exited");
  remove(queue);
}

const kqfs::Kqueue* QueueRegistry::queue_of(uint64_t inode) const {
  const auto decoded = decode_inode(inode);
  if (!decoded || !(decoded->second == FileKind::clone || is_events(decoded->second))) {
    return nullptr;
  }
  const auto queue = tree_.find(decoded->first);
  return queue != nullptr && !queue->removed() ? queue->engine.get() : nullptr;
}

void QueueRegistry::sweep_all() {
  // Taken again once memory allows (it went at an allocation that failed).
  memory_.refill();
  for (const auto& [name, queue] : tree_.by_name()) {
    if (!queue->removed()) queue->engine->sweep();
  }
  log_lost_signals();
}

void QueueRegistry::flush_log() {
  refusals_.flush([this](const std::string& user, uint64_t held_back) {
    log_.warning(user + ": suppressed " + std::to_string(held_back) + " more refused queues");
  });
  knote_losses_.flush([this](const std::string& queue, uint64_t held_back) {
    log_.warning("queue " + queue + ": suppressed " + std::to_string(held_back) +
                 " more dropped knotes");
  });
}

void QueueRegistry::knote_lost(QueueNode& queue, const kqfs::Kqueue::LostKnote& lost) {
  queue.lost_knotes.record(lost);
  // Told while the engine collects: short of memory, the log goes without.
  try {
    if (knote_losses_.allow(queue.name)) {
      const LostKnotes& losses = queue.lost_knotes;
      log_.warning("queue " + queue.name +
                   ": knote dropped: " + describe(losses.recent(losses.recent_count() - 1)));
    }
  } catch (const std::bad_alloc&) {
    memory_.release();
  }
}

// Signals the shared trace buffer lost (it filled before the daemon read
// it): one line per window at most, with the count since the last line.
void QueueRegistry::log_lost_signals() {
  const uint64_t lost = signal_tracer_->lost();
  signal_losses_.flush([](const std::string&, uint64_t) {});  // the next line has the count
  if (lost == signals_lost_logged_ || !signal_losses_.allow("signals")) return;
  log_.warning("signal tracing lost " + std::to_string(lost - signals_lost_logged_) + " signals (" +
               std::to_string(lost) + " since start): the trace buffer of " +
               std::to_string(options_.signal_buffer_kb) +
               " KiB per CPU filled before kqfsd read it (--signal-buffer-kb)");
  signals_lost_logged_ = lost;
}

void QueueRegistry::on_process_exit(pid_t pid) {
  if (const auto watch = process_watches_.find(pid); watch != process_watches_.end()) {
    loop_.unwatch(watch->second);
    process_watches_.erase(watch);
  }
  if (const auto process = processes_->find(pid)) {
    for (const auto& [name, queue] : tree_.by_name()) {
      if (!queue->removed()) queue->engine->forget(*process);
    }
  }
  processes_->erase(pid);
}

kqfs::Result<std::shared_ptr<ProcessResolver>> QueueRegistry::caller_of(
    const Requester& requester) {
  bool created = false;
  auto caller = processes_->of_thread(requester.pid, created);
  if (caller) {
    (*caller)->serve_as(credentials_of_request(requester.pid, requester.uid, requester.gid));
  }
  if (caller && created) {
    if (const int error = watch_exit(**caller); error != 0) return kqfs::Errno{error};
  }
  return caller;
}

int QueueRegistry::watch_exit(const ProcessResolver& process) {
  const pid_t pid = process.pid();
  auto watch =
      loop_.try_watch(process.pidfd(), EPOLLIN, [this, pid](uint32_t) { on_process_exit(pid); });
  if (!watch) {
    processes_->erase(pid);
    return watch.error();
  }
  process_watches_[pid] = *watch;
  return 0;
}

kqfs::Result<kqfs::Caller> QueueRegistry::descriptor_owner(
    pid_t pid, const std::shared_ptr<ProcessResolver>& writer, const Credentials& credentials,
    std::string& why) {
  // EVFILT_PROC's rule: a process the writer cannot see does not exist.
  if (const int error = kqfs::check_sees_process(*writer, static_cast<uint64_t>(pid), why);
      error != 0) {
    if (why.empty()) why = "no process " + std::to_string(pid) + " that the writer can see";
    return kqfs::Errno{error};
  }
  if (pid == writer->pid()) return kqfs::Caller(writer);
  bool created = false;
  auto owner = processes_->of_process(pid, created);
  if (!owner) {
    why = processes_->failure();
    return kqfs::Errno{owner.error()};
  }
  // What /proc said is this process's if it has not exited since: its id
  // cannot have been reused before that.
  int error = may_take_descriptors(credentials, pid, why);
  if (error == 0 && (*owner)->exited()) {
    why = "process " + std::to_string(pid) + " exited";
    error = ESRCH;
  }
  if (error == 0 && created) error = watch_exit(**owner);
  if (error != 0) {
    if (created) processes_->erase(pid);
    return kqfs::Errno{error};
  }
  (*owner)->serve_as(credentials);
  return kqfs::Caller(owner.value());
}

std::string QueueRegistry::caller_failure(int error) const {
  return processes_->failure().empty() ? short_of(error) : processes_->failure();
}

}  // namespace kqfsd
