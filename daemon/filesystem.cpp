#include "daemon/filesystem.hpp"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "daemon/mount_status_text.hpp"

namespace kqfsd {
namespace {

constexpr int kSweepSeconds = 1;  // how soon knotes of closed descriptors go

}  // namespace

Filesystem::Filesystem(const Options& options, const Log& log, Loop& loop)
    : options_(options),
      log_(log),
      loop_(loop),
      users_(Users::Limits{options.max_queues_per_user, options.max_knotes_per_user,
                           options.max_buffered_per_user}),
      registry_(options, log, loop, tree_, users_, memory_,
                [this](QueueNode& queue) { events_.on_queue_ready(queue); }),
      files_(log, tree_, users_, registry_, changes_, events_),
      changes_(log, users_, memory_, registry_, files_, events_),
      events_(tree_, files_, loop),
      calls_(files_, changes_, events_),
      ties_(files_, registry_, changes_),
      tree_operations_(tree_, registry_) {
  files_.show_mount_status([this] { return mount_status(); });
}

Filesystem::~Filesystem() {
  stop();
}

void Filesystem::start(uint64_t own_mount_id) {
  tree_operations_.mounted_now();
  ::clock_gettime(CLOCK_MONOTONIC, &started_);
  features_ = probe_kernel_features();
  for (const KernelFeature& feature : features_) {
    if (!feature.available()) log_.info(feature.why_not);
  }
  registry_.start(own_mount_id);
  upkeep_timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  itimerspec every{{kSweepSeconds, 0}, {kSweepSeconds, 0}};
  ::timerfd_settime(upkeep_timer_.get(), 0, &every, nullptr);
  upkeep_watch_ = loop_.watch(upkeep_timer_.get(), EPOLLIN, [this](uint32_t) {
    uint64_t ticks;
    [[maybe_unused]] ssize_t ignored = ::read(upkeep_timer_.get(), &ticks, sizeof ticks);
    upkeep();
  });
}

void Filesystem::stop() {
  // Blocked readers get end of file rather than a dead connection.
  registry_.remove_all();
  if (upkeep_watch_ != 0) loop_.unwatch(upkeep_watch_);
  upkeep_watch_ = 0;
  upkeep_timer_.reset();
}

void Filesystem::upkeep() {
  registry_.sweep_all();
  changes_.flush_log();
  registry_.flush_log();
}

std::string Filesystem::mount_status() const {
  MountFacts facts;
  facts.pid = ::getpid();
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  facts.uptime_seconds = static_cast<uint64_t>(now.tv_sec - started_.tv_sec);
  facts.totals.queues = tree_.size();
  for (const auto& [name, queue] : tree_.by_name()) {
    facts.totals.knotes += queue->engine->knote_count();
    facts.totals.readers += queue->waiters.size();
  }
  facts.totals.open_handles = files_.size();
  return mount_status_text(options_, facts, features_);
}

}  // namespace kqfsd
