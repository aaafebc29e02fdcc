#include "kqfs/linux/signal_trace.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>

namespace kqfs {
namespace {

constexpr const char* kTracingRoots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
constexpr const char* kEvent = "/events/signal/signal_generate/";
constexpr int kResultIgnored = 1;  // TRACE_SIGNAL_IGNORED
// No signal is numbered 0 (kill(pid, 0) generates nothing): matches nothing.
constexpr const char* kNothing = "sig == 0";
// The kernel takes a filter shorter than a page.
constexpr size_t kLongestFilter = 4000;

bool readable(const std::string& path) {
  return ::access(path.c_str(), R_OK) == 0;
}

// Where tracefs is mounted, if it is.
std::string mounted_tracing_root() {
  for (const char* root : kTracingRoots) {
    if (readable(std::string(root) + "/instances")) return root;
  }
  return {};
}

// Where tracefs is, mounting it (root only) when it is nowhere.
std::string tracing_root() {
  std::string root = mounted_tracing_root();
  if (root.empty()) {
    ::mount("nodev", kTracingRoots[0], "tracefs", 0, nullptr);
    root = mounted_tracing_root();
  }
  return root;
}

// Instances left by kqfs processes that are gone (a crash) are removed.
void remove_stale_instances_in(const std::string& instances) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(instances, error)) {
    const std::string name = entry.path().filename().string();
    int owner = 0;
    if (std::sscanf(name.c_str(), "kqfs-%d-", &owner) == 1 && owner > 0 && ::kill(owner, 0) != 0 &&
        errno == ESRCH) {
      ::rmdir(entry.path().c_str());
    }
  }
}

std::string either_of(const char* field, const std::set<int>& values) {
  std::string terms;
  for (const int value : values) {
    if (!terms.empty()) terms += " || ";
    terms += std::string(field) + " == " + std::to_string(value);
  }
  return terms;
}

}  // namespace

// ------------------------------------------------------------ the tracer

SignalTracer::~SignalTracer() {
  if (instance_.empty()) return;
  pipe_.reset();  // an instance with an open trace_pipe is busy
  ::rmdir(instance_.c_str());
}

void SignalTracer::remove_stale_instances() {
  const std::string root = mounted_tracing_root();
  if (!root.empty()) remove_stale_instances_in(root + "/instances");
}

std::string SignalTracer::instance() const {
  const std::lock_guard lock(mutex_);
  return instance_;
}

uint64_t SignalTracer::lost() const {
  const std::lock_guard lock(mutex_);
  return lost_;
}

std::string SignalTracer::probe() {
  const std::string root = tracing_root();
  if (root.empty())
    return "no signal tracing: tracefs is not mounted and cannot be (it needs root)";
  // An instance made and removed at once: its event is looked for, never
  // enabled.
  const std::string instance = root + "/instances/kqfs-" + std::to_string(::getpid()) + "-probe";
  if (::mkdir(instance.c_str(), 0700) != 0) {
    return std::string("no signal tracing: cannot make a tracefs instance: ") +
           std::strerror(errno) + " (the daemon needs root)";
  }
  const bool has_event = readable(instance + kEvent + "enable");
  ::rmdir(instance.c_str());
  if (!has_event) return "no signal tracing: the tracepoint signal:signal_generate is not there";
  return {};
}

