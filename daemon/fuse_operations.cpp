// The low-level operations table handed to libfuse: each trampoline turns
// its request into a call of the Filesystem's parts with a FuseReply, inside
// the one exception boundary.
#include <fcntl.h>
#include <linux/fuse.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <system_error>

#include "daemon/fuse_channel.hpp"

namespace kqfsd {
namespace {

constexpr double kNoCaching = 0.0;  // queues come and go: the kernel asks each time

SessionData& session_of(fuse_req_t request) {
  return *static_cast<SessionData*>(fuse_req_userdata(request));
}

Filesystem& owner_of(fuse_req_t request) {
  return *static_cast<Filesystem*>(session_of(request).owner);
}

Requester requester_of(fuse_req_t request) {
  const fuse_ctx& context = *fuse_req_ctx(request);
  return Requester{context.pid, context.uid, context.gid};
}

// A poll handle, destroyed with its owner.
class PollHandle final : public PollWaker {
 public:
  struct Destroy {
    void operator()(fuse_pollhandle* handle) const { fuse_pollhandle_destroy(handle); }
  };
  using Owned = std::unique_ptr<fuse_pollhandle, Destroy>;

  explicit PollHandle(Owned handle) : handle_(std::move(handle)) {}
  void wake() override { fuse_lowlevel_notify_poll(handle_.get()); }

 private:
  Owned handle_;
};

// Answers one request through libfuse.
class FuseReply final : public Reply {
 public:
  explicit FuseReply(fuse_req_t request, fuse_file_info* info = nullptr)
      : request_(request), info_(info) {}

  void error(int error) override { fuse_reply_err(request_, error); }
  void data(std::string_view bytes) override {
    fuse_reply_buf(request_, bytes.data(), bytes.size());
  }
  void written(size_t count) override { fuse_reply_write(request_, count); }
  void entry(const struct stat& attributes) override {
    fuse_entry_param entry{};
    entry.ino = attributes.st_ino;
    entry.attr = attributes;
    entry.attr_timeout = kNoCaching;
    entry.entry_timeout = kNoCaching;
    fuse_reply_entry(request_, &entry);
  }
  void attributes(const struct stat& attributes) override {
    fuse_reply_attr(request_, &attributes, kNoCaching);
  }
  void directory(std::span<const DirectoryEntry> entries, size_t size, off_t offset) override {
    std::string reply(size, '\0');
    size_t used = 0;
    for (size_t i = static_cast<size_t>(offset); i < entries.size(); ++i) {
      struct stat st {};
      st.st_ino = entries[i].inode;
      st.st_mode = entries[i].type;
      const size_t length =
          fuse_add_direntry(request_, reply.data() + used, size - used, entries[i].name.c_str(),
                            &st, static_cast<off_t>(i + 1));
      if (length > size - used) break;
      used += length;
    }
    fuse_reply_buf(request_, reply.data(), used);
  }
  bool opened(uint64_t handle, uint32_t flags) override {
    fuse_file_info info = info_ != nullptr ? *info_ : fuse_file_info{};
    info.fh = handle;
    info.direct_io = (flags & kDirectIo) != 0;
    uint32_t open_flags = 0;
    if (flags & kStream) open_flags |= FOPEN_STREAM;
    if (flags & kNoFlush) open_flags |= FOPEN_NOFLUSH;
    return reply_open_with(request_, info, open_flags) == 0;
  }
  void poll(unsigned revents) override { fuse_reply_poll(request_, revents); }
  void ioctl(std::string_view out) override {
    fuse_reply_ioctl(request_, 0, out.data(), out.size());
  }

  // libfuse runs the callback inside its handling of an INTERRUPT.
  void on_interrupt(std::function<void()> interrupted) override {
    interrupted_ = std::move(interrupted);
    fuse_req_interrupt_func(request_, &FuseReply::interrupt, this);
  }

 private:
  static void interrupt(fuse_req_t, void* data) noexcept {
    static_cast<FuseReply*>(data)->interrupted_();
  }

