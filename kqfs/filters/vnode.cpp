// EVFILT_VNODE: what happens to a file or directory, from the queue's one
// inotify instance. inotify says less than FreeBSD's VFS hooks, so some
// notes are derived: NOTE_DELETE from the link count falling, NOTE_EXTEND
// from the size growing, NOTE_LINK from the link count rising (files) or a
// subdirectory coming or going (directories). Each change is posted as
// FreeBSD posts it, one hint of one or more notes, and taken whole
// (docs/semantics.md#evfilt_vnode).
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "kqfs/filter_table.hpp"
#include "kqfs/filters/descriptor.hpp"
#include "kqfs/linux/file_events.hpp"
#include "kqfs/linux/procfs.hpp"

namespace kqfs {
namespace {

constexpr uint32_t kEntryChanges = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO;

std::optional<struct stat> stat_of(const Caller& caller, uint64_t ident) {
  auto borrowed = caller->borrow(static_cast<int>(ident));
  struct stat st {};
  if (!borrowed || ::fstat(borrowed->get(), &st) != 0) return std::nullopt;
  return st;
}

// Pipes, and kernel objects with no file behind them (a kqueue, epoll,
// eventfd, timerfd): not vnodes on BSD either.
bool without_vnode(int fd) {
  const auto target = procfs::read_link(procfs::fd_path(0, fd));
  if (!target) return false;
  const std::string_view name = target.value();
  return name.starts_with("pipe:") || name.starts_with("anon_inode:");
}

// The mount id in our fdinfo of `fd` (no request reaches the file's
// filesystem), or 0.
unsigned long long mount_id(int fd) {
  const auto info = procfs::read_file(procfs::fdinfo_path(0, fd));
  if (!info) return 0;
  return static_cast<unsigned long long>(procfs::number_of(info.value(), "mnt_id:").value_or(0));
}

// The parent of directory `fd`, when on the same mount: a mount's root
// cannot be removed, so its parent says nothing, and may be on a
// filesystem (FUSE) whose server could stall the daemon. Opened as a path
// only, which asks no filesystem server anything.
UniqueFd same_mount_parent(int fd) {
  const std::string path = procfs::fd_path(0, fd) + "/..";
  UniqueFd parent(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!parent || mount_id(parent.get()) != mount_id(fd) || mount_id(fd) == 0) return {};
  return parent;
}

bool same_time(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// What inotify must report for the notes asked for.
uint32_t inotify_mask(uint32_t notes, bool directory) {
  uint32_t mask = IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
  mask |= directory ? kEntryChanges : IN_MODIFY;
  if (notes & NOTE_OPEN) mask |= IN_OPEN;
  if (notes & NOTE_CLOSE) mask |= IN_CLOSE_NOWRITE;
  if (notes & NOTE_CLOSE_WRITE) mask |= IN_CLOSE_WRITE;
  if (notes & NOTE_READ) mask |= IN_ACCESS;
  return mask;
}

struct VnodeKnote final : Knote, FileEvents::Subscriber {
  VnodeKnote(const Kevent& change, FilterHost& host, FileEvents& files, Caller caller,
             const struct stat& st, const FileIdentity& identity)
      : Knote(change),
        host(host),
        files(files),
        caller(std::move(caller)),
        identity(identity),
        directory(S_ISDIR(st.st_mode)),
        last(st) {}

  void on_file_event(const FileEvent& event) override;
  void take_hints(const FileEvent& event);
  // FreeBSD's filt_vnode: a knote that asked for any note of a hint takes
  // the whole hint (an extending write gives NOTE_WRITE|NOTE_EXTEND to a
  // knote that asked for either).
  void take(uint32_t hint) {
    if (sfflags & hint) fflags |= hint;
  }
  int subscribe(int fd);
  void subscribe_parent(int fd);
  void unsubscribe();

  FilterHost& host;
  FileEvents& files;
  const Caller caller;
  const FileIdentity identity;
  const bool directory;
  // What inotify cannot say is read from the inode: the last look at it.
  // Each event updates only what it is about, since a later change may
  // already show when an earlier event is handled.
  struct stat last;
  FileWatch watch;
  // A directory also watches its parent: rmdir of a directory that is still
  // open tells the directory itself nothing until its last close. For "/",
  // its own parent, both name one watch: unsubscribing twice is harmless.
  FileWatch parent_watch;
};

int VnodeKnote::subscribe(int fd) {
  auto self = files.watch(fd, inotify_mask(sfflags, directory), *this);
  if (!self) return self.error();
  watch = std::move(*self);
  if (directory) subscribe_parent(fd);
  return 0;
}

void VnodeKnote::subscribe_parent(int fd) {
  const UniqueFd parent = same_mount_parent(fd);
  if (!parent) return;
  if (auto watched = files.watch(parent.get(), IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR, *this)) {
    parent_watch = std::move(*watched);
  }
}

void VnodeKnote::unsubscribe() {
  // "/" is its own parent: one watch, unsubscribed once.
  if (parent_watch.get() == watch.get()) parent_watch.release();
  watch.reset();
  parent_watch.reset();
}

// The FreeBSD hints an inotify event stands for (FreeBSD's VOP post hooks).
void VnodeKnote::take_hints(const FileEvent& event) {
  const uint32_t mask = event.mask;
  if (event.watch == parent_watch.get()) {
    // An entry of the parent went: was it this directory?
    if (event.about_entry && (mask & IN_ISDIR)) {
      if (auto st = stat_of(caller, ident); st && st->st_nlink == 0) take(NOTE_DELETE);
    }
    return;
  }
  if (event.about_entry) {  // a directory's entries (its own events carry no name)
    // Subdirectories change the link count (their ".."), except when one
    // is only renamed within this directory.
    const uint32_t link = (mask & IN_ISDIR) ? NOTE_LINK : 0;
    if (mask & (IN_CREATE | IN_DELETE)) take(NOTE_WRITE | link);
    const bool moved_from = mask & IN_MOVED_FROM;
    const bool moved_to = mask & IN_MOVED_TO;
    if (moved_from && moved_to) take(NOTE_WRITE);
    if (moved_from != moved_to) take(NOTE_WRITE | NOTE_EXTEND | link);  // into or out of it
    return;
  }

  if (mask & IN_DELETE_SELF) take(NOTE_DELETE);
  if (mask & IN_MOVE_SELF) take(NOTE_RENAME);
  if (mask & IN_OPEN) take(NOTE_OPEN);
  if (mask & IN_CLOSE_NOWRITE) take(NOTE_CLOSE);
  if (mask & IN_CLOSE_WRITE) take(NOTE_CLOSE_WRITE);
  if (mask & IN_ACCESS) take(NOTE_READ);
  if (mask & (IN_MODIFY | IN_ATTRIB)) {
    if (auto st = stat_of(caller, ident)) {
      if (mask & IN_MODIFY) {
        // A write, one hint: NOTE_WRITE, with NOTE_EXTEND when it grew the
        // file. A shrink is a truncation, which FreeBSD reports as an
        // attribute change.
        if (st->st_size > last.st_size) take(NOTE_WRITE | NOTE_EXTEND);
        if (st->st_size == last.st_size) take(NOTE_WRITE);
        if (st->st_size < last.st_size) take(NOTE_ATTRIB);
        last.st_size = st->st_size;
        last.st_mtim = st->st_mtim;
      }
      if (mask & IN_ATTRIB) {
        // inotify merges repeated IN_ATTRIBs, so each kind of change is
        // read off the inode: unlink (even with links left) is NOTE_DELETE,
        // as FreeBSD; link(2) NOTE_LINK; mode, owner or times NOTE_ATTRIB;
        // a change that shows nowhere (xattrs) NOTE_ATTRIB too.
        if (st->st_nlink < last.st_nlink) take(NOTE_DELETE);
        if (st->st_nlink > last.st_nlink) take(NOTE_LINK);
        const bool attributes_changed =
            st->st_mode != last.st_mode || st->st_uid != last.st_uid || st->st_gid != last.st_gid ||
            !same_time(st->st_mtim, last.st_mtim) || !same_time(st->st_atim, last.st_atim);
        if (attributes_changed || st->st_nlink == last.st_nlink) take(NOTE_ATTRIB);
        const off_t size = last.st_size;  // a write's to see: its IN_MODIFY may follow
        last = *st;
        last.st_size = size;
      }
    } else if (mask & IN_MODIFY) {
      take(NOTE_WRITE);
    } else {
      take(NOTE_ATTRIB);
    }
  }
}

void VnodeKnote::on_file_event(const FileEvent& event) {
  if (event.mask & IN_UNMOUNT) {
    // Revoked: reported once, with EV_EOF, whether asked for or not (BSD).
    take(NOTE_REVOKE);
    flags |= EV_EOF | EV_ONESHOT;
  }
  if (event.mask & IN_IGNORED) {
    if (event.watch == watch.get()) watch.release();
    if (event.watch == parent_watch.get()) parent_watch.release();
  }
  if (event.mask & IN_MOVE_SELF && directory && parent_watch) {
    // The parent changed; the next look at it will be through a new watch.
    parent_watch.reset();
    if (auto borrowed = caller->borrow(static_cast<int>(ident))) subscribe_parent(borrowed->get());
  }
  take_hints(event);
  if (fflags != 0 || (flags & EV_EOF)) host.post(*this);
}

class VnodeFilter final : public Filter, public DescriptorOwnership {
 public:
  VnodeFilter(FilterHost& host, FileEvents& files) : host_(host), files_(files) {}

  Ownership* ownership() override { return this; }

  Result<std::unique_ptr<Knote>> attach(const Kevent& change, const Caller& caller) override {
    auto borrowed = caller->borrow(static_cast<int>(change.ident));
    if (!borrowed) return Errno{borrowed.error()};
    struct stat st {};
    if (::fstat(borrowed->get(), &st) != 0) return last_errno();
    // Files, directories, devices and named pipes; not sockets, pipes or
    // kqueues (kqfs's own files stand for their queue here).
    if (borrowed->is_queue() || S_ISSOCK(st.st_mode) || without_vnode(borrowed->get())) {
      return Errno{EINVAL};
    }
    std::string why;
    if (const int error = caller->may_read(borrowed->get(), why); error != 0) {
      host_.explain(std::move(why));
      return Errno{error};
    }
    auto kn = std::make_unique<VnodeKnote>(change, host_, files_, caller, st,
                                           FileIdentity::of(borrowed->get(), st));
    if (const int error = kn->subscribe(borrowed->get()); error != 0) {
      host_.explain("inotify cannot watch it");
      return Errno{error};
    }
    return std::unique_ptr<Knote>(std::move(kn));
  }

  void detach(Knote& kn) override { vnode(kn).unsubscribe(); }

  // The interest may grow: inotify adds to the watch's mask.
  int touch(Knote& kn, const Kevent& change) override {
    VnodeKnote& v = vnode(kn);
    v.sfflags = change.fflags;
    v.sdata = change.data;
    if (v.watch) {
      if (auto borrowed = v.caller->borrow(static_cast<int>(v.ident))) {
        files_.subscribe(borrowed->get(), inotify_mask(v.sfflags, v.directory), v);
      }
    }
    return 0;
  }

  // What happened since the last delivery; data stays 0.
  bool event(Knote& kn) override { return kn.fflags != 0 || (kn.flags & EV_EOF); }

 private:
  static VnodeKnote& vnode(Knote& kn) { return static_cast<VnodeKnote&>(kn); }

  const Caller& registrant(const Knote& kn) const override {
    return static_cast<const VnodeKnote&>(kn).caller;
  }
  // Whether `caller`'s descriptor still names the watched inode.
  bool names_same_file(Knote& kn, const Caller& caller) override {
    auto borrowed = caller->borrow(static_cast<int>(kn.ident));
    return borrowed && FileIdentity::of(borrowed->get()) == vnode(kn).identity;
  }

  FilterHost& host_;
  FileEvents& files_;
};

}  // namespace

std::unique_ptr<Filter> make_vnode_filter(FilterObjects& objects) {
  return std::make_unique<VnodeFilter>(objects.host, objects.files);
}

}  // namespace kqfs