bool SignalTracer::write_setting(const std::string& file, const std::string& value) const {
  UniqueFd setting(::open((instance_ + "/" + file).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  return setting &&
         ::write(setting.get(), value.data(), value.size()) == static_cast<ssize_t>(value.size());
}

bool SignalTracer::open(std::string& why_not) {
  if (!instance_.empty()) return true;
  const std::string root = tracing_root();
  if (root.empty()) {
    why_not = "no signal tracing: tracefs is not mounted and cannot be (it needs root)";
    return false;
  }
  remove_stale_instances_in(root + "/instances");
  char name[64];
  std::snprintf(name, sizeof name, "/instances/kqfs-%d-%p", ::getpid(), static_cast<void*>(this));
  const std::string instance = root + name;
  if (::mkdir(instance.c_str(), 0700) != 0) {
    why_not = std::string("no signal tracing: cannot make a tracefs instance: ") +
              std::strerror(errno) + " (the daemon needs root)";
    return false;
  }
  instance_ = instance;
  // Readers wake at the first event, not when the buffer is half full.
  write_setting("buffer_percent", "0");
  if (!write_setting("buffer_size_kb", std::to_string(buffer_kilobytes_))) {
    why_not = "no signal tracing: the kernel refused a buffer of " +
              std::to_string(buffer_kilobytes_) + " KiB per CPU: " + std::strerror(errno);
    ::rmdir(instance_.c_str());
    instance_.clear();
    return false;
  }
  pipe_.reset(::open((instance_ + "/trace_pipe").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  // Enabled once, for the instance's life: enabling waits for the kernel
  // (milliseconds), a filter does not.
  if (!pipe_ || !write_setting(std::string(kEvent) + "filter", kNothing) ||
      !write_setting(std::string(kEvent) + "enable", "1")) {
    why_not = "no signal tracing: the tracepoint signal:signal_generate is not there";
    pipe_.reset();
    ::rmdir(instance_.c_str());
    instance_.clear();
    return false;
  }
  filter_ = kNothing;
  return true;
}

// The subscribers' threads (and those born since the oldest bound) and
// signals. Past what the kernel takes, signals alone: routing by thread is
// done here anyway.
void SignalTracer::update_filter() {
  if (instance_.empty()) return;
  std::set<int> threads;
  std::set<int> signals;
  pid_t newer_than = std::numeric_limits<pid_t>::max();
  for (const Subscription* subscriber : subscribers_) {
    if (subscriber->signals_ == 0) continue;
    threads.insert(subscriber->threads_.begin(), subscriber->threads_.end());
    newer_than = std::min(newer_than, subscriber->newer_than_);
    for (int signal = 1; signal <= 64; ++signal) {
      if (subscriber->signals_ >> (signal - 1) & 1) signals.insert(signal);
    }
  }
  std::string wanted = kNothing;
  std::string by_signal;
  if (!signals.empty()) {
    by_signal = either_of("sig", signals);
    std::string by_thread = "pid > " + std::to_string(newer_than);
    if (!threads.empty()) by_thread += " || " + either_of("pid", threads);
    wanted = "(" + by_thread + ") && (" + by_signal + ")";
  }
  if (wanted == filter_) return;
  const std::string path = std::string(kEvent) + "filter";
  if ((wanted.size() < kLongestFilter && write_setting(path, wanted)) ||
      (!by_signal.empty() && write_setting(path, wanted = by_signal))) {
    filter_ = wanted;
  } else {
    write_setting(path, "0");  // no filter: every signal comes, routing chooses
    filter_ = "0";
  }
}

void SignalTracer::drain() {
  const std::lock_guard lock(mutex_);
  if (!pipe_) return;
  char buffer[8192];
  for (;;) {
    const ssize_t length = ::read(pipe_.get(), buffer, sizeof buffer);
    if (length <= 0) return;
    partial_.append(buffer, static_cast<size_t>(length));
    size_t start = 0;
    for (size_t end; (end = partial_.find('\n', start)) != std::string::npos; start = end + 1) {
      handle_line(partial_.substr(start, end - start));
    }
    partial_.erase(0, start);
  }
}

// "... signal_generate: sig=10 errno=0 code=0 comm=a b pid=7 grp=1 res=0":
// the command name may hold spaces, so the last fields are found from the
// end. After an overflow: "CPU:1 [LOST 120 EVENTS]".
void SignalTracer::handle_line(const std::string& line) {
  if (const size_t lost = line.find("[LOST "); lost != std::string::npos) {
    const unsigned long long count = std::strtoull(line.c_str() + lost + 6, nullptr, 10);
    lost_ += count > 0 ? count : 1;
    return;
  }
  const size_t event = line.find("signal_generate: ");
  const size_t target = line.rfind(" pid=");
  if (event == std::string::npos || target == std::string::npos || target < event) return;
  GeneratedSignal generated{};
  int error = 0;
  int group = 0;
  int result = 0;
  if (std::sscanf(line.c_str() + event, "signal_generate: sig=%d errno=%d code=%d",
                  &generated.signal, &error, &generated.code) != 3 ||
      std::sscanf(line.c_str() + target, " pid=%d grp=%d res=%d", &generated.target, &group,
                  &result) != 3) {
    return;
  }
  generated.ignored = result == kResultIgnored;
  route(generated);
}

void SignalTracer::route(const GeneratedSignal& signal) {
  for (Subscription* subscriber : subscribers_) {
    if (!subscriber->wants(signal)) continue;
    subscriber->inbox_.push_back(signal);
    if (!subscriber->rung_) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t written = ::write(subscriber->doorbell_.get(), &one, sizeof one);
      subscriber->rung_ = true;
    }
  }
}

Result<std::unique_ptr<SignalTracer::Subscription>> SignalTracer::subscribe(
    const std::shared_ptr<SignalTracer>& tracer, FilterHost& host, Handler handler,
    std::string& why_not) {
  auto subscription = std::make_unique<Subscription>(Passkey{}, tracer, host, std::move(handler));
  subscription->doorbell_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!subscription->doorbell_) return last_errno();
  int pipe = -1;
  {
    const std::lock_guard lock(tracer->mutex_);
    if (!tracer->open(why_not)) return Errno{ENOTSUP};
    pipe = tracer->pipe_.get();
  }
  // epoll_ctl may refuse: out of memory, or of the user's epoll watches.
  if (const int error = host.add_source(subscription->doorbell_.get(), EPOLLIN, *subscription);
      error != 0) {
    why_not = std::string("no signal tracing: ") + std::strerror(error);
    return Errno{error};
  }
  subscription->doorbell_registered_ = true;
  if (const int error = host.add_source(pipe, EPOLLIN, subscription->pipe_watch_); error != 0) {
    why_not = std::string("no signal tracing: ") + std::strerror(error);
    return Errno{error};
  }
  subscription->pipe_registered_ = true;
  const std::lock_guard lock(tracer->mutex_);
  tracer->subscribers_.push_back(subscription.get());
  return subscription;
}

// ------------------------------------------------------- a subscription

SignalTracer::Subscription::~Subscription() {
  if (pipe_registered_) host_.remove_source(tracer_->pipe_.get());
  if (doorbell_registered_) host_.remove_source(doorbell_.get());
  const std::lock_guard lock(tracer_->mutex_);
  auto& subscribers = tracer_->subscribers_;
  const auto found = std::find(subscribers.begin(), subscribers.end(), this);
  if (found == subscribers.end()) return;
  subscribers.erase(found);
  tracer_->update_filter();
}

void SignalTracer::Subscription::set_targets(const std::set<pid_t>& threads, pid_t newer_than,
                                             uint64_t signals) {
  const std::lock_guard lock(tracer_->mutex_);
  threads_ = threads;
  newer_than_ = newer_than;
  signals_ = signals;
  tracer_->update_filter();
}

bool SignalTracer::Subscription::wants(const GeneratedSignal& signal) const {
  return signal.signal >= 1 && signal.signal <= 64 && (signals_ >> (signal.signal - 1) & 1) &&
         (signal.target > newer_than_ || threads_.contains(signal.target));
}

void SignalTracer::Subscription::PipeWatch::on_ready(uint32_t) {
  owner_.tracer_->drain();
  owner_.deliver();  // the doorbell may have rung for this queue too
}

void SignalTracer::Subscription::deliver() {
  std::vector<GeneratedSignal> signals;
  {
    const std::lock_guard lock(tracer_->mutex_);
    signals.swap(inbox_);
    if (rung_) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t taken = ::read(doorbell_.get(), &count, sizeof count);
      rung_ = false;
    }
  }
  for (const GeneratedSignal& signal : signals)
    handler_(signal);
}

}  // namespace kqfs
