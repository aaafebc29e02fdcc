#include "daemon/filesystem.hpp"

#include <fcntl.h>
#include <linux/fuse.h>
#include <malloc.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <stdexcept>
#include <system_error>

#include "daemon/mount_check.hpp"
#include "daemon/writer_exit.hpp"
#include "kqfs/filter_table.hpp"

namespace kqfsd {
namespace {

constexpr double kNoCaching = 0.0;  // queues come and go: the kernel asks each time
constexpr int kSweepSeconds = 1;    // how soon knotes of closed descriptors go
// Lines a queue's rejections (a user's refused queues) may put in the log
// per window; the rest are counted in one line.
constexpr unsigned kLoggedPerWindow = 5;
constexpr auto kLogWindow = std::chrono::seconds(10);

// Removing a queue with this many knotes gives the freed memory back.
constexpr size_t kTrimAfterKnotes = 10'000;

Filesystem& owner_of(fuse_req_t request) {
  return *static_cast<Filesystem*>(static_cast<SessionData*>(fuse_req_userdata(request))->owner);
}

std::string detail(const char* text) {
  return text;
}
std::string detail(uint64_t number) {
  return std::to_string(number);
}

// -d: one line per request, with who asked.
template <class... Parts>
void trace(const Filesystem& filesystem, fuse_req_t request, const char* operation,
           const Parts&... parts) {
  if (!filesystem.log().debug_enabled()) return;
  std::string line = operation;
  ((line += ' ', line += detail(parts)), ...);
  line += " (pid " + std::to_string(fuse_req_ctx(request)->pid) + ")";
  filesystem.log().debug(line);
}

// The one exception boundary: whatever handling a request throws becomes
// an errno for that request alone (ENOMEM when memory ran out) and a log
// line; nothing unwinds through libfuse's C frames.
template <class Body>
void guarded(fuse_req_t request, const char* operation, Body&& body) noexcept {
  const auto& session = *static_cast<SessionData*>(fuse_req_userdata(request));
  const uint64_t unique = session.request_read;
  Filesystem& filesystem = owner_of(request);
  int error = EIO;
  const char* what = "unknown exception";
  try {
    body(filesystem);
    return;
  } catch (const std::bad_alloc&) {
    filesystem.memory_short();  // before the log line below needs memory
    error = ENOMEM;
    what = "out of memory";
  } catch (const std::system_error& failure) {
    error = failure.code().category() == std::generic_category() ? failure.code().value() : EIO;
    what = failure.what();
  } catch (const std::exception& failure) {
    what = failure.what();
  } catch (...) {
  }
  try {
    filesystem.log().error(std::string(operation) + " failed: " + what);
  } catch (...) {
  }
  // A reply already sent freed the request.
  if (session.request_read == unique && !session.request_answered) {
    fuse_reply_err(request, error);
  }
}

void reply_entry(fuse_req_t request, const struct stat& attributes) {
  fuse_entry_param entry{};
  entry.ino = attributes.st_ino;
  entry.attr = attributes;
  entry.attr_timeout = kNoCaching;
  entry.entry_timeout = kNoCaching;
  fuse_reply_entry(request, &entry);
}

// In words, when the daemon itself is short of something.
std::string short_of(int error) {
  switch (error) {
    case EMFILE:
    case ENFILE:
      return "daemon out of descriptors";
    case ENOMEM:
      return "daemon out of memory";
    default:
      return strerrordesc_np(error);
  }
}

std::string mode_text(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", mode & 07777);
  return text;
}

// Whether the request comes from a thread of `process` (FUSE names the
// thread; its main thread's id is the process's, which saves a look).
// 0, EBADF when it does not, or the errno that kept the daemon from
// telling (EMFILE when it is out of descriptors).
int sent_by_error(fuse_req_t request, pid_t process) {
  const pid_t thread = fuse_req_ctx(request)->pid;
  if (thread == process) return 0;
  std::string ignored;
  auto group = thread_group_of(thread, ignored);
  if (!group) return group.error() == ESRCH ? EBADF : group.error();
  return group.value() == process ? 0 : EBADF;
}

bool sent_by(fuse_req_t request, pid_t process) {
  return sent_by_error(request, process) == 0;
}

}  // namespace

// The operations table handed to libfuse: each forwards to the Filesystem.
struct Operations {
  static void lookup(fuse_req_t r, fuse_ino_t parent, const char* name) {
    guarded(r, "lookup", [&](Filesystem& fs) {
      trace(fs, r, "lookup", parent, name);
      fs.lookup(r, parent, name);
    });
  }
  static void getattr(fuse_req_t r, fuse_ino_t inode, fuse_file_info*) {
    guarded(r, "getattr", [&](Filesystem& fs) {
      trace(fs, r, "getattr", inode);
      fs.getattr(r, inode);
    });
  }
  static void setattr(fuse_req_t r, fuse_ino_t inode, struct stat* attributes, int to_set,
                      fuse_file_info*) {
    guarded(r, "setattr", [&](Filesystem& fs) {
      trace(fs, r, "setattr", inode);
      fs.setattr(r, inode, *attributes, to_set);
    });
  }
  static void readdir(fuse_req_t r, fuse_ino_t inode, size_t size, off_t offset, fuse_file_info*) {
    guarded(r, "readdir", [&](Filesystem& fs) {
      trace(fs, r, "readdir", inode);
      fs.readdir(r, inode, size, offset);
    });
  }
  static void mkdir(fuse_req_t r, fuse_ino_t parent, const char* name, mode_t mode) {
    guarded(r, "mkdir", [&](Filesystem& fs) {
      trace(fs, r, "mkdir", name);
      fs.mkdir(r, parent, name, mode);
    });
  }
  static void rmdir(fuse_req_t r, fuse_ino_t parent, const char* name) {
    guarded(r, "rmdir", [&](Filesystem& fs) {
      trace(fs, r, "rmdir", name);
      fs.rmdir(r, parent, name);
    });
  }
  static void open(fuse_req_t r, fuse_ino_t inode, fuse_file_info* info) {
    guarded(r, "open", [&](Filesystem& fs) {
      trace(fs, r, "open", inode);
      fs.open(r, inode, *info);
    });
  }
  static void release(fuse_req_t r, fuse_ino_t, fuse_file_info* info) {
    guarded(r, "release", [&](Filesystem& fs) {
      trace(fs, r, "release", info->fh);
      fs.release(r, *info);
    });
  }
  static void flush(fuse_req_t r, fuse_ino_t, fuse_file_info* info) {
    guarded(r, "flush", [&](Filesystem& fs) {
      trace(fs, r, "flush", info->fh);
      fs.flush(r, *info);
    });
  }
  static void read(fuse_req_t r, fuse_ino_t, size_t size, off_t offset, fuse_file_info* info) {
    guarded(r, "read", [&](Filesystem& fs) {
      trace(fs, r, "read", info->fh, size);
      fs.read(r, size, std::max<off_t>(offset, 0), *info);
    });
  }
  static void write(fuse_req_t r, fuse_ino_t, const char* data, size_t size, off_t,
                    fuse_file_info* info) {
    guarded(r, "write", [&](Filesystem& fs) {
      trace(fs, r, "write", info->fh, size);
      fs.write(r, data, size, *info);
    });
  }
  static void poll(fuse_req_t r, fuse_ino_t, fuse_file_info* info, fuse_pollhandle* handle) {
    guarded(r, "poll", [&](Filesystem& fs) {
      trace(fs, r, "poll", info->fh);
      fs.poll(r, *info, handle);
    });
  }
  // Runs inside libfuse's handling of an INTERRUPT: only mark the waiter,
  // as replying here could free the request under libfuse's lock.
  static void interrupted(fuse_req_t r, void* data) noexcept {
    auto* waiter = static_cast<Waiter*>(data);
    waiter->interrupted = true;
    try {
      owner_of(r).queues_with_interrupts_.insert(waiter->queue_id);
    } catch (const std::bad_alloc&) {
      // Answered when its queue is next served.
    }
  }
  // Plain files, links and renames have no place in the tree.
  static void refuse_create(fuse_req_t r, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
    fuse_reply_err(r, EPERM);
  }
  static void refuse_mknod(fuse_req_t r, fuse_ino_t, const char*, mode_t, dev_t) {
    fuse_reply_err(r, EPERM);
  }
  static void refuse_unlink(fuse_req_t r, fuse_ino_t, const char*) { fuse_reply_err(r, EPERM); }
  static void refuse_symlink(fuse_req_t r, const char*, fuse_ino_t, const char*) {
    fuse_reply_err(r, EPERM);
  }
  static void refuse_link(fuse_req_t r, fuse_ino_t, fuse_ino_t, const char*) {
    fuse_reply_err(r, EPERM);
  }
  static void refuse_rename(fuse_req_t r, fuse_ino_t, const char*, fuse_ino_t, const char*,
                            unsigned int) {
    fuse_reply_err(r, EPERM);
  }