  fuse_req_t request_;
  fuse_file_info* info_;
  std::function<void()> interrupted_;
};

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
  const SessionData& session = session_of(request);
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

void lookup(fuse_req_t r, fuse_ino_t parent, const char* name) {
  guarded(r, "lookup", [&](Filesystem& fs) {
    trace(fs, r, "lookup", parent, name);
    FuseReply reply(r);
    fs.tree_operations().lookup(parent, name, reply);
  });
}

void getattr(fuse_req_t r, fuse_ino_t inode, fuse_file_info*) {
  guarded(r, "getattr", [&](Filesystem& fs) {
    trace(fs, r, "getattr", inode);
    FuseReply reply(r);
    fs.tree_operations().getattr(inode, reply);
  });
}

void setattr(fuse_req_t r, fuse_ino_t inode, struct stat* attributes, int to_set, fuse_file_info*) {
  guarded(r, "setattr", [&](Filesystem& fs) {
    trace(fs, r, "setattr", inode);
    AttributeChange change;
    if (to_set & FUSE_SET_ATTR_SIZE) change.size = attributes->st_size;
    if (to_set & FUSE_SET_ATTR_UID) change.uid = attributes->st_uid;
    if (to_set & FUSE_SET_ATTR_GID) change.gid = attributes->st_gid;
    if (to_set & FUSE_SET_ATTR_MODE) change.mode = attributes->st_mode;
    FuseReply reply(r);
    fs.tree_operations().setattr(requester_of(r), inode, change, reply);
  });
}

void readdir(fuse_req_t r, fuse_ino_t inode, size_t size, off_t offset, fuse_file_info*) {
  guarded(r, "readdir", [&](Filesystem& fs) {
    trace(fs, r, "readdir", inode);
    FuseReply reply(r);
    fs.tree_operations().readdir(inode, size, offset, reply);
  });
}

void mkdir(fuse_req_t r, fuse_ino_t parent, const char* name, mode_t mode) {
  guarded(r, "mkdir", [&](Filesystem& fs) {
    trace(fs, r, "mkdir", name);
    FuseReply reply(r);
    fs.tree_operations().mkdir(requester_of(r), parent, name, mode, reply);
  });
}

void rmdir(fuse_req_t r, fuse_ino_t parent, const char* name) {
  guarded(r, "rmdir", [&](Filesystem& fs) {
    trace(fs, r, "rmdir", name);
    FuseReply reply(r);
    fs.tree_operations().rmdir(parent, name, reply);
  });
}

void open(fuse_req_t r, fuse_ino_t inode, fuse_file_info* info) {
  guarded(r, "open", [&](Filesystem& fs) {
    trace(fs, r, "open", inode);
    FuseReply reply(r, info);
    fs.files().open(requester_of(r), inode, reply);
  });
}

void release(fuse_req_t r, fuse_ino_t, fuse_file_info* info) {
  guarded(r, "release", [&](Filesystem& fs) {
    trace(fs, r, "release", info->fh);
    FuseReply reply(r);
    fs.files().release(info->fh, &reply);
  });
}

void flush(fuse_req_t r, fuse_ino_t, fuse_file_info* info) {
  guarded(r, "flush", [&](Filesystem& fs) {
    trace(fs, r, "flush", info->fh);
    FuseReply reply(r);
    fs.files().flush(requester_of(r), info->fh, reply);
  });
}

void read(fuse_req_t r, fuse_ino_t, size_t size, off_t offset, fuse_file_info* info) {
  guarded(r, "read", [&](Filesystem& fs) {
    trace(fs, r, "read", info->fh, size);
    if (fs.ties().serves(info->fh)) {
      FuseReply reply(r);
      fs.ties().read(requester_of(r), info->fh, size, std::max<off_t>(offset, 0), reply);
      return;
    }
    fs.events().read(requester_of(r), info->fh, size, std::max<off_t>(offset, 0),
                     (info->flags & O_NONBLOCK) != 0, std::make_unique<FuseReply>(r));
  });
}

void write(fuse_req_t r, fuse_ino_t, const char* data, size_t size, off_t, fuse_file_info* info) {
  guarded(r, "write", [&](Filesystem& fs) {
    trace(fs, r, "write", info->fh, size);
    FuseReply reply(r);
    if (fs.ties().serves(info->fh)) {
      fs.ties().write(requester_of(r), info->fh, std::string_view(data, size), reply);
      return;
    }
    fs.changes().write(requester_of(r), info->fh, std::string_view(data, size), reply);
  });
}

void poll(fuse_req_t r, fuse_ino_t, fuse_file_info* info, fuse_pollhandle* handle) {
  PollHandle::Owned owned(handle);  // destroyed here unless kept
  guarded(r, "poll", [&](Filesystem& fs) {
    trace(fs, r, "poll", info->fh);
    std::unique_ptr<PollWaker> waker;
    if (owned != nullptr) waker = std::make_unique<PollHandle>(std::move(owned));
    FuseReply reply(r);
    fs.events().poll(requester_of(r), info->fh, std::move(waker), reply);
  });
}

void ioctl(fuse_req_t r, fuse_ino_t inode, unsigned int command, void*, fuse_file_info* info,
           unsigned flags, const void* in, size_t in_size, size_t out_size) {
  guarded(r, "ioctl", [&](Filesystem& fs) {
    trace(fs, r, "ioctl", info->fh, in_size);
    if (flags & FUSE_IOCTL_COMPAT) {  // a 32-bit caller: struct kevent differs
      fuse_reply_err(r, ENOTTY);
      return;
    }
    fs.calls().call(requester_of(r), info->fh, inode, command,
                    std::string_view(static_cast<const char*>(in), in_size), out_size,
                    std::make_unique<FuseReply>(r));
  });
}

// Plain files, links and renames have no place in the tree.
void refuse_create(fuse_req_t r, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
  fuse_reply_err(r, EPERM);
}
void refuse_mknod(fuse_req_t r, fuse_ino_t, const char*, mode_t, dev_t) {
  fuse_reply_err(r, EPERM);
}
void refuse_unlink(fuse_req_t r, fuse_ino_t, const char*) {
  fuse_reply_err(r, EPERM);
}
void refuse_symlink(fuse_req_t r, const char*, fuse_ino_t, const char*) {
  fuse_reply_err(r, EPERM);
}
void refuse_link(fuse_req_t r, fuse_ino_t, fuse_ino_t, const char*) {
  fuse_reply_err(r, EPERM);
}
void refuse_rename(fuse_req_t r, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned int) {
  fuse_reply_err(r, EPERM);
}

}  // namespace

fuse_lowlevel_ops fuse_operations() {
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
  ops.ioctl = ioctl;
  ops.create = refuse_create;
  ops.mknod = refuse_mknod;
  ops.unlink = refuse_unlink;
  ops.symlink = refuse_symlink;
  ops.link = refuse_link;
  ops.rename = refuse_rename;
  return ops;
}

}  // namespace kqfsd