  static fuse_lowlevel_ops table() {
    fuse_lowlevel_ops ops{};
    ops.lookup = lookup;
    ops.getattr = getattr;
    ops.setattr = setattr;
    ops.readdir = readdir;
    ops.mkdir = mkdir;
    ops.rmdir = rmdir;
    ops.open = open;
    ops.release = release;
    ops.flush = flush;
    ops.read = read;
    ops.write = write;
    ops.poll = poll;
    ops.create = refuse_create;
    ops.mknod = refuse_mknod;
    ops.unlink = refuse_unlink;
    ops.symlink = refuse_symlink;
    ops.link = refuse_link;
    ops.rename = refuse_rename;
    return ops;
  }
};

Filesystem::Filesystem(const Options& options, const Log& log, Loop& loop)
    : options_(options),
      log_(log),
      loop_(loop),
      request_buffer_(nullptr, std::free),
      owner_uid_(::getuid()),
      owner_gid_(::getgid()),
      users_(UserLimits{options.max_queues_per_user, options.max_knotes_per_user,
                        options.max_buffered_per_user}),
      rejections_(kLoggedPerWindow, kLogWindow),
      refusals_(kLoggedPerWindow, kLogWindow),
      signal_losses_(1, kLogWindow) {
  session_data_.owner = this;
}

Filesystem::~Filesystem() {
  if (mounted_) unmount();
  if (session_ != nullptr) fuse_session_destroy(session_);
}

void Filesystem::mount() {
  std::vector<std::string> arguments = {
      "kqfsd", "-o", "default_permissions,subtype=kqfs,fsname=" + mount_source_name()};
  for (const std::string& option : options_.fuse_options) {
    arguments.push_back("-o");
    arguments.push_back(option);
  }
  std::vector<char*> argv;
  for (std::string& argument : arguments)
    argv.push_back(argument.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  const fuse_lowlevel_ops operations = Operations::table();
  prepare_mount_point(options_.mount_point, options_.nonempty, log_);
  session_ = fuse_session_new(&args, &operations, sizeof operations, &session_data_);
  fuse_opt_free_args(&args);
  if (session_ == nullptr) throw std::runtime_error("bad FUSE options");
  if (fuse_session_mount(session_, options_.mount_point.c_str()) != 0) {
    throw std::runtime_error("cannot mount at " + options_.mount_point);
  }
  mounted_ = true;
  if (const int error = install_stream_io(session_); error != 0) {
    throw std::runtime_error(std::string("cannot hook FUSE I/O: ") + std::strerror(-error));
  }
  const int fd = fuse_session_fd(session_);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  ::clock_gettime(CLOCK_REALTIME, &mounted_at_);

  // Our own files are recognised by their mount: kqfs must never poll itself.
  struct statx mount_info {};
  if (::statx(AT_FDCWD, options_.mount_point.c_str(), AT_NO_AUTOMOUNT, STATX_MNT_ID, &mount_info) !=
          0 ||
      !(mount_info.stx_mask & STATX_MNT_ID)) {
    throw std::runtime_error("cannot read the mount's id");
  }
  processes_ = std::make_unique<Processes>(mount_info.stx_mnt_id,
                                           [this](uint64_t inode) { return queue_of(inode); });

  fuse_watch_ = loop_.watch(fd, EPOLLIN, [this](uint32_t) { on_fuse_readable(); });
  sweep_timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  itimerspec every{{kSweepSeconds, 0}, {kSweepSeconds, 0}};
  ::timerfd_settime(sweep_timer_.get(), 0, &every, nullptr);
  sweep_watch_ = loop_.watch(sweep_timer_.get(), EPOLLIN, [this](uint32_t) {
    uint64_t ticks;
    [[maybe_unused]] ssize_t ignored = ::read(sweep_timer_.get(), &ticks, sizeof ticks);
    sweep_all();
  });
  log_.info("mounted at " + options_.mount_point);
}

void Filesystem::unmount() {
  if (!mounted_) return;
  // Blocked readers get end of file rather than a dead connection.
  while (!tree_.by_name().empty())
    remove_queue(*tree_.by_name().begin()->second);
  loop_.unwatch(fuse_watch_);
  loop_.unwatch(sweep_watch_);
  fuse_session_unmount(session_);
  mounted_ = false;
  log_.info("unmounted " + options_.mount_point);
}

bool Filesystem::exited() const {
  return session_ != nullptr && fuse_session_exited(session_);
}

void Filesystem::on_fuse_readable() {
  for (;;) {
    fuse_buf buffer{};
    buffer.mem = request_buffer_.get();
    buffer.size = request_buffer_size_;
    const int received = fuse_session_receive_buf(session_, &buffer);
    // libfuse allocates the buffer on first use; keep it for the next ones.
    if (buffer.mem != request_buffer_.get()) {
      request_buffer_.release();
      request_buffer_.reset(static_cast<char*>(buffer.mem));
      request_buffer_size_ = buffer.size;
    }
    if (received == -EINTR) continue;
    if (received <= 0) break;  // -EAGAIN: drained; 0: the session ended
    fuse_session_process_buf(session_, &buffer);
    answer_interrupted();
  }
}

// ---------------------------------------------------------------- the tree

std::optional<struct stat> Filesystem::attributes_of_inode(fuse_ino_t inode) const {
  switch (inode) {
    case kRootInode:
      return attributes_of_root(owner_uid_, owner_gid_, mounted_at_);
    case kQueuesInode:
      return attributes_of_queues(owner_uid_, owner_gid_, mounted_at_);
    case kCloneInode:
      return attributes_of_clone(kCloneInode, owner_uid_, owner_gid_, mounted_at_);
    default:
      break;
  }
  const auto decoded = decode_inode(inode);
  if (!decoded) return std::nullopt;
  if (decoded->second == FileKind::clone) {
    return attributes_of_clone(inode, owner_uid_, owner_gid_, mounted_at_);
  }
  const auto queue = tree_.find(decoded->first);
  if (queue == nullptr) return std::nullopt;
  return attributes_of(*queue, decoded->second);
}

void Filesystem::lookup(fuse_req_t request, fuse_ino_t parent, const char* name) {
  const std::string_view wanted(name);
  std::optional<struct stat> found;
  if (parent == kRootInode && wanted == "kq") {
    found = attributes_of_inode(kQueuesInode);
  } else if (parent == kQueuesInode && wanted == "clone") {
    found = attributes_of_inode(file_inode(tree_.reserve_id(), FileKind::clone));
  } else if (parent == kQueuesInode) {
    if (const auto queue = tree_.find(wanted)) found = attributes_of(*queue, FileKind::directory);
  } else if (const auto decoded = decode_inode(parent);
             decoded && decoded->second == FileKind::directory) {
    const auto queue = tree_.find(decoded->first);
    for (const FileSpec& file : queue_files()) {
      if (queue != nullptr && file.name == wanted) found = attributes_of(*queue, file.kind);
    }
  }
  if (!found) {
    fuse_reply_err(request, ENOENT);
    return;
  }
  reply_entry(request, *found);
}

void Filesystem::getattr(fuse_req_t request, fuse_ino_t inode) {
  const auto attributes = attributes_of_inode(inode);
  if (!attributes) {
    fuse_reply_err(request, ENOENT);
    return;
  }
  fuse_reply_attr(request, &*attributes, kNoCaching);
}

void Filesystem::setattr(fuse_req_t request, fuse_ino_t inode, const struct stat& attributes,
                         int to_set) {
  const auto decoded = decode_inode(inode);
  const auto queue = decoded ? tree_.find(decoded->first) : nullptr;
  if (to_set & FUSE_SET_ATTR_SIZE) {
    // "> changes" truncates: a stream has nothing to cut, so size 0 is fine.
    const bool writable = decoded && (decoded->second == FileKind::clone ||
                                      (queue != nullptr && is_changes(decoded->second)));
    if (!writable || attributes.st_size != 0) {
      fuse_reply_err(request, EINVAL);
      return;
    }
  }
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    if (queue == nullptr || decoded->second != FileKind::directory ||
        fuse_req_ctx(request)->uid != 0) {
      fuse_reply_err(request, EPERM);
      return;
    }
    if (to_set & FUSE_SET_ATTR_UID) queue->uid = attributes.st_uid;
    if (to_set & FUSE_SET_ATTR_GID) queue->gid = attributes.st_gid;
  }
  if (to_set & FUSE_SET_ATTR_MODE) {
    // The kernel checked ownership (default_permissions); the directory's
    // mode decides its files' modes.
    if (queue == nullptr || decoded->second != FileKind::directory) {
      fuse_reply_err(request, EPERM);
      return;
    }
    queue->mode = attributes.st_mode & 07777;
  }
  const auto current = attributes_of_inode(inode);
  if (!current) {
    fuse_reply_err(request, ENOENT);
    return;
  }
  fuse_reply_attr(request, &*current, kNoCaching);
}

void Filesystem::readdir(fuse_req_t request, fuse_ino_t inode, size_t size, off_t offset) {
  struct Entry {
    std::string name;
    fuse_ino_t inode;
    mode_t type;
  };
  std::vector<Entry> entries = {{".", inode, S_IFDIR}};
  if (inode == kRootInode) {
    entries.push_back({"..", kRootInode, S_IFDIR});
    entries.push_back({"kq", kQueuesInode, S_IFDIR});
  } else if (inode == kQueuesInode) {
    entries.push_back({"..", kRootInode, S_IFDIR});
    entries.push_back({"clone", kCloneInode, S_IFREG});
    for (const auto& [name, queue] : tree_.by_name()) {
      entries.push_back({name, directory_inode(queue->id), S_IFDIR});
    }
  } else if (const auto decoded = decode_inode(inode);
             decoded && decoded->second == FileKind::directory && tree_.find(decoded->first)) {
    entries.push_back({"..", kQueuesInode, S_IFDIR});
    for (const FileSpec& file : queue_files()) {
      entries.push_back({std::string(file.name), file_inode(decoded->first, file.kind), S_IFREG});
    }
  } else {
    fuse_reply_err(request, ENOTDIR);
    return;
  }

  std::string reply(size, '\0');
  size_t used = 0;
  for (size_t i = static_cast<size_t>(offset); i < entries.size(); ++i) {
    struct stat st {};
    st.st_ino = entries[i].inode;
    st.st_mode = entries[i].type;
    const size_t length =
        fuse_add_direntry(request, reply.data() + used, size - used, entries[i].name.c_str(), &st,
                          static_cast<off_t>(i + 1));
    if (length > size - used) break;
    used += length;
  }
  fuse_reply_buf(request, reply.data(), used);
}

// Makes the queue whole before it enters the tree: a queue the daemon has
// no descriptors or memory for is an errno for this request only.
kqfs::Result<std::shared_ptr<QueueNode>> Filesystem::create_queue(std::string name,
                                                                  const fuse_ctx& context,
                                                                  mode_t mode, bool anonymous,
                                                                  uint64_t id) {
  std::string why;
  if (tree_.size() >= options_.max_queues) {
    why = "the mount holds its limit of " + std::to_string(options_.max_queues) + " queues";
    refuse_queue(name, context.uid, ENOSPC, why);
    return kqfs::Errno{ENOSPC};
  }
  if (const int error = users_.take_queue(context.uid, why); error != 0) {
    refuse_queue(name, context.uid, error, why);
    return kqfs::Errno{error};
  }
  auto queue = std::make_shared<QueueNode>();
  queue->name = std::move(name);
  queue->uid = context.uid;
  queue->gid = context.gid;
  queue->charged_uid = context.uid;
  queue->mode = mode & 07777;
  queue->anonymous = anonymous;
  ::clock_gettime(CLOCK_REALTIME, &queue->created);
  int error = 0;
  try {
    queue->engine = std::make_unique<kqfs::Kqueue>(
        kqfs::Kqueue::Limits{options_.max_knotes, users_.knotes_of(context.uid)},
        kqfs::Kqueue::Shared{signal_tracer_});
    // Edge-triggered: the queue stays readable while events wait for a
    // reader, and the loop must not spin on it meanwhile.
    QueueNode* node = queue.get();
    auto watch = loop_.try_watch(queue->engine->fd(), EPOLLIN | EPOLLET,
                                 [this, node](uint32_t) { on_queue_ready(*node); });
    if (watch) {
      queue->loop_watch = *watch;
      tree_.add(queue, id);
    } else {
      error = watch.error();
    }
  } catch (const std::system_error& failure) {
    error = failure.code().value();
  } catch (const std::bad_alloc&) {
    memory_reserve_.release();  // the refusal is logged next
    error = ENOMEM;
  }
  if (error != 0) {
    if (queue->loop_watch != 0) loop_.unwatch(queue->loop_watch);
    users_.give_back_queue(context.uid);
    refuse_queue(queue->name, context.uid, error, short_of(error));
    return kqfs::Errno{error};
  }
  log_.debug("queue " + queue->name + " created");
  return queue;
}

void Filesystem::refuse_queue(const std::string& name, uid_t uid, int error,
                              const std::string& why) {
  if (!refusals_.allow("uid " + std::to_string(uid))) return;
  log_.info("queue " + name + " for uid " + std::to_string(uid) +
            " refused: " + strerrorname_np(error) + " (" + why + ")");
}

void Filesystem::mkdir(fuse_req_t request, fuse_ino_t parent, const char* name, mode_t mode) {
  if (parent != kQueuesInode) {
    fuse_reply_err(request, EPERM);
    return;
  }
  const std::string_view wanted(name);
  if (wanted == "clone" || tree_.find(wanted) != nullptr) {
    fuse_reply_err(request, EEXIST);
    return;
  }
  if (!valid_queue_name(wanted)) {
    fuse_reply_err(request, EINVAL);
    return;
  }
  auto queue = create_queue(std::string(wanted), *fuse_req_ctx(request), mode, false);
  if (!queue) {
    fuse_reply_err(request, queue.error());
    return;
  }
  reply_entry(request, attributes_of(**queue, FileKind::directory));
}

void Filesystem::rmdir(fuse_req_t request, fuse_ino_t parent, const char* name) {
  const auto queue = parent == kQueuesInode ? tree_.find(std::string_view(name)) : nullptr;
  if (queue == nullptr) {
    fuse_reply_err(request, parent == kQueuesInode ? ENOENT : EPERM);
    return;
  }
  remove_queue(*queue);
  fuse_reply_err(request, 0);
}

// Destroys the queue at once; open handles keep only its husk, on which
// reads see end of file and writes ENOENT.
void Filesystem::remove_queue(QueueNode& queue) {
  const auto keep = tree_.find(queue.id);  // `queue` may be the tree's last reference
  for (Waiter& waiter : queue.waiters)
    fuse_reply_buf(waiter.request, nullptr, 0);
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
  notify_pollers(queue);
  tree_.erase(queue);
  log_.debug("queue " + queue.name + " removed");
}

// --------------------------------------------------------------- open files

void Filesystem::open(fuse_req_t request, fuse_ino_t inode, fuse_file_info& info) {
  std::shared_ptr<QueueNode> queue;
  FileKind kind;
  const auto decoded = decode_inode(inode);
  if (inode == kCloneInode || (decoded && decoded->second == FileKind::clone)) {
    // The queue takes the id its inode was given at lookup.
    const uint64_t id = decoded ? decoded->first : tree_.reserve_id();
    auto created =
        create_queue(tree_.unused_anonymous_name(id), *fuse_req_ctx(request), 0700, true, id);
    if (!created) {
      fuse_reply_err(request, created.error());
      return;
    }
    queue = std::move(*created);
    kind = FileKind::clone;
  } else {
    queue = decoded ? tree_.find(decoded->first) : nullptr;
    if (queue == nullptr || decoded->second == FileKind::directory) {
      fuse_reply_err(request, queue == nullptr ? ENOENT : EISDIR);
      return;
    }
    kind = decoded->second;
  }

  const uint64_t handle = next_file_handle_++;
  try {
    auto file = std::make_unique<OpenFile>(queue, kind);
    // A kqueue is its opener's: a forked child cannot use it (BSD).
    if (kind == FileKind::clone) file->owner = process_of_thread(fuse_req_ctx(request)->pid);
    const fuse_ctx& opener = *fuse_req_ctx(request);
    if (is_changes(kind)) {
      file->opener = credentials_of_request(opener.pid, opener.uid, opener.gid);
    }
    if (kind == FileKind::status) {
      queue->engine->sweep();
      // The knotes (and their udata) are for those who may change them: the
      // owner (who may chmod), and those the mode lets write changes.
      const Credentials reader =
          with_groups(credentials_of_request(opener.pid, opener.uid, opener.gid));
      const bool may_change =
          reader.uid == queue->uid || permits(reader, queue->uid, queue->gid, queue->mode, W_OK);
      file->status_text = status_of(*queue, may_change);
    }
    open_files_.emplace(handle, std::move(file));
  } catch (...) {
    // Out of memory (say): a queue made for this handle goes with it.
    if (kind == FileKind::clone) remove_queue(*queue);
    throw;
  }
  ++queue->open_handles;  // counted once the handle is there to release it

  info.fh = handle;
  info.direct_io = 1;  // no page cache: every read and write reaches the daemon
  // Streams have no file position, so threads sharing one descriptor do not
  // queue on its lock (FOPEN_STREAM). The text events file and status stay
  // seekable: GNU head lseeks back after its line and complains on a
  // regular file that refuses; reads of events go on from the queue
  // (see rewind()).
  // close() matters to changes files only: an unfinished line or record.
  uint32_t flags = is_changes(kind) ? 0 : FOPEN_NOFLUSH;
  if (kind != FileKind::events && kind != FileKind::status) flags |= FOPEN_STREAM;
  if (reply_open_with(request, info, flags) != 0) {
    // The opener is gone: undo, as release will never come.
    fuse_file_info undo{};
    undo.fh = handle;
    release(nullptr, undo);
  }
}

OpenFile* Filesystem::file_of(const fuse_file_info& info) const {
  const auto found = open_files_.find(info.fh);
  return found == open_files_.end() ? nullptr : found->second.get();
}

// The open file for a read, write or poll, or null with `error` set
// (EBADF): a kqueue handle answers only the process that opened it.
OpenFile* Filesystem::usable_file(fuse_req_t request, const fuse_file_info& info,
                                  int& error) const {
  error = EBADF;
  OpenFile* file = file_of(info);
  if (file == nullptr || file->kind != FileKind::clone) return file;
  error = sent_by_error(request, file->owner);
  return error == 0 ? file : nullptr;
}

void Filesystem::release(fuse_req_t request, fuse_file_info& info) {
  const auto found = open_files_.find(info.fh);
  if (found != open_files_.end()) {
    OpenFile& file = *found->second;
    QueueNode& queue = *file.queue;
    if (file.poll != nullptr) {
      fuse_pollhandle_destroy(file.poll);
      queue.pollers.erase(&file);
    }
    users_.rebuffer(file.buffered_by, file.buffered, 0);
    const auto keep = file.queue;
    open_files_.erase(found);
    // An anonymous queue lives while some handle to it is open.
    if (--queue.open_handles == 0 && queue.anonymous && !queue.removed()) remove_queue(queue);
  }
  if (request != nullptr) fuse_reply_err(request, 0);
}

void Filesystem::flush(fuse_req_t request, fuse_file_info& info) {
  OpenFile* file = file_of(info);
  if (file == nullptr || !file->changes.has_unfinished() || file->queue->removed()) {
    fuse_reply_err(request, 0);
    return;
  }
  // Every close of a copy flushes (a child that inherited the descriptor
  // and exits, close(dup(fd))): only the writer's own close ends its line.
  if (!sent_by(request, file->unfinished_by)) {
    fuse_reply_err(request, 0);
    return;
  }
  QueueNode& queue = *file->queue;
  const std::string fragment =
      format_of(file->kind) == kqfs::codec::Format::binary
          ? std::to_string(file->changes.unfinished().size()) + " bytes of a binary record"
          : quoted_fragment(file->changes.unfinished());
  // A writer killed mid-line never meant what it wrote so far.
  if (const auto signal = killing_signal(fuse_req_ctx(request)->pid)) {
    file->changes.discard();
    queue.last_fragment =
        std::string("discarded: writer killed by SIG") + ::sigabbrev_np(*signal) + ": " + fragment;
    log_.info("queue " + queue.name + ": unfinished line " + queue.last_fragment);
    fuse_reply_err(request, 0);
    return;
  }
  const auto outcome = apply_changes(queue, *file, {}, true, request);
  account_buffered(*file, file->buffered_by);
  queue.last_fragment =
      (outcome.error == 0 ? "applied at close: " : "rejected at close (see last-error): ") +
      fragment;
  fuse_reply_err(request, outcome.error);
  serve(queue);
}

// ------------------------------------------------------------------ changes

bool Filesystem::account_buffered(OpenFile& file, uid_t writer) {
  const size_t kept = file.changes.unfinished_size();
  if (file.buffered_by != writer && file.buffered > 0) {
    users_.rebuffer(file.buffered_by, file.buffered, 0);
    file.buffered = 0;
  }
  file.buffered_by = writer;
  if (users_.rebuffer(writer, file.buffered, kept)) {
    file.buffered = kept;
    return true;
  }
  return false;
}

kqfs::Result<std::shared_ptr<ProcessResolver>> Filesystem::caller_of(fuse_req_t request) {
  bool created = false;
  const fuse_ctx& context = *fuse_req_ctx(request);
  auto caller = processes_->of_thread(context.pid, created);
  if (caller) {
    (*caller)->serve_as(credentials_of_request(context.pid, context.uid, context.gid));
  }
  if (caller && created) {
    const pid_t pid = (*caller)->pid();
    auto watch = loop_.try_watch((*caller)->pidfd(), EPOLLIN,
                                 [this, pid](uint32_t) { on_process_exit(pid); });
    if (!watch) {
      processes_->erase(pid);
      return kqfs::Errno{watch.error()};
    }
    process_watches_[pid] = *watch;
  }
  return caller;
}

kqfs::codec::WriteOutcome Filesystem::apply_changes(QueueNode& queue, OpenFile& file,
                                                    std::string_view bytes, bool finishing,
                                                    fuse_req_t request) {
  const fuse_ctx& context = *fuse_req_ctx(request);
  const Credentials writer_credentials =
      credentials_of_request(context.pid, context.uid, context.gid);
  // The writer's process is looked up only for a record that asks something
  // of it: timers and user events work even when the daemon has no
  // descriptor left to reach a process with.
  std::optional<kqfs::Result<std::shared_ptr<ProcessResolver>>> writer;
  const kqfs::codec::ApplyRecord apply = [&](const kqfs::Kevent& change, std::string& why) {
    if (const int refused = writer_may_apply(queue.engine->tied_to_caller(change.filter),
                                             file.opener, writer_credentials, why);
        refused != 0) {
      return refused;
    }
    kqfs::Caller caller = no_caller_;
    if (queue.engine->uses_caller(change.filter)) {
      if (!writer) writer = caller_of(request);
      if (!*writer) {
        why = "cannot reach the writing process: " +
              (processes_->failure().empty() ? short_of(writer->error()) : processes_->failure());
        return writer->error();
      }
      caller = writer->value();
    }
    const bool had_signals = queue.engine->knote_count(EVFILT_SIGNAL) > 0;
    const int error = queue.engine->apply(change, caller, &why);
    // The refusal is described next, which takes memory of its own.
    if (error == ENOMEM) memory_reserve_.release();
    if (error == 0) ++queue.changes_applied;
    if (error == 0 && !had_signals && queue.engine->knote_count(EVFILT_SIGNAL) > 0) {
      queue.signals_lost_before = signal_tracer_->lost();
    }
    if ((error == EMFILE || error == ENFILE || error == ENOMEM) && why.empty()) {
      why = short_of(error);
    }
    return error;
  };
  kqfs::codec::WriteOutcome outcome;
  try {
    outcome = finishing ? file.changes.finish(apply) : file.changes.write(bytes, apply);
  } catch (const std::bad_alloc&) {
    // Short of memory outside the engine (parsing, describing a refusal):
    // the write is refused as a whole, and says why.
    memory_reserve_.release();
    outcome = kqfs::codec::WriteOutcome{0, ENOMEM, short_of(ENOMEM)};
  }
  if (outcome.error != 0) reject(queue, outcome.reason);
  return outcome;
}

// Any writer can make rejections: the log gets a few per queue at most.
void Filesystem::reject(QueueNode& queue, const std::string& reason) {
  queue.last_error = reason;
  if (rejections_.allow(queue.name)) log_.info("queue " + queue.name + ": rejected " + reason);
}

void Filesystem::write(fuse_req_t request, const char* data, size_t size, fuse_file_info& info) {
  int unusable = 0;
  OpenFile* file = usable_file(request, info, unusable);
  if (file == nullptr || !is_changes(file->kind)) {
    fuse_reply_err(request, file == nullptr ? unusable : EBADF);
    return;
  }
  QueueNode& queue = *file->queue;
  if (queue.removed()) {
    fuse_reply_err(request, ENOENT);
    return;
  }
  auto outcome = apply_changes(queue, *file, std::string_view(data, size), false, request);
  file->unfinished_by =
      file->changes.has_unfinished() ? process_of_thread(fuse_req_ctx(request)->pid) : 0;
  const uid_t writer = fuse_req_ctx(request)->uid;
  if (outcome.error == 0 && !account_buffered(*file, writer)) {
    // The records before the kept bytes stand; the kept bytes are refused.
    outcome.accepted = size - std::min(size, file->changes.unfinished_size() - file->buffered);
    file->changes.drop_unfinished_tail(file->changes.unfinished_size() - file->buffered);
    outcome.error = ENOSPC;
    reject(queue, "uid " + std::to_string(writer) + " holds its limit of " +
                      std::to_string(users_.limits().buffered_bytes) +
                      " bytes of unfinished lines");
  }
  if (outcome.error != 0 && outcome.accepted == 0) {
    fuse_reply_err(request, outcome.error);
  } else {
    fuse_reply_write(request, outcome.accepted);
  }
  serve(queue);
}

// ------------------------------------------------------------------- events

// Answers a read if events (or the rest of an earlier record) are there.
// Events are taken only for a reply that is sent right away.
bool Filesystem::try_answer(QueueNode& queue, const Waiter& read, OpenFile& file) {
  std::string reply;
  if (file.events.has_leftover()) {
    reply = file.events.read(read.size, {});
  } else {
    std::vector<kqfs::Kevent> events(file.events.wanted(read.size));
    events.resize(queue.engine->collect(events));
    if (events.empty()) return false;
    queue.events_delivered += events.size();
    reply = file.events.read(read.size, events);
  }
  if (file.kind == FileKind::events) {
    file.position = read.offset + static_cast<off_t>(reply.size());
    file.last_reply = reply;
  }
  fuse_reply_buf(read.request, reply.data(), reply.size());
  return true;
}

// A reader of the text events file that seeked back into its last reply
// (bash reads ahead on a seekable file, then seeks back to the end of
// what it used) gets those bytes again.
void Filesystem::rewind(OpenFile& file, off_t offset) {
  if (offset >= file.position) return;
  const auto back = static_cast<uint64_t>(file.position - offset);
  if (back > file.last_reply.size()) return;
  file.events.unread(std::string_view(file.last_reply).substr(file.last_reply.size() - back));
  file.last_reply.resize(file.last_reply.size() - back);
  file.position = offset;
}

void Filesystem::read(fuse_req_t request, size_t size, off_t offset, fuse_file_info& info) {
  int unusable = 0;
  OpenFile* file = usable_file(request, info, unusable);
  if (file == nullptr) {
    fuse_reply_err(request, unusable);
    return;
  }
  if (file->kind == FileKind::status) {
    const size_t start = std::min(static_cast<size_t>(offset), file->status_text.size());
    const size_t length = std::min(size, file->status_text.size() - start);
    fuse_reply_buf(request, file->status_text.data() + start, length);
    return;
  }
  if (!is_events(file->kind)) {
    fuse_reply_err(request, EBADF);
    return;
  }
  QueueNode& queue = *file->queue;
  if (queue.removed() || size == 0) {
    fuse_reply_buf(request, nullptr, 0);
    return;
  }
  if (format_of(file->kind) == kqfs::codec::Format::binary &&
      size < kqfs::codec::kBinaryRecordSize) {
    fuse_reply_err(request, EINVAL);
    return;
  }
  if (file->kind == FileKind::events) rewind(*file, offset);
  const Waiter read{request, size, offset, file, queue.id};
  // Readers already waiting come first.
  if (queue.waiters.empty() && try_answer(queue, read, *file)) return;
  if (info.flags & O_NONBLOCK) {
    fuse_reply_err(request, EAGAIN);
    return;
  }
  Waiter& waiter = queue.waiters.emplace_back(read);
  fuse_req_interrupt_func(request, Operations::interrupted, &waiter);
  answer_interrupted();  // the signal may have come before the request was parked
}

void Filesystem::answer_interrupted() {
  for (const uint64_t id : queues_with_interrupts_) {
    const auto queue = tree_.find(id);
    if (queue == nullptr) continue;
    for (auto it = queue->waiters.begin(); it != queue->waiters.end();) {
      if (it->interrupted) {
        fuse_reply_err(it->request, EINTR);
        it = queue->waiters.erase(it);
      } else {
        ++it;
      }
    }
  }
  queues_with_interrupts_.clear();
}

void Filesystem::serve(QueueNode& queue) {
  if (queue.removed()) return;
  while (!queue.waiters.empty()) {
    Waiter& waiter = queue.waiters.front();
    if (waiter.interrupted) {
      fuse_reply_err(waiter.request, EINTR);
    } else if (!try_answer(queue, waiter, *waiter.file)) {
      break;
    }
    queue.waiters.pop_front();
  }
  if (queue.engine->pending() > 0) notify_pollers(queue);
}

void Filesystem::notify_pollers(QueueNode& queue) {
  for (OpenFile* file : queue.pollers) {
    fuse_lowlevel_notify_poll(file->poll);
    fuse_pollhandle_destroy(file->poll);
    file->poll = nullptr;
  }
  queue.pollers.clear();
}

void Filesystem::poll(fuse_req_t request, fuse_file_info& info, fuse_pollhandle* handle) {
  int unusable = 0;
  OpenFile* file = usable_file(request, info, unusable);
  if (file == nullptr) {
    if (handle != nullptr) fuse_pollhandle_destroy(handle);
    fuse_reply_err(request, unusable);
    return;
  }
  QueueNode& queue = *file->queue;
  unsigned revents = 0;
  if (queue.removed()) {
    revents = POLLIN | POLLRDNORM | POLLHUP;
  } else {
    if (is_events(file->kind)) {
      queue.engine->drain_sources();
      if (queue.engine->pending() > 0 || file->events.has_leftover()) {
        revents |= POLLIN | POLLRDNORM;
      }
    }
    if (is_changes(file->kind)) revents |= POLLOUT | POLLWRNORM;
    if (file->kind == FileKind::status) revents |= POLLIN | POLLRDNORM;
  }
  if (handle != nullptr) {
    // Kept to notify when readiness comes later; what is ready now is in
    // this reply (notifying as well would wake edge-triggered users twice).
    if (file->poll != nullptr) fuse_pollhandle_destroy(file->poll);
    file->poll = handle;
    queue.pollers.insert(file);
  }
  fuse_reply_poll(request, revents);
}

void Filesystem::on_queue_ready(QueueNode& queue) {
  if (queue.removed()) return;
  // Waiting readers collect, which takes in the kernel's news itself (a
  // pass before would look at every descriptor twice); what no reader took
  // in is taken in after, usually with nothing left to look at.
  serve(queue);
  queue.engine->drain_sources();
  if (queue.engine->pending() > 0) notify_pollers(queue);
}

// ------------------------------------------------------------------ upkeep

void Filesystem::on_process_exit(pid_t pid) {
  if (const auto watch = process_watches_.find(pid); watch != process_watches_.end()) {
    loop_.unwatch(watch->second);
    process_watches_.erase(watch);
  }
  // BSD drops a process's descriptor knotes when it exits.
  if (const auto process = processes_->find(pid)) {
    for (const auto& [name, queue] : tree_.by_name()) {
      if (!queue->removed()) queue->engine->forget(*process);
    }
  }
  processes_->erase(pid);
}

// Nesting: a kqueue handle or an events file stands for its queue.
const kqfs::Kqueue* Filesystem::queue_of(uint64_t inode) const {
  const auto decoded = decode_inode(inode);
  if (!decoded || !(decoded->second == FileKind::clone || is_events(decoded->second))) {
    return nullptr;
  }
  const auto queue = tree_.find(decoded->first);
  return queue != nullptr && !queue->removed() ? queue->engine.get() : nullptr;
}

void Filesystem::sweep_all() {
  // Taken again once memory allows (it went at an allocation that failed).
  memory_reserve_.refill();
  for (const auto& [name, queue] : tree_.by_name()) {
    if (!queue->removed()) queue->engine->sweep();
  }
  log_lost_signals();
  rejections_.flush([this](const std::string& queue, uint64_t held_back) {
    log_.info("queue " + queue + ": suppressed " + std::to_string(held_back) +
              " more rejected records");
  });
  refusals_.flush([this](const std::string& user, uint64_t held_back) {
    log_.info(user + ": suppressed " + std::to_string(held_back) + " more refused queues");
  });
}

// Signals the shared trace buffer lost (it filled before the daemon read
// it): one line per window at most, with the count since the last line.
void Filesystem::log_lost_signals() {
  const uint64_t lost = signal_tracer_->lost();
  signal_losses_.flush([](const std::string&, uint64_t) {});  // the next line has the count
  if (lost == signals_lost_logged_ || !signal_losses_.allow("signals")) return;
  log_.info("signal tracing lost " + std::to_string(lost - signals_lost_logged_) + " signals (" +
            std::to_string(lost) + " since start): the trace buffer of " +
            std::to_string(options_.signal_buffer_kb) +
            " KiB per CPU filled before kqfsd read it (--signal-buffer-kb)");
  signals_lost_logged_ = lost;
}

std::string Filesystem::status_of(QueueNode& queue, bool with_knotes) const {
  const kqfs::Kqueue& engine = *queue.engine;
  std::string text;
  auto line = [&text](std::string_view key, const std::string& value) {
    text.append(key).append(": ").append(value).append("\n");
  };
  line("name", queue.name);
  line("owner", std::to_string(queue.uid) + ":" + std::to_string(queue.gid));
  line("mode", mode_text(queue.mode));
  line("anonymous", queue.anonymous ? "yes" : "no");
  line("knotes", std::to_string(engine.knote_count()));
  kqfs::for_each_available_filter([&](const kqfs::FilterRow& row) {
    line("knotes." + std::string(row.short_name), std::to_string(engine.knote_count(row.id)));
  });
  line("pending", std::to_string(engine.pending()));
  line("readers", std::to_string(queue.waiters.size()));
  line("delivered", std::to_string(queue.events_delivered));
  line("changes", std::to_string(queue.changes_applied));
  line("last-error", queue.last_error.empty() ? "none" : queue.last_error);
  line("last-fragment", queue.last_fragment.empty() ? "none" : queue.last_fragment);
  // Lost signals are not known by queue: every queue counting signals
  // since before the loss may be short of some.
  if (engine.knote_count(EVFILT_SIGNAL) > 0) {
    line("signals-lost", std::to_string(signal_tracer_->lost() - queue.signals_lost_before));
  }
  // Knotes and their udata: only for those who may change them.
  if (!with_knotes) return text;
  // The registered knotes as text change records, a bounded number of them:
  // status is read whole at open.
  constexpr size_t kListed = 1000;
  for (const kqfs::Kevent& registration : engine.registrations(kListed)) {
    std::string record = kqfs::codec::format_text(registration);
    record.pop_back();  // its newline
    line("knote", record);
  }
  if (engine.knote_count() > kListed) {
    line("knotes-unlisted", std::to_string(engine.knote_count() - kListed));
  }
  return text;
}

}  // namespace kqfsd
